/**
 * `docker save` image tarballs (what `docker load`, `skopeo copy docker-archive:` and
 * go-containerregistry's `tarball` package read), written and read as streams.
 *
 * Layout (imager-spec §8 step 6): `sha256:<config hex>` (the config JSON), then one
 * `<layer digest hex>.tar.gz` per unique layer blob (the compressed bytes exactly as in the
 * registry, never re-compressed), then `manifest.json` =
 * `[{"Config":"sha256:<hex>","RepoTags":[…],"Layers":["<hex>.tar.gz",…]}]`. Every header has mode
 * 0644, uid/gid 0 and mtime 0, so the same image always gives the same bytes.
 */
import { InvalidInputError } from '../errors.ts'
import { digestOf, isDigest, parseDigest, verifyingStream } from './digest.ts'
import { readTar } from './tar-reader.ts'
import { tarChunks, type TarEntry } from './tar-writer.ts'

/** One layer of a docker archive: its compressed blob, streamed from a file or given in memory. */
export interface ArchiveLayer {
  /** `sha256:<hex>` of the compressed blob. */
  digest: string
  size: number
  /** the blob on disk (streamed) … */
  source?: string
  /** … or in memory */
  data?: Uint8Array
}

export interface DockerArchiveInput {
  /** the image config JSON bytes (named by their digest) */
  config: Uint8Array
  /** in image order; a blob listed twice is written once */
  layers: readonly ArchiveLayer[]
  /** e.g. `ghcr.io/siderolabs/installer:v1.9.5`; empty for an untagged image */
  repoTags: readonly string[]
}

/** `manifest.json` of a docker archive (one image). */
export interface DockerArchiveManifest {
  Config: string
  RepoTags: string[]
  Layers: string[]
}

function hexOf(digest: string): string {
  const { algorithm, hex } = parseDigest(digest)
  if (algorithm !== 'sha256') throw new InvalidInputError(`docker archives name blobs by sha256, got ${digest}`)
  return hex
}

/** The archive's manifest.json text for `input` (Go's json.Marshal key order). */
export function dockerArchiveManifest(input: DockerArchiveInput): string {
  const doc: DockerArchiveManifest[] = [
    { Config: `sha256:${hexOf(digestOf(input.config))}`, RepoTags: [...input.repoTags], Layers: input.layers.map((l) => `${hexOf(l.digest)}.tar.gz`) },
  ]
  return JSON.stringify(doc)
}

/** Streams the archive (config, unique layers, manifest.json) without buffering any layer. */
export async function* dockerArchiveChunks(input: DockerArchiveInput): AsyncGenerator<Uint8Array> {
  const fixed = { mode: 0o644, mtime: 0, uid: 0, gid: 0 }
  const entries: TarEntry[] = [{ type: 'file', path: `sha256:${hexOf(digestOf(input.config))}`, data: input.config, ...fixed }]
  const seen = new Set<string>()
  for (const l of input.layers) {
    const name = `${hexOf(l.digest)}.tar.gz`
    if (seen.has(name)) continue
    seen.add(name)
    if ((l.source === undefined) === (l.data === undefined)) throw new InvalidInputError(`layer ${l.digest}: give either a source file or data`)
    entries.push(l.source !== undefined ? { type: 'file', path: name, source: l.source, ...fixed } : { type: 'file', path: name, data: l.data, ...fixed })
  }
  entries.push({ type: 'file', path: 'manifest.json', data: dockerArchiveManifest(input), ...fixed })
  yield* tarChunks(entries, { mtime: 0 })
}

/** What a reader of a docker archive gets for each blob it asked for. */
export interface ArchiveBlob {
  /** by the entry's name: `sha256:<hex>` / `<hex>.json` is the config, `<hex>.tar[.gz]` a layer */
  kind: 'config' | 'layer'
  /** `sha256:<hex>` the archive names it by */
  digest: string
  size: number
  /** the bytes, verified against `digest` as they flow (the stream errors at its end on mismatch); open at most once */
  open(): ReadableStream<Uint8Array>
}

function iterableToStream(iterator: AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next()
      if (done) controller.close()
      else controller.enqueue(value)
    },
  })
}

/**
 * Reads a docker archive in one pass: `onBlob` is called for the config and every layer file (in
 * archive order) and decides whether it wants the bytes (return a promise that consumes
 * `blob.open()`) or not (return false: the entry is skipped unread). Returns the parsed manifest.json.
 * Throws InvalidInputError for anything that is not a one-image docker archive we can trust.
 */
export async function readDockerArchive(
  stream: ReadableStream<Uint8Array>,
  onBlob: (blob: ArchiveBlob) => Promise<void> | false,
): Promise<DockerArchiveManifest> {
  let manifest: DockerArchiveManifest[] | undefined
  for await (const entry of readTar(stream)) {
    if (entry.type !== 'file') continue
    const name = entry.path.replace(/^\.\//, '')
    if (name === 'manifest.json') {
      if (entry.size > 1024 * 1024) throw new InvalidInputError('docker archive manifest.json is too large')
      const chunks: Uint8Array[] = []
      for await (const c of entry.body()) chunks.push(c)
      try {
        manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DockerArchiveManifest[]
      } catch {
        throw new InvalidInputError('docker archive manifest.json is not JSON')
      }
      continue
    }
    const m = /^(?:sha256:([0-9a-f]{64})|([0-9a-f]{64})\.json|([0-9a-f]{64})\.tar(?:\.gz)?)$/.exec(name)
    if (!m) continue
    const kind = m[3] === undefined ? 'config' : 'layer'
    const digest = `sha256:${m[1] ?? m[2] ?? m[3]}`
    let body: AsyncIterator<Uint8Array> | undefined
    const open = () => {
      body = entry.body()[Symbol.asyncIterator]()
      return iterableToStream(body).pipeThrough(verifyingStream(digest, `docker archive entry ${name}`, entry.size))
    }
    const wanted = onBlob({ kind, digest, size: entry.size, open })
    if (wanted !== false) await wanted
    // A consumer may stop reading early (it had the blob already). Drain the entry through the
    // same iterator — its calls are queued behind any read still in flight — so the tar reader
    // never reads the archive concurrently with it.
    if (body) for (;;) if ((await body.next()).done) break
  }
  if (!Array.isArray(manifest) || manifest.length !== 1) throw new InvalidInputError('docker archive must hold exactly one image')
  const [img] = manifest as [DockerArchiveManifest]
  if (typeof img.Config !== 'string' || !Array.isArray(img.Layers) || img.Layers.some((l) => typeof l !== 'string')) {
    throw new InvalidInputError('docker archive manifest.json is malformed')
  }
  if (!isDigest(img.Config.startsWith('sha256:') ? img.Config : `sha256:${img.Config.replace(/\.json$/, '')}`)) {
    throw new InvalidInputError(`docker archive config name ${JSON.stringify(img.Config)} is not a digest`)
  }
  return { Config: img.Config, RepoTags: Array.isArray(img.RepoTags) ? img.RepoTags : [], Layers: img.Layers }
}

/** `sha256:<hex>` of a manifest.json layer or config name (`<hex>.tar.gz`, `sha256:<hex>`). */
export function archiveNameDigest(name: string): string {
  const m = /^(?:sha256:)?([0-9a-f]{64})(?:\.tar(?:\.gz)?|\.json)?$/.exec(name)
  if (!m) throw new InvalidInputError(`docker archive entry ${JSON.stringify(name)} is not named by a digest`)
  return `sha256:${m[1]}`
}
