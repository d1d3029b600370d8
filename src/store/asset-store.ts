/**
 * Content-addressed asset store (DESIGN contract 3):
 *
 *   assets/<key>                       the asset bytes (key = cache key, 64 hex)
 *   assets/<key>.json                  metadata: size, sha256, sha512, content type, created, URLs
 *   by-url/<schematic>/<version>/<path>          symlink to ../../../assets/<key>
 *   by-url/<schematic>/<version>/<path>.sha256   sidecar "<hex>  <path>\n" (also .sha512)
 *   public/image -> ../by-url          so a web server rooted at public/ maps /image/... URLs 1:1
 *
 * Caddy serves hits straight from by-url/ (no JS on the hot path). Assets are written elsewhere
 * (tmp/) and renamed into place only when complete and fsynced, metadata last, so a reader never
 * sees a partial asset. The store is size-bounded: least recently used assets are evicted.
 */
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, open, lstat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { join, relative, dirname } from 'node:path'
import { randomBytes, createHash } from 'node:crypto'
import type { Logger } from '../log.ts'
import { writeFileAtomic } from './atomic-file.ts'

export interface AssetMeta {
  key: string
  size: number
  sha256: string
  sha512: string
  contentType: string
  created: string
  /** by-url paths (relative to by-url/) that link to this asset */
  urls: string[]
}

const KEY_RE = /^[0-9a-f]{64}$/
/** A by-url path segment must be a plain name: no traversal, no hidden files. */
const SEGMENT_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/

export function assertUrlPath(parts: readonly string[]): void {
  for (const p of parts) if (!SEGMENT_RE.test(p) || p.includes('..')) throw new Error(`unsafe asset path segment ${JSON.stringify(p)}`)
}

export class AssetStore {
  readonly assetsDir: string
  readonly byUrlDir: string
  readonly tmpDir: string
  readonly publicDir: string
  private readonly index = new Map<string, { size: number; lastAccess: number }>()
  private total = 0
  private loaded: Promise<void> | undefined

  constructor(
    readonly root: string,
    private readonly opts: { maxBytes: number; log: Logger; staleTempMs?: number },
  ) {
    this.assetsDir = join(root, 'assets')
    this.byUrlDir = join(root, 'by-url')
    this.tmpDir = join(root, 'tmp')
    this.publicDir = join(root, 'public')
  }

