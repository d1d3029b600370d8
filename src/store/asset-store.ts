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
 * sees a partial asset. The store is size-bounded: least recently used assets are evicted. Recency
 * is the asset file's access time, bumped by every process that serves through the store (edge
 * and builder); hits Caddy serves by itself only count where the filesystem records atime.
 * Changes to one key (publish, link, evict) are serialised within the process.
 */
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, open, utimes } from 'node:fs/promises'
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

/** Per-key critical sections within this process. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>()

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const tail = next.catch(() => {})
    this.tails.set(key, tail)
    try {
      return await next
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}

export class AssetStore {
  readonly assetsDir: string
  readonly byUrlDir: string
  readonly tmpDir: string
  readonly publicDir: string
  private readonly index = new Map<string, { size: number }>()
  private readonly mutex = new KeyedMutex()
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

  /**
   * Indexes existing assets once (start-up) and sweeps leftovers of crashed builds. Builders on
   * other nodes may share this directory, so only files nobody has touched for a long time are
   * removed, never a running build's temp file.
   */
  init(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.assetsDir, { recursive: true })
      await mkdir(this.byUrlDir, { recursive: true })
      await mkdir(this.publicDir, { recursive: true })
      await mkdir(this.tmpDir, { recursive: true })
      await symlink('../by-url', join(this.publicDir, 'image')).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err
      })
      const staleBefore = Date.now() - (this.opts.staleTempMs ?? 3_600_000)
      const isStale = async (path: string) => ((await stat(path).catch(() => null))?.mtimeMs ?? Infinity) < staleBefore
      for (const name of await readdir(this.tmpDir)) {
        if (await isStale(join(this.tmpDir, name))) await rm(join(this.tmpDir, name), { recursive: true, force: true })
      }
      const names = new Set(await readdir(this.assetsDir))
      for (const name of names) {
        const path = join(this.assetsDir, name)
        if (name.startsWith('.')) {
          if (await isStale(path)) await rm(path, { force: true }) // an interrupted metadata write
          continue
        }
        if (KEY_RE.test(name) && !names.has(`${name}.json`)) {
          if (await isStale(path)) await rm(path, { force: true }) // published but never described
          continue
        }
        if (!name.endsWith('.json')) continue
        const meta = await this.readMeta(name.slice(0, -5))
        if (!meta || !(await stat(this.assetPath(meta.key)).catch(() => null))) continue
        this.index.set(meta.key, { size: meta.size })
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

  /**
   * The metadata of a complete asset, or null. Marks it as used (access time). Metadata whose
   * asset file is gone (evicted by another node, interrupted removal) counts as a miss and is
   * cleaned up, so the asset is rebuilt instead of failing forever.
   */
  async lookup(key: string): Promise<AssetMeta | null> {
    await this.init()
    const meta = await this.readMeta(key)
    if (!meta) return null
    const path = this.assetPath(key)
    const st = await stat(path).catch(() => null)
    if (!st) {
      await this.remove(key)
      return null
    }
    await utimes(path, new Date(), st.mtime).catch(() => {}) // LRU: bump atime, keep mtime (ETag)
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
    const meta = await this.mutex.run(key, async () => {
      const existing = await this.readMeta(key)
      await rename(tempFile, this.assetPath(key))
      const m: AssetMeta = { key, size, sha256, sha512, contentType, created: new Date().toISOString(), urls: existing?.urls ?? [] }
      await writeFileAtomic(this.metaPath(key), JSON.stringify(m))
      if (!this.index.has(key)) this.total += size
      this.index.set(key, { size })
      return m
    })
    await this.evict(key)
    return meta
  }

  /**
   * Links `by-url/<parts...>` to asset `key` (and writes the .sha256/.sha512 sidecars) so Caddy
   * can serve later requests for that URL without asking the edge.
   */
  async linkUrl(key: string, parts: readonly string[]): Promise<void> {
    assertUrlPath(parts)
    await this.mutex.run(key, async () => {
      const meta = await this.readMeta(key)
      if (!meta || !(await stat(this.assetPath(key)).catch(() => null))) throw new Error(`asset ${key} is not in the store`)
      const rel = parts.join('/')
      const link = join(this.byUrlDir, ...parts)
      await mkdir(dirname(link), { recursive: true })
      const name = parts[parts.length - 1]!
      await writeFileAtomic(`${link}.sha256`, `${meta.sha256}  ${name}\n`)
      await writeFileAtomic(`${link}.sha512`, `${meta.sha512}  ${name}\n`)
      const tmp = `${link}.${randomBytes(4).toString('hex')}.lnk`
      await symlink(relative(dirname(link), this.assetPath(key)), tmp)
      await rename(tmp, link)
      if (!meta.urls.includes(rel)) {
        meta.urls.push(rel)
        await writeFileAtomic(this.metaPath(key), JSON.stringify(meta))
      }
    })
  }

  get totalBytes(): number {
    return this.total
  }

  /** Evicts least recently used assets until the store fits its bound (never `keep`). */
  async evict(keep?: string): Promise<void> {
    if (this.total <= this.opts.maxBytes) return
    const candidates: { key: string; size: number; used: number }[] = []
    for (const [key, entry] of this.index) {
      if (key === keep) continue
      const st = await stat(this.assetPath(key)).catch(() => null)
      candidates.push({ key, size: entry.size, used: st ? Math.max(st.atimeMs, st.mtimeMs) : 0 })
    }
    candidates.sort((a, b) => a.used - b.used)
    for (const c of candidates) {
      if (this.total <= this.opts.maxBytes) break
      await this.remove(c.key)
      this.opts.log.info('asset evicted', { key: c.key, size: c.size })
    }
  }

  /** Removes an asset, its metadata and the URL links that still point to it. */
  async remove(key: string): Promise<void> {
    await this.mutex.run(key, async () => {
      const meta = await this.readMeta(key)
      for (const rel of meta?.urls ?? []) {
        const link = join(this.byUrlDir, rel)
        // the URL may have been re-pointed to a newer asset since: leave that one alone
        const target = await readlink(link).catch(() => null)
        if (target === null || !target.endsWith(`/${key}`)) continue
        await unlink(link).catch(() => {})
        await unlink(`${link}.sha256`).catch(() => {})
        await unlink(`${link}.sha512`).catch(() => {})
      }
      await unlink(this.metaPath(key)).catch(() => {})
      await unlink(this.assetPath(key)).catch(() => {})
      const entry = this.index.get(key)
      if (entry) this.total -= entry.size
      this.index.delete(key)
    })
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
