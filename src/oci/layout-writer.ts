/**
 * OCI image-layout writer (image-spec v1.1 "image layout"): content-addressed blobs under
 * `blobs/sha256/`, image configs, manifests, multi-platform indexes, and `index.json` whose entries
 * carry `org.opencontainers.image.ref.name` so `skopeo copy oci:<dir>:<ref> …` can find them.
 *
 * Everything is deterministic: JSON is emitted with a fixed key order and no whitespace, tar layers
 * come from the deterministic tar writer, and gzip uses a fixed header (mtime 0, no name, OS 255 as
 * Go writes it) around raw deflate at a fixed level, so the same inputs give the same digests.
 */
import { createHash } from 'node:crypto'
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import zlib from 'node:zlib'
import type { Descriptor, Platform } from './manifest.ts'
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST } from './media-types.ts'
import { DEFAULT_TAR_MTIME, tarChunks, type TarEntry } from './tar-writer.ts'

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'

/** Writing the layout failed (bad input, or an existing layout that is not one). */
export class LayoutWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LayoutWriteError'
  }
}

export type LayerCompression = 'gzip' | 'none'

export interface LayerOptions {
  compression?: LayerCompression
  /** zlib level 0–9 (default 6). Part of the digest: keep it fixed. */
  gzipLevel?: number
  /** Default mtime of tar entries (default {@link DEFAULT_TAR_MTIME}). */
  mtime?: number
}

export interface WrittenLayer {
  /** Descriptor of the (possibly compressed) layer blob. */
  descriptor: Descriptor
  /** `sha256:` of the uncompressed tar (the config's `rootfs.diff_ids` entry). */
  diffId: string
}

export interface ImageConfigInput {
  platform: Platform
  /** RFC 3339; default: {@link DEFAULT_TAR_MTIME} as UTC. */
  created?: string
  author?: string
  env?: string[]
  entrypoint?: string[]
  cmd?: string[]
  workingDir?: string
  labels?: Record<string, string>
  /** One `created_by` per layer in history (default `standin`). */
  createdBy?: string
}

export interface ImageInput {
  config: ImageConfigInput
  layers: WrittenLayer[]
  annotations?: Record<string, string>
}

function epochToRfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z')
}

function sortedRecord(r: Record<string, string> | undefined): Record<string, string> | undefined {
  if (r === undefined) return undefined
  const out: Record<string, string> = {}
  for (const k of Object.keys(r).sort()) out[k] = r[k] as string
  return out
}

/** JSON with the given key order, dropping undefined values (JSON.stringify already does). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value)
}

/** Fixed 10-byte gzip member header: no FNAME, MTIME 0, XFL 0, OS 255 (unknown) — as Go writes it. */
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])

/** Gzips a chunk stream (single member, fixed header) without buffering it whole. */
export async function* gzipChunks(source: AsyncIterable<Uint8Array>, level = 6): AsyncGenerator<Uint8Array> {
  yield GZIP_HEADER
  const deflate = zlib.createDeflateRaw({ level })
  const queue: Uint8Array[] = []
  let failure: unknown = null
  deflate.on('data', (c: Buffer) => queue.push(new Uint8Array(c)))
  deflate.on('error', (e: unknown) => {
    failure = e
  })
  let crc = 0
  let isize = 0
  try {
    for await (const chunk of source) {
      crc = Bun.hash.crc32(chunk, crc)
      isize = (isize + chunk.length) % 0x100000000
      await new Promise<void>((resolve, reject) => deflate.write(chunk, (err) => (err ? reject(err) : resolve())))
      if (failure !== null) throw new LayoutWriteError('gzip failed', { cause: failure })
      while (queue.length > 0) yield queue.shift() as Uint8Array
    }
    await new Promise<void>((resolve, reject) => {
      deflate.once('end', resolve)
      deflate.once('error', reject)
      deflate.end()
    })
    while (queue.length > 0) yield queue.shift() as Uint8Array
  } finally {
    deflate.destroy()
  }
  const trailer = new Uint8Array(8)
  const dv = new DataView(trailer.buffer)
  dv.setUint32(0, crc >>> 0, true)
  dv.setUint32(4, isize >>> 0, true)
  yield trailer
}