  /** Scans existing metadata once (start-up) and clears temp files a crash may have left. */
  init(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.assetsDir, { recursive: true })
      await mkdir(this.byUrlDir, { recursive: true })
      await mkdir(this.publicDir, { recursive: true })
      await symlink('../by-url', join(this.publicDir, 'image')).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err
      })
      // Builders on other nodes may share this directory: only clear temp files nobody has
      // written to for a long time (a crashed build's leftovers), never a running build's.
      await mkdir(this.tmpDir, { recursive: true })
      const staleBefore = Date.now() - (this.opts.staleTempMs ?? 3_600_000)
      for (const name of await readdir(this.tmpDir)) {
        const st = await stat(join(this.tmpDir, name)).catch(() => null)
        if (st && st.mtimeMs < staleBefore) await rm(join(this.tmpDir, name), { recursive: true, force: true })
      }
      for (const name of await readdir(this.assetsDir)) {
        if (name.startsWith('.')) {
          await rm(join(this.assetsDir, name), { force: true })
          continue
        }
        if (!name.endsWith('.json')) continue
        const meta = await this.readMeta(name.slice(0, -5))
        if (!meta) continue
        const st = await stat(this.assetPath(meta.key)).catch(() => null)
        if (!st) continue
        this.index.set(meta.key, { size: meta.size, lastAccess: Math.max(st.atimeMs, Date.parse(meta.created)) })
        this.total += meta.size
      }
    })()
    return this.loaded
  }

  assetPath(key: string): string {
    if (!KEY_RE.test(key)) throw new Error(`malformed asset key ${JSON.stringify(key)}`)
    return join(this.assetsDir, key)
  }

  private metaPath(key: string): string {
    return `${this.assetPath(key)}.json`
  }

  /** A fresh temp file path for a build's output; never visible under assets/ or by-url/. */
  tempPath(key: string): string {
    return join(this.tmpDir, `${key}.${randomBytes(6).toString('hex')}`)
  }

  async readMeta(key: string): Promise<AssetMeta | null> {
    try {
      return JSON.parse(await readFile(this.metaPath(key), 'utf8')) as AssetMeta
    } catch {
      return null
    }
  }

  /** The metadata of a complete asset, or null. Marks it as used for LRU. */
  async lookup(key: string): Promise<AssetMeta | null> {
    await this.init()
    const meta = await this.readMeta(key)
    if (!meta) return null
    const entry = this.index.get(key)
    if (entry) entry.lastAccess = Date.now()
    return meta
  }

  /**
   * Publishes a finished temp file as asset `key`: hashes it, fsyncs, renames it into place and
   * writes the metadata last. Returns the metadata. The temp file is consumed.
   */
  async commit(key: string, tempFile: string, contentType: string): Promise<AssetMeta> {
    await this.init()
    const { sha256, sha512, size } = await hashFile(tempFile)
    const fh = await open(tempFile, 'r+')
    await fh.sync()
    await fh.close()
    const existing = await this.readMeta(key)
    await rename(tempFile, this.assetPath(key))
    const meta: AssetMeta = { key, size, sha256, sha512, contentType, created: new Date().toISOString(), urls: existing?.urls ?? [] }
    await writeFileAtomic(this.metaPath(key), JSON.stringify(meta))
    if (!this.index.has(key)) this.total += size
    this.index.set(key, { size, lastAccess: Date.now() })
    await this.evict(key)
    return meta
  }

  /**
   * Links `by-url/<parts...>` to asset `key` (and writes the .sha256/.sha512 sidecars) so Caddy
   * can serve later requests for that URL without asking the edge.
   */
  async linkUrl(key: string, parts: readonly string[]): Promise<void> {
    assertUrlPath(parts)
    const meta = await this.readMeta(key)
    if (!meta) throw new Error(`asset ${key} is not in the store`)
    const rel = parts.join('/')
    const link = join(this.byUrlDir, ...parts)
    await mkdir(dirname(link), { recursive: true })
    const name = parts[parts.length - 1]!
    await writeFileAtomic(`${link}.sha256`, `${meta.sha256}  ${name}\n`)
    await writeFileAtomic(`${link}.sha512`, `${meta.sha512}  ${name}\n`)
    const target = relative(dirname(link), this.assetPath(key))
    const tmp = `${link}.${randomBytes(4).toString('hex')}.lnk`
    await symlink(target, tmp)
    await rename(tmp, link)
    if (!meta.urls.includes(rel)) {
      meta.urls.push(rel)
      await writeFileAtomic(this.metaPath(key), JSON.stringify(meta))
    }
  }

  /** The asset linked at by-url/<parts...>, or null. */
  async resolveUrl(parts: readonly string[]): Promise<string | null> {
    try {
      assertUrlPath(parts)
      const link = join(this.byUrlDir, ...parts)
      const st = await lstat(link)
      if (!st.isSymbolicLink()) return null
      await stat(link) // dangling after eviction?
      const target = await readlink(link)
      const key = target.split('/').pop() ?? ''
      return KEY_RE.test(key) ? key : null
    } catch {
      return null
    }
  }

  get totalBytes(): number {
    return this.total
  }

  /** Evicts least recently used assets until the store fits its bound (never `keep`). */
  async evict(keep?: string): Promise<void> {
    if (this.total <= this.opts.maxBytes) return
    const candidates = [...this.index.entries()].filter(([k]) => k !== keep).sort((a, b) => a[1].lastAccess - b[1].lastAccess)
    for (const [key, entry] of candidates) {
      if (this.total <= this.opts.maxBytes) break
      await this.remove(key)
      this.opts.log.info('asset evicted', { key, size: entry.size })
    }
  }

  async remove(key: string): Promise<void> {
    const meta = await this.readMeta(key)
    for (const rel of meta?.urls ?? []) {
      const link = join(this.byUrlDir, rel)
      await unlink(link).catch(() => {})
      await unlink(`${link}.sha256`).catch(() => {})
      await unlink(`${link}.sha512`).catch(() => {})
    }
    await unlink(this.metaPath(key)).catch(() => {})
    await unlink(this.assetPath(key)).catch(() => {})
    const entry = this.index.get(key)
    if (entry) this.total -= entry.size
    this.index.delete(key)
  }
}

async function hashFile(path: string): Promise<{ sha256: string; sha512: string; size: number }> {
  const h256 = createHash('sha256')
  const h512 = createHash('sha512')
  let size = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer
    h256.update(buf)
    h512.update(buf)
    size += buf.byteLength
  }
  return { sha256: h256.digest('hex'), sha512: h512.digest('hex'), size }
}
