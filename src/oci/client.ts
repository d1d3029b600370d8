/**
 * A small OCI distribution-spec client: manifests (OCI manifest/index, Docker schema2 manifest and
 * manifest list) with platform selection, tags with `Link` pagination, blobs streamed with digest
 * verification, and pushes (blobs and manifests).
 *
 * Transport rules: 5xx/429 and network errors are retried with bounded exponential backoff (only for
 * requests whose body can be sent again); redirects are followed by hand so that credentials are
 * never sent to another origin (blob storage redirects); errors are typed:
 * unreachable/5xx → UpstreamUnavailableError naming the registry, 401/403 after auth →
 * UpstreamUnauthorizedError, 404 → NotFoundError (`manifest unknown: host/repo:ref`).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidInputError, NotFoundError, UpstreamUnauthorizedError, UpstreamUnavailableError } from '../errors.ts'
import { Authenticator, repositoryScope } from './auth.ts'
import { digestOf, digestOfFile, hashingStream, isDigest, parseDigest, verifyingStream } from './digest.ts'
import { type ImageConfig, type ImageManifest, type ParsedManifest, parseImageConfig, parseManifest, parsePlatform, selectPlatform } from './manifest.ts'
import { MANIFEST_ACCEPT } from './media-types.ts'
import { isValidManifestRef, isValidRepository, joinRepository } from './reference.ts'

/** The subset of `fetch` the client uses; inject one in unit tests. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

export interface RegistryClientOptions {
  /** `host[:port]`, e.g. `ghcr.io` or `127.0.0.1:5000`. */
  registry: string
  /** Plain HTTP instead of HTTPS. */
  insecure?: boolean
  /** Path prefix put in front of every repository (pull-through mirrors, e.g. Harbor's `proxy`). */
  namespace?: string
  username?: string
  password?: string
  /** Static bearer token sent on every request. */
  token?: string
  fetch?: FetchLike
  /** Extra attempts after a 5xx/429/network failure (default 3). */
  retries?: number
  /** First backoff delay in ms, doubled per attempt, capped at 5 s (default 250). */
  retryBaseMs?: number
  /** Time allowed until response headers arrive, for reads (default 60 s). */
  requestTimeoutMs?: number
}

/** A manifest as fetched: raw bytes, their digest, and the parsed document. */
export type FetchedManifest = ParsedManifest & {
  digest: string
  bytes: Uint8Array
  /** When a platform was selected from an index: that index's digest. */
  indexDigest?: string
}

/** One platform's image: its manifest (with digest) and parsed config. */
export interface ResolvedImage {
  digest: string
  mediaType: string
  bytes: Uint8Array
  manifest: ImageManifest
  config: ImageConfig
  indexDigest?: string
}

export interface ManifestHead {
  digest: string
  mediaType: string
  size: number
}

/** Blob upload source: bytes, a file path (streamed from disk), or a stream (sent in one PATCH). */
export type BlobSource = Uint8Array | string | ReadableStream<Uint8Array>

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
const MAX_ERROR_BODY = 64 * 1024
const MAX_REDIRECTS = 5
const REDIRECTS = new Set([301, 302, 303, 307, 308])

interface Req {
  method: string
  /** `/v2/...` relative to the registry, or an absolute URL (upload locations, Link pages). */
  url: string
  /** Full repository path, used for the auth scope. */
  repo?: string
  push?: boolean
  headers?: Record<string, string>
  body?: () => Body | null
  /** False for one-shot bodies (streams): no transport retries, no auth retry. */
  replayable?: boolean
  /** Apply the header timeout (reads); uploads wait as long as the body takes. */
  timeout?: boolean
}

/** A request body that can be produced again for a retry. */
type Body = NonNullable<RequestInit['body']>

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  return msg.split('\n')[0] ?? 'unknown error'
}

