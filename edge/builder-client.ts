/**
 * How the edge gets an asset it does not have: from a builder in this process (embedded mode)
 * or from the builder daemon's job API (`FACTORY_BUILDER_URL`, http:// or unix:).
 */
import { hostname } from 'node:os'
import type { BuildJob, BuildRequest } from '../src/asset/job.ts'
import type { BuildManager } from '../builder/manager.ts'
import { FactoryError, InvalidInputError, NotFoundError, NotImplementedError, UpstreamUnavailableError } from '../src/errors.ts'

/** A finished file or a stream following a build; `key` is the cache key the builder published under. */
export type BuiltAsset = ({ kind: 'file'; path: string } | { kind: 'stream'; stream: ReadableStream<Uint8Array> }) & { key: string }

export interface BuilderClient {
  /**
   * Builds what `request` names. `job` is the edge's own plan of it: the in-process builder uses it
   * directly; the daemon plans the request again itself and never sees the edge's job.
   */
  build(request: BuildRequest, job: BuildJob): Promise<BuiltAsset>
  /** The builder daemon's own Prometheus metrics ('' in embedded mode: already in the edge's). */
  metrics(): Promise<string>
  /** Which builder this edge talks to (node, instance) and its counters; null when unreachable. */
  info(): Promise<Record<string, unknown> | null>
}

/**
 * A build failed for a reason that is not the client's fault. The message is the internal detail
 * (often the imager's last stderr line, with host paths): it is logged, never sent — clients get
 * a fixed line naming their request ID (edge/http/errors.ts).
 */
export class BuildFailedError extends FactoryError {
  readonly status = 500
  constructor(
    detail: string,
    /** the asset being built, for the log */
    readonly asset?: { key: string; url: string },
    options?: { cause?: unknown },
  ) {
    super(detail, options)
  }
}

const assetOf = (job: BuildJob) => ({ key: job.key, url: job.urlParts.join('/') })

export class InProcessBuilder implements BuilderClient {
  constructor(private readonly manager: BuildManager) {}

  async info(): Promise<Record<string, unknown>> {
    return { mode: 'embedded', node: `${hostname()}/${process.pid}`, ...this.manager.stats() }
  }

  async metrics(): Promise<string> {
    return ''
  }

  async build(_request: BuildRequest, job: BuildJob): Promise<BuiltAsset> {
    try {
      const r = await this.manager.request(job)
      return r.kind === 'file' ? { kind: 'file', path: r.path, key: job.key } : { kind: 'stream', stream: r.stream, key: job.key }
    } catch (err) {
      throw toFactoryError(err, job)
    }
  }
}

export class HttpBuilder implements BuilderClient {
  private readonly base: string
  private readonly unix: string | undefined

  /** `secret`: the job API's shared secret (required by a daemon listening on TCP). */
  constructor(
    url: string,
    private readonly secret: string,
  ) {
    if (url.startsWith('unix:')) {
      this.unix = url.slice(5)
      this.base = 'http://builder'
    } else {
      this.base = url.replace(/\/+$/, '')
    }
  }

  async metrics(): Promise<string> {
    try {
      const res = await fetch(`${this.base}/metrics`, { headers: this.auth(), ...(this.unix ? { unix: this.unix } : {}), signal: AbortSignal.timeout(2000) })
      return res.ok ? await res.text() : ''
    } catch {
      return '' // the builder is down or restarting: the edge's own metrics still answer
    }
  }

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.secret}` }
  }

  /** The daemon's identity and counters (GET /v1/stats). */
  async info(): Promise<Record<string, unknown> | null> {
    try {
      const res = await fetch(`${this.base}/v1/stats`, { headers: this.auth(), ...(this.unix ? { unix: this.unix } : {}), signal: AbortSignal.timeout(2000) })
      return res.ok ? ((await res.json()) as Record<string, unknown>) : null
    } catch {
      return null
    }
  }

  async build(request: BuildRequest, job: BuildJob): Promise<BuiltAsset> {
    let res: Response
    try {
      res = await fetch(`${this.base}/v1/build`, {
        method: 'POST',
        body: JSON.stringify(request),
        headers: { 'content-type': 'application/json', ...this.auth() },
        ...(this.unix ? { unix: this.unix } : {}),
      })
    } catch (err) {
      // the fetch error can name the socket path: logged (cause), not sent
      throw new UpstreamUnavailableError('builder is unreachable', { cause: err })
    }
    if (!res.ok || !res.body) {
      const reason = (await res.text()).trim()
      if (res.status === 400) throw new InvalidInputError(reason)
      if (res.status === 404) throw new NotFoundError(reason)
      if (res.status === 501) throw new NotImplementedError(reason)
      if (res.status === 503) throw new UpstreamUnavailableError(reason)
      throw new BuildFailedError(reason || `builder answered ${res.status}`, assetOf(job))
    }
    return { kind: 'stream', stream: res.body, key: res.headers.get('x-asset-key') ?? job.key }
  }
}

function toFactoryError(err: unknown, job: BuildJob): Error {
  if (err instanceof FactoryError) return err
  const msg = err instanceof Error ? err.message : String(err)
  if (err instanceof Error && err.name === 'BuildInputError') return new InvalidInputError(msg)
  return new BuildFailedError(`build failed: ${msg}`, assetOf(job), { cause: err })
}