/** Tees a chunk stream through a sha256 hasher; `result()` is valid once the stream is drained. */
function hashing(source: AsyncIterable<Uint8Array>): { stream: AsyncGenerator<Uint8Array>; result: () => { digest: string; size: number } } {
  const h = createHash('sha256')
  let size = 0
  let done = false
  async function* gen(): AsyncGenerator<Uint8Array> {
    for await (const c of source) {
      h.update(c)
      size += c.length
      yield c
    }
    done = true
  }
  let digest = ''
  return {
    stream: gen(),
    result: () => {
      if (!done) throw new LayoutWriteError('hash read before the stream ended')
      if (digest === '') digest = `sha256:${h.digest('hex')}`
      return { digest, size }
    },
  }
}

export interface LayoutRef {
  name: string
  descriptor: Descriptor
}

/**
 * Writes one OCI image layout directory. Create with {@link OciLayoutWriter.open}; add blobs, images
 * and indexes; `tag()` them; `close()` writes `index.json` (entries sorted by ref name). Opening an
 * existing layout keeps its refs (a re-tag replaces the old entry).
 */
export class OciLayoutWriter {
  readonly dir: string
  private readonly refs = new Map<string, Descriptor>()
  private tmpCounter = 0

  private constructor(dir: string) {
    this.dir = dir
  }