/** Reads a body up to `max` bytes; throws UpstreamUnavailableError when it is larger. */
async function readCapped(res: Response, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? '')
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel()
    throw new UpstreamUnavailableError(`${what} is larger than ${max} bytes`)
  }
  if (!res.body) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of res.body) {
    total += chunk.byteLength
    if (total > max) throw new UpstreamUnavailableError(`${what} is larger than ${max} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}

async function readStreamCapped(stream: ReadableStream<Uint8Array>, max: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.byteLength
      if (total > max) {
        await reader.cancel()
        throw new UpstreamUnavailableError(`${what} is larger than ${max} bytes`)
      }
      chunks.push(value)
    }
  } finally {
    reader.releaseLock()
  }
  return Buffer.concat(chunks, total)
}

/** Extracts the `rel="next"` target from a `Link` header. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim())
    if (m && /rel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1]
  }
  return undefined
}

export class RegistryClient {
  /** `host[:port]` as configured. */
  readonly registry: string
  /** `http(s)://host[:port]`. */
  readonly baseUrl: string
  readonly namespace: string
  private readonly fetchFn: FetchLike
  private readonly retries: number
  private readonly retryBaseMs: number
  private readonly timeoutMs: number
  private readonly auth: Authenticator

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry.replace(/\/+$/, '')
    // Docker Hub's API lives on another host than its image names say.
    const apiHost = this.registry === 'docker.io' ? 'registry-1.docker.io' : this.registry
    this.baseUrl = `${opts.insecure ? 'http' : 'https'}://${apiHost}`
    this.namespace = joinRepository(opts.namespace)
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init))
    this.retries = Math.max(0, opts.retries ?? 3)
    this.retryBaseMs = Math.max(0, opts.retryBaseMs ?? 250)
    this.timeoutMs = opts.requestTimeoutMs ?? 60_000
    const creds: { username?: string; password?: string; token?: string } = {}
    if (opts.username) creds.username = opts.username
    if (opts.password !== undefined && opts.username) creds.password = opts.password
    if (opts.token) creds.token = opts.token
    this.auth = new Authenticator(this.registry, creds, (url, init) => this.transport(url, () => init, true, true))
  }

  /** The repository path as sent to the registry: namespace prefix + `repo`. Throws InvalidInputError. */
  repositoryPath(repo: string): string {
    const full = joinRepository(this.namespace, repo)
    if (!isValidRepository(full)) throw new InvalidInputError(`invalid repository name ${JSON.stringify(repo)}`)
    return full
  }

  /** `GET /v2/`: resolves when the registry answers (and accepts our credentials). */
  async ping(): Promise<void> {
    const res = await this.send({ method: 'GET', url: '/v2/' })
    if (!res.ok) await this.fail(res, 'GET /v2/', 'registry API')
    await res.body?.cancel()
  }

  /**
   * Fetches a manifest by tag or digest. With `platform` (`linux/amd64`, `arm64`, `linux/arm/v7`)
   * an index or manifest list is resolved to that platform's image manifest.
   */
  async getManifest(repo: string, ref: string, opts: { platform?: string } = {}): Promise<FetchedManifest> {
    const top = await this.fetchManifest(repo, ref)
    if (!opts.platform || top.kind === 'image') return top
    const platform = parsePlatform(opts.platform)
    let current: FetchedManifest = top
    for (let depth = 0; current.kind === 'index'; depth++) {
      if (depth >= 3) throw new UpstreamUnavailableError(`index ${this.describe(repo, ref)} nests too deeply`)
      const chosen = selectPlatform(current.manifest, platform, this.describe(repo, ref))
      current = await this.fetchManifest(repo, chosen.digest)
    }
    return { ...current, indexDigest: top.digest }
  }

  /** HEAD a manifest: its digest, media type and size, or null when it does not exist. */
  async headManifest(repo: string, ref: string): Promise<ManifestHead | null> {
    const full = this.repositoryPath(repo)
    if (!isValidManifestRef(ref)) throw new InvalidInputError(`invalid manifest reference ${JSON.stringify(ref)}`)
    const res = await this.send({ method: 'HEAD', url: `/v2/${full}/manifests/${ref}`, repo: full, headers: { accept: MANIFEST_ACCEPT } })
    if (res.status === 404) return null
    if (!res.ok) await this.fail(res, this.describe(repo, ref), 'manifest')
    const digest = res.headers.get('docker-content-digest') ?? ''
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? ''
    const size = Number(res.headers.get('content-length') ?? 'NaN')
    if (isDigest(digest) && mediaType && Number.isFinite(size)) return { digest, mediaType, size }
    // Some registries omit the digest on HEAD: fall back to GET.
    const got = await this.fetchManifest(repo, ref)
    return { digest: got.digest, mediaType: got.mediaType, size: got.bytes.byteLength }
  }

  /**
   * Resolves `repo:ref` to the image for `linux/<arch>` (`arch` may also be a full platform) and
   * fetches its config. A single-platform manifest is returned as is.
   */
  async resolveImage(repo: string, ref: string, arch: string): Promise<ResolvedImage> {
    const platform = arch.includes('/') ? arch : `linux/${arch}`
    const got = await this.getManifest(repo, ref, { platform })
    if (got.kind !== 'image') throw new UpstreamUnavailableError(`${this.describe(repo, ref)} did not resolve to an image manifest`)
    const configBytes = await this.getBlobBytes(repo, got.manifest.config.digest, { maxBytes: 16 * 1024 * 1024 })
    const config = parseImageConfig(configBytes, this.describe(repo, got.manifest.config.digest))
    const out: ResolvedImage = { digest: got.digest, mediaType: got.mediaType, bytes: got.bytes, manifest: got.manifest, config }
    if (got.indexDigest) out.indexDigest = got.indexDigest
    return out
  }

  /** All tags of a repository, following `Link: <…>; rel="next"` pages (`pageSize` sets `?n=`). */
  async listTags(repo: string, opts: { pageSize?: number } = {}): Promise<string[]> {
    const full = this.repositoryPath(repo)
    let url: string | undefined = `/v2/${full}/tags/list${opts.pageSize ? `?n=${opts.pageSize}` : ''}`
    const tags: string[] = []
    const seen = new Set<string>()
    while (url !== undefined) {
      if (seen.has(url) || seen.size > 10_000) throw new UpstreamUnavailableError(`registry ${this.registry} sent a looping tag list for ${full}`)
      seen.add(url)
      const res = await this.send({ method: 'GET', url, repo: full, headers: { accept: 'application/json' } })
      if (!res.ok) await this.fail(res, `${this.registry}/${full}`, 'repository')
      const body = await readCapped(res, 16 * 1024 * 1024, `tag list of ${full}`)
      let doc: unknown
      try {
        doc = JSON.parse(new TextDecoder().decode(body))
      } catch {
        throw new UpstreamUnavailableError(`registry ${this.registry} sent an invalid tag list for ${full}`)
      }
      const list = typeof doc === 'object' && doc !== null ? (doc as { tags?: unknown }).tags : undefined
      if (Array.isArray(list)) for (const t of list) if (typeof t === 'string') tags.push(t)
      const next = nextLink(res.headers.get('link'))
      url = next === undefined ? undefined : new URL(next, this.absolute(url)).toString()
    }
    return tags
  }

  /**
   * Streams a blob. The returned stream errors at its end (UpstreamUnavailableError) if the bytes do
   * not match `digest` (or `size`, when given). Nothing is buffered.
   */
  async getBlob(repo: string, digest: string, opts: { size?: number } = {}): Promise<ReadableStream<Uint8Array>> {
    const full = this.repositoryPath(repo)
    parseDigest(digest)
    const what = `blob ${this.registry}/${full}@${digest}`
    const res = await this.send({ method: 'GET', url: `/v2/${full}/blobs/${digest}`, repo: full, headers: { 'accept-encoding': 'identity' } })
    if (!res.ok) await this.fail(res, `${this.registry}/${full}@${digest}`, 'blob')
    const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() })
    return body.pipeThrough(verifyingStream(digest, what, opts.size))
  }

  /** A whole (small) blob in memory, verified; refuses blobs over `maxBytes` (default 64 MiB). */
  async getBlobBytes(repo: string, digest: string, opts: { maxBytes?: number } = {}): Promise<Uint8Array> {
    const stream = await this.getBlob(repo, digest)
    return readStreamCapped(stream, opts.maxBytes ?? 64 * 1024 * 1024, `blob ${digest}`)
  }

  /**
   * Downloads a blob to `path` atomically: written to a temp file beside it, fsynced, verified, then
   * renamed into place. On any error the temp file is removed and `path` is untouched.
   */
  async blobToFile(repo: string, digest: string, path: string, opts: { size?: number } = {}): Promise<{ digest: string; size: number }> {
    const stream = await this.getBlob(repo, digest, opts)
    await mkdir(dirname(path), { recursive: true })
    const tmp = `${path}.part-${randomBytes(6).toString('hex')}`
    const fh = await open(tmp, 'wx', 0o644)
    let size = 0
    try {
      for await (const chunk of stream) {
        let off = 0
        while (off < chunk.byteLength) {
          const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off)
          off += bytesWritten
        }
        size += chunk.byteLength
      }
      await fh.sync()
      await fh.close()
      await rename(tmp, path)
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw err
    }
    return { digest, size }
  }

  /** True when the repository has the blob (HEAD); false on 404. */
  async blobExists(repo: string, digest: string): Promise<boolean> {
    return (await this.headBlob(repo, digest)) !== null
  }

  /** The blob's size when the repository has it (HEAD), or null on 404. */
  async headBlob(repo: string, digest: string): Promise<{ size: number } | null> {
    const full = this.repositoryPath(repo)
    parseDigest(digest)
    const res = await this.send({ method: 'HEAD', url: `/v2/${full}/blobs/${digest}`, repo: full })
    if (res.status === 404) return null
    if (!res.ok) await this.fail(res, `${this.registry}/${full}@${digest}`, 'blob')
    await res.body?.cancel()
    return { size: Number(res.headers.get('content-length') ?? 0) }
  }

  /**
   * Uploads a blob unless the repository already has it. `data` is bytes, a file path (streamed
   * from disk, monolithic POST+PUT) or a stream (one streamed PATCH, then PUT). When `digest` is
   * given it must match the content (checked before upload for bytes/files; the registry checks
   * streams). Returns the digest and size.
   */
  async pushBlob(repo: string, data: BlobSource, digest?: string): Promise<{ digest: string; size: number }> {
    const full = this.repositoryPath(repo)
    if (digest !== undefined) parseDigest(digest)
    if (data instanceof Uint8Array) {
      const actual = digestOf(data, digest ? parseDigest(digest).algorithm : 'sha256')
      if (digest !== undefined && digest !== actual) throw new InvalidInputError(`blob content does not match digest ${digest}`)
      if (!(await this.blobExists(repo, actual))) {
        const location = await this.startUpload(full)
        await this.finishUpload(full, location, actual, () => data, data.byteLength)
      }
      return { digest: actual, size: data.byteLength }
    }
    if (typeof data === 'string') {
      const size = (await stat(data)).size
      const actual = (await digestOfFile(data, digest ? parseDigest(digest).algorithm : 'sha256')).digest
      if (digest !== undefined && digest !== actual) throw new InvalidInputError(`file content does not match digest ${digest}`)
      if (!(await this.blobExists(repo, actual))) {
        const location = await this.startUpload(full)
        await this.finishUpload(full, location, actual, () => Bun.file(data), size)
      }
      return { digest: actual, size }
    }
    const known = digest !== undefined ? await this.headBlob(repo, digest) : null
    if (digest !== undefined && known) {
      await data.cancel().catch(() => {})
      return { digest, size: known.size }
    }
    const location = await this.startUpload(full)
    let hashed: { digest: string; size: number } | undefined
    const body = data.pipeThrough(hashingStream((r) => (hashed = r)))
    const patch = await this.send({
      method: 'PATCH',
      url: location,
      repo: full,
      push: true,
      headers: { 'content-type': 'application/octet-stream' },
      body: () => body,
      replayable: false,
      timeout: false,
    })
    if (patch.status !== 202 && !patch.ok) await this.fail(patch, `upload to ${this.registry}/${full}`, 'upload')
    await patch.body?.cancel()
    const next = patch.headers.get('location')
    const afterPatch = next ? new URL(next, location).toString() : location
    if (!hashed) throw new UpstreamUnavailableError(`upload to ${this.registry}/${full} ended before the stream was sent`)
    const result: { digest: string; size: number } = hashed
    if (digest !== undefined && digest !== result.digest) {
      await this.send({ method: 'DELETE', url: afterPatch, repo: full, push: true }).then((r) => r.body?.cancel()).catch(() => {})
      throw new InvalidInputError(`stream content does not match digest ${digest}`)
    }
    await this.finishUpload(full, afterPatch, result.digest, () => null, 0)
    return result
  }

  /** Uploads a manifest under a tag or digest; returns its digest (sha256 of `bytes`). */
  async putManifest(repo: string, ref: string, bytes: Uint8Array, mediaType: string): Promise<string> {
    const full = this.repositoryPath(repo)
    if (!isValidManifestRef(ref)) throw new InvalidInputError(`invalid manifest reference ${JSON.stringify(ref)}`)
    const digest = digestOf(bytes)
    if (isDigest(ref) && ref !== digestOf(bytes, parseDigest(ref).algorithm)) throw new InvalidInputError(`manifest content does not match ${ref}`)
    const res = await this.send({
      method: 'PUT',
      url: `/v2/${full}/manifests/${ref}`,
      repo: full,
      push: true,
      headers: { 'content-type': mediaType },
      body: () => bytes,
    })
    if (!res.ok) await this.fail(res, this.describe(repo, ref), 'manifest')
    await res.body?.cancel()
    return digest
  }

  // ---------------------------------------------------------------------------------------------

  private describe(repo: string, ref: string): string {
    return `${this.registry}/${this.repositoryPath(repo)}${isDigest(ref) ? '@' : ':'}${ref}`
  }

  private absolute(url: string): string {
    return /^https?:\/\//.test(url) ? url : `${this.baseUrl}${url}`
  }

  private async fetchManifest(repo: string, ref: string): Promise<FetchedManifest> {
    const full = this.repositoryPath(repo)
    if (!isValidManifestRef(ref)) throw new InvalidInputError(`invalid manifest reference ${JSON.stringify(ref)}`)
    const where = this.describe(repo, ref)
    const res = await this.send({ method: 'GET', url: `/v2/${full}/manifests/${ref}`, repo: full, headers: { accept: MANIFEST_ACCEPT } })
    if (!res.ok) await this.fail(res, where, 'manifest')
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, `manifest ${where}`)
    let digest = digestOf(bytes)
    if (isDigest(ref)) {
      const actual = digestOf(bytes, parseDigest(ref).algorithm)
      if (actual !== ref) throw new UpstreamUnavailableError(`manifest ${where}: digest mismatch, got ${actual}`)
      digest = ref
    }
    const parsed = parseManifest(bytes, res.headers.get('content-type') ?? '', where)
    return { ...parsed, digest, bytes }
  }

  private async startUpload(full: string): Promise<string> {
    const res = await this.send({ method: 'POST', url: `/v2/${full}/blobs/uploads/`, repo: full, push: true, body: () => null })
    if (res.status !== 202 && !res.ok) await this.fail(res, `upload to ${this.registry}/${full}`, 'upload')
    await res.body?.cancel()
    const location = res.headers.get('location')
    if (!location) throw new UpstreamUnavailableError(`registry ${this.registry} gave no upload location for ${full}`)
    return new URL(location, `${this.baseUrl}/v2/${full}/blobs/uploads/`).toString()
  }

  private async finishUpload(full: string, location: string, digest: string, body: () => Body | null, size: number): Promise<void> {
    const url = new URL(location)
    url.searchParams.set('digest', digest)
    const res = await this.send({
      method: 'PUT',
      url: url.toString(),
      repo: full,
      push: true,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      timeout: false,
    })
    if (!res.ok) await this.fail(res, `${this.registry}/${full}@${digest}`, 'upload')
    await res.body?.cancel()
  }

  /** Sends with auth: a 401 triggers one challenge round (token fetch or Basic) and a resend. */
  private async send(req: Req): Promise<Response> {
    const url = this.absolute(req.url)
    const scope = req.repo ? repositoryScope(req.repo, req.push) : ''
    const replayable = req.replayable ?? true
    let challenged = false
    for (;;) {
      const headers: Record<string, string> = { 'user-agent': 'talos-image-factory-bun', ...req.headers }
      const authorization = this.auth.header(scope)
      if (authorization) headers.authorization = authorization
      const res = await this.transport(url, () => ({ method: req.method, headers, body: req.body?.() ?? null }), replayable, req.timeout ?? true)
      if (res.status === 401 && !challenged && replayable) {
        challenged = true
        await res.body?.cancel()
        if (await this.auth.handleChallenge(res, scope)) continue
      }
      return res
    }
  }

  /** One logical request: redirects followed by hand, bounded retries on 5xx/429/network errors. */
  private async transport(url: string, init: () => RequestInit, replayable: boolean, timeout: boolean): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response
      try {
        res = await this.fetchFollowing(url, init(), timeout)
      } catch (err) {
        if (replayable && attempt < this.retries) {
          await sleep(this.backoff(attempt))
          continue
        }
        throw new UpstreamUnavailableError(`registry ${this.registry} is unreachable: ${reason(err)}`, { cause: err })
      }
      if ((res.status >= 500 || res.status === 429) && replayable && attempt < this.retries) {
        const retryAfter = Number(res.headers.get('retry-after') ?? '')
        await res.body?.cancel()
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 10_000) : this.backoff(attempt))
        continue
      }
      return res
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.retryBaseMs * 2 ** attempt, 5_000)
    return base / 2 + Math.random() * (base / 2)
  }

  private async fetchFollowing(url: string, init: RequestInit, timeout: boolean): Promise<Response> {
    let current = url
    let headers = { ...(init.headers as Record<string, string> | undefined) }
    const method = (init.method ?? 'GET').toUpperCase()
    for (let hop = 0; ; hop++) {
      const ctrl = new AbortController()
      const timer = timeout && this.timeoutMs > 0 ? setTimeout(() => ctrl.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs) : undefined
      let res: Response
      try {
        res = await this.fetchFn(current, { ...init, headers, redirect: 'manual', signal: ctrl.signal })
      } finally {
        if (timer) clearTimeout(timer)
      }
      const location = res.headers.get('location')
      if (!REDIRECTS.has(res.status) || !location || (method !== 'GET' && method !== 'HEAD')) return res
      if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects from ${url}`)
      await res.body?.cancel()
      const next = new URL(location, current)
      if (next.origin !== new URL(current).origin) {
        // Never hand registry credentials to another origin (blob storage, CDN).
        const { authorization: _dropped, ...rest } = headers
        headers = rest
      }
      current = next.toString()
    }
  }

  /** Throws the typed error for a failed response. `kind` names what was asked for (manifest, blob, …). */
  private async fail(res: Response, what: string, kind: string): Promise<never> {
    let code = ''
    if (res.body) {
      try {
        const text = new TextDecoder().decode(await readCapped(res, MAX_ERROR_BODY, 'error body'))
        const doc = JSON.parse(text) as { errors?: { code?: unknown }[] }
        const first = doc.errors?.[0]?.code
        if (typeof first === 'string') code = first
      } catch {
        // not a registry error document
      }
    }
    if (res.status === 404) {
      const label =
        code === 'NAME_UNKNOWN' ? 'repository unknown' : code === 'BLOB_UNKNOWN' ? 'blob unknown' : code === 'MANIFEST_UNKNOWN' ? 'manifest unknown' : `${kind} unknown`
      throw new NotFoundError(`${label}: ${what}`)
    }
    if (res.status === 401 || res.status === 403) {
      throw new UpstreamUnauthorizedError(`registry ${this.registry} denied access to ${what} (${res.status}${code ? ` ${code}` : ''})`)
    }
    throw new UpstreamUnavailableError(`registry ${this.registry} answered ${res.status}${code ? ` ${code}` : ''} for ${what}`)
  }
}
