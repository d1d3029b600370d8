/**
 * The factory's own OCI content store (embedded default), shared by every node on the same data
 * directory:
 *
 *   oci/blobs/sha256/<hex>                                  every blob and manifest, by digest
 *   oci/repos/<image>/<schematic>/blobs/sha256:<hex>        → ../../../../blobs/sha256/<hex>
 *   oci/repos/<image>/<schematic>/manifests/sha256:<hex>    → ../../../../blobs/sha256/<hex>
 *   oci/repos/<image>/<schematic>/tags/<tag>                the tagged digest (text)
 *   public/v2 → ../oci/repos                                so Caddy serves
 *                                                           /v2/<image>/<schematic>/blobs/sha256:<hex>
 *
 * A repository only sees what was published into it (the links), like a registry. Blobs are
 * written to a temp file, verified against their digest, fsynced and renamed into place; links
 * and tags are renamed into place too, so a reader never sees a partial blob, a dangling link to
 * a half-written one, or a torn tag.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, readlink, rename, rm, stat, symlink, utimes } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { writeFileAtomic } from '../store/atomic-file.ts'
import { InvalidInputError } from '../errors.ts'
import { digestOf, isDigest, parseDigest, verifyingStream } from './digest.ts'
import { parseManifest } from './manifest.ts'
import { isValidRepository, isValidTag } from './reference.ts'
import type { OciTarget, StoredManifest } from './target.ts'

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

export class FsOciStore implements OciTarget {
  readonly root: string
  readonly blobsDir: string
  readonly reposDir: string
  private ready: Promise<void> | undefined

  /** `dataDir`: the factory's data directory (the store lives in `oci/`, Caddy's tree in `public/`). */
  constructor(private readonly dataDir: string) {
    this.root = join(dataDir, 'oci')
    this.blobsDir = join(this.root, 'blobs', 'sha256')
    this.reposDir = join(this.root, 'repos')
  }

  init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.blobsDir, { recursive: true })
      await mkdir(this.reposDir, { recursive: true })
      await mkdir(join(this.dataDir, 'public'), { recursive: true })
      await symlink('../oci/repos', join(this.dataDir, 'public', 'v2')).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err
      })
    })()
    return this.ready
  }

  /** The blob file of a sha256 digest (whether or not it exists). */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest)
    if (algorithm !== 'sha256') throw new InvalidInputError(`unsupported digest algorithm ${algorithm}`)
    return join(this.blobsDir, hex)
  }

  private repoDir(repo: string): string {
    if (!isValidRepository(repo)) throw new InvalidInputError(`invalid repository name ${JSON.stringify(repo)}`)
    return join(this.reposDir, ...repo.split('/'))
  }

  private linkPath(repo: string, kind: 'blobs' | 'manifests', digest: string): string {
    parseDigest(digest)
    return join(this.repoDir(repo), kind, digest)
  }

  private tagPath(repo: string, tag: string): string {
    if (!isValidTag(tag)) throw new InvalidInputError(`invalid tag ${JSON.stringify(tag)}`)
    return join(this.repoDir(repo), 'tags', tag)
  }

  /** The blob file when `repo` has the blob (linked and present), else null. */
  async blobFile(repo: string, digest: string, kind: 'blobs' | 'manifests' = 'blobs'): Promise<{ path: string; size: number } | null> {
    if (!isDigest(digest) || !digest.startsWith('sha256:')) return null
    const link = this.linkPath(repo, kind, digest)
    const st = await stat(link).catch(() => null) // follows the link: a dangling one is a miss
    return st?.isFile() ? { path: link, size: st.size } : null
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    return (await this.blobFile(repo, digest)) !== null
  }

  private async link(repo: string, kind: 'blobs' | 'manifests', digest: string): Promise<void> {
    const link = this.linkPath(repo, kind, digest)
    const target = relative(dirname(link), this.blobPath(digest))
    if ((await readlink(link).catch(() => null)) === target) return
    await mkdir(dirname(link), { recursive: true })
    const tmp = `${link}.${randomBytes(4).toString('hex')}.lnk`
    await symlink(target, tmp)
    await rename(tmp, link)
  }

  /** Writes the blob file (verified against `digest`) unless it exists already. */
  private async writeBlob(digest: string, size: number, data: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    await this.init()
    const path = this.blobPath(digest)
    if ((await stat(path).catch(() => null))?.size === size) {
      if (!(data instanceof Uint8Array)) await data.cancel().catch(() => {})
      return
    }
    if (data instanceof Uint8Array) {
      if (data.byteLength !== size || digestOf(data) !== digest) throw new InvalidInputError(`blob content does not match ${digest}`)
      await writeFileAtomic(path, data)
      return
    }
    const tmp = join(this.blobsDir, `.tmp-${randomBytes(6).toString('hex')}`)
    const fh = await open(tmp, 'wx', 0o644)
    try {
      for await (const chunk of data.pipeThrough(verifyingStream(digest, `blob ${digest}`, size))) {
        let off = 0
        while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten
      }
      await fh.sync()
      await fh.close()
      await rename(tmp, path)
    } catch (err) {
      await fh.close().catch(() => {})
      await rm(tmp, { force: true })
      throw err
    }
  }

  async putBlob(repo: string, digest: string, size: number, data: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    await this.writeBlob(digest, size, data)
    await this.link(repo, 'blobs', digest)
  }

  async putManifest(repo: string, bytes: Uint8Array, mediaType: string, tag?: string): Promise<string> {
    parseManifest(bytes, mediaType, `manifest for ${repo}`) // refuse what we could not serve back
    const digest = digestOf(bytes)
    await this.writeBlob(digest, bytes.byteLength, bytes)
    await this.link(repo, 'manifests', digest)
    if (tag !== undefined) await writeFileAtomic(this.tagPath(repo, tag), `${digest}\n`)
    return digest
  }

  /** The digest a tag points at, or null. */
  async resolveTag(repo: string, tag: string): Promise<string | null> {
    if (!isValidTag(tag)) return null
    const text = await readFile(this.tagPath(repo, tag), 'utf8').catch(() => null)
    const digest = text?.trim() ?? ''
    return isDigest(digest) ? digest : null
  }

  /**
   * Marks a tag as used now (its file's mtime), for the store's least-recently-used bound; at
   * most once a minute per tag, so warm pulls do not write on every request.
   */
  async touchTag(repo: string, tag: string): Promise<void> {
    if (!isValidTag(tag)) return
    const path = this.tagPath(repo, tag)
    const st = await stat(path).catch(() => null)
    if (st && Date.now() - st.mtimeMs > 60_000) await utimes(path, new Date(), new Date()).catch(() => {})
  }

  /** The repository's tags, sorted (byte order). */
  async listTags(repo: string): Promise<string[]> {
    const names = await readdir(join(this.repoDir(repo), 'tags')).catch(() => [] as string[])
    return names.filter((n) => isValidTag(n)).sort()
  }

  async getManifest(repo: string, ref: string): Promise<StoredManifest | null> {
    const digest = isDigest(ref) ? ref : await this.resolveTag(repo, ref)
    if (digest === null) return null
    const file = await this.blobFile(repo, digest, 'manifests')
    if (!file || file.size > MAX_MANIFEST_BYTES) return null
    const bytes = new Uint8Array(await readFile(file.path))
    if (digestOf(bytes) !== digest) return null // a damaged file is a miss (the publisher rewrites it)
    const parsed = parseManifest(bytes, '', `${repo}@${digest}`)
    return { digest, mediaType: parsed.mediaType, bytes }
  }

  async getBlobBytes(repo: string, digest: string, maxBytes: number): Promise<Uint8Array | null> {
    const file = await this.blobFile(repo, digest)
    if (!file || file.size > maxBytes) return null
    const bytes = new Uint8Array(await readFile(file.path))
    return digestOf(bytes) === digest ? bytes : null
  }
}