  static async open(dir: string): Promise<OciLayoutWriter> {
    const w = new OciLayoutWriter(dir)
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true })
    const layoutFile = join(dir, 'oci-layout')
    const existing = await readFile(layoutFile, 'utf8').catch(() => null)
    if (existing === null) {
      await writeFile(layoutFile, canonicalJson({ imageLayoutVersion: '1.0.0' }))
    } else {
      let parsed: unknown
      try {
        parsed = JSON.parse(existing)
      } catch (e) {
        throw new LayoutWriteError(`${layoutFile} is not JSON`, { cause: e })
      }
      if (typeof parsed !== 'object' || parsed === null || (parsed as { imageLayoutVersion?: unknown }).imageLayoutVersion !== '1.0.0') {
        throw new LayoutWriteError(`${dir} is not an OCI image layout 1.0.0`)
      }
      const index = await readFile(join(dir, 'index.json'), 'utf8').catch(() => null)
      if (index !== null) {
        let idx: { manifests?: Descriptor[] }
        try {
          idx = JSON.parse(index) as { manifests?: Descriptor[] }
        } catch (e) {
          throw new LayoutWriteError(`${join(dir, 'index.json')} is not JSON`, { cause: e })
        }
        for (const d of idx.manifests ?? []) {
          const name = d.annotations?.[REF_NAME_ANNOTATION]
          if (name !== undefined) {
            const { annotations, ...rest } = d
            const others = { ...annotations }
            delete others[REF_NAME_ANNOTATION]
            w.refs.set(name, Object.keys(others).length > 0 ? { ...rest, annotations: others } : rest)
          }
        }
      }
    }
    return w
  }

  /** Path of the blob file for a digest. */
  blobPath(digest: string): string {
    const m = /^sha256:([0-9a-f]{64})$/.exec(digest)
    if (m === null) throw new LayoutWriteError(`unsupported digest ${digest}`)
    return join(this.dir, 'blobs', 'sha256', m[1] as string)
  }

  /** Writes bytes as a blob (idempotent) and returns its descriptor. */
  async writeBlob(data: Uint8Array | string, mediaType: string): Promise<Descriptor> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    const path = this.blobPath(digest)
    const present = await stat(path).then((s) => s.size === bytes.length).catch(() => false)
    if (!present) {
      const tmp = this.tmpPath()
      await writeFile(tmp, bytes)
      await rename(tmp, path)
    }
    return { mediaType, digest, size: bytes.length }
  }

  /** Streams chunks into a blob (temp file, then renamed to its digest). */
  async writeBlobStream(chunks: AsyncIterable<Uint8Array>, mediaType: string): Promise<Descriptor> {
    const tmp = this.tmpPath()
    const h = hashing(chunks)
    const fh = await open(tmp, 'w')
    try {
      for await (const c of h.stream) {
        let off = 0
        while (off < c.length) {
          const { bytesWritten } = await fh.write(c, off, c.length - off)
          off += bytesWritten
        }
      }
    } catch (e) {
      await fh.close().catch(() => undefined)
      await rm(tmp, { force: true })
      throw e
    }
    await fh.close()
    const { digest, size } = h.result()
    await rename(tmp, this.blobPath(digest))
    return { mediaType, digest, size }
  }

  /** Writes a tar layer (gzip by default) from entries in the given order. */
  async writeLayer(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>, options: LayerOptions = {}): Promise<WrittenLayer> {
    const compression = options.compression ?? 'gzip'
    const raw = hashing(tarChunks(entries, { mtime: options.mtime ?? DEFAULT_TAR_MTIME }))
    const body = compression === 'gzip' ? gzipChunks(raw.stream, options.gzipLevel ?? 6) : raw.stream
    const descriptor = await this.writeBlobStream(body, compression === 'gzip' ? OCI_LAYER_GZIP : OCI_LAYER)
    return { descriptor, diffId: raw.result().digest }
  }

  /** Writes an image config JSON (fixed key order) and returns its descriptor. */
  async writeConfig(input: ImageConfigInput, layers: WrittenLayer[]): Promise<Descriptor> {
    const created = input.created ?? epochToRfc3339(DEFAULT_TAR_MTIME)
    const inner: Record<string, unknown> = {}
    if (input.env !== undefined) inner.Env = input.env
    if (input.entrypoint !== undefined) inner.Entrypoint = input.entrypoint
    if (input.cmd !== undefined) inner.Cmd = input.cmd
    if (input.workingDir !== undefined) inner.WorkingDir = input.workingDir
    if (input.labels !== undefined) inner.Labels = sortedRecord(input.labels)
    const config = {
      created,
      author: input.author,
      architecture: input.platform.architecture,
      variant: input.platform.variant,
      os: input.platform.os,
      config: inner,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map(() => ({ created, created_by: input.createdBy ?? 'standin' })),
    }
    return this.writeBlob(canonicalJson(config), OCI_CONFIG)
  }

  /** Writes config + manifest for one platform; the returned descriptor carries `platform`. */
  async writeImage(input: ImageInput): Promise<Descriptor> {
    const config = await this.writeConfig(input.config, input.layers)
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config,
      layers: input.layers.map((l) => l.descriptor),
      annotations: sortedRecord(input.annotations),
    }
    const d = await this.writeBlob(canonicalJson(manifest), OCI_MANIFEST)
    return { ...d, platform: clonePlatform(input.config.platform) }
  }

  /** Writes an image index over manifests (each should carry `platform`). */
  async writeIndex(manifests: Descriptor[], annotations?: Record<string, string>): Promise<Descriptor> {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: manifests.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        platform: m.platform === undefined ? undefined : clonePlatform(m.platform),
        annotations: sortedRecord(m.annotations),
      })),
      annotations: sortedRecord(annotations),
    }
    return this.writeBlob(canonicalJson(index), OCI_INDEX)
  }

  /** Names a manifest or index in `index.json` (replaces an existing ref of that name). */
  tag(name: string, descriptor: Descriptor): void {
    if (!/^[A-Za-z0-9._:/@+-]+$/.test(name)) throw new LayoutWriteError(`invalid ref name ${JSON.stringify(name)}`)
    const { platform: _p, annotations: _a, ...rest } = descriptor
    this.refs.set(name, rest)
  }

  /** Refs currently recorded (name → descriptor), sorted by name. */
  listRefs(): LayoutRef[] {
    return [...this.refs.keys()].sort().map((name) => ({ name, descriptor: this.refs.get(name) as Descriptor }))
  }

  /** Writes `index.json`. May be called again after more tags. */
  async close(): Promise<Descriptor> {
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: this.listRefs().map(({ name, descriptor }) => ({
        mediaType: descriptor.mediaType,
        digest: descriptor.digest,
        size: descriptor.size,
        annotations: { ...sortedRecord(descriptor.annotations), [REF_NAME_ANNOTATION]: name },
      })),
    }
    const json = canonicalJson(index)
    const tmp = this.tmpPath()
    await writeFile(tmp, json)
    await rename(tmp, join(this.dir, 'index.json'))
    return { mediaType: OCI_INDEX, digest: `sha256:${createHash('sha256').update(json).digest('hex')}`, size: Buffer.byteLength(json) }
  }

  private tmpPath(): string {
    this.tmpCounter++
    return join(this.dir, 'blobs', 'sha256', `.tmp-${process.pid}-${Date.now()}-${this.tmpCounter}`)
  }
}

function clonePlatform(p: Platform): Platform {
  const out: Platform = { architecture: p.architecture, os: p.os }
  if (p.variant !== undefined) out.variant = p.variant
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version']
  return out
}

/** Convenience: a single-layer-per-platform multi-arch image from per-platform entry lists. */
export async function writeMultiArchImage(
  layout: OciLayoutWriter,
  platforms: { config: ImageConfigInput; layers: WrittenLayer[] }[],
  annotations?: Record<string, string>,
): Promise<Descriptor> {
  const manifests: Descriptor[] = []
  for (const p of platforms) manifests.push(await layout.writeImage({ config: p.config, layers: p.layers, annotations }))
  return layout.writeIndex(manifests, annotations)
}
