/**
 * How the edge gets an asset it does not have: from a builder in this process (embedded mode)
 * or from the builder daemon's job API (`FACTORY_BUILDER_URL`, http:// or unix:).
 */
import type { BuildJob } from '../builder/job.ts'
import type { BuildManager } from '../builder/manager.ts'
import { FactoryError, InvalidInputError, NotFoundError, NotImplementedError, UpstreamUnavailableError } from '../src/errors.ts'

export type BuiltAsset = { kind: 'file'; path: string } | { kind: 'stream'; stream: ReadableStream<Uint8Array> }

export interface BuilderClient {
  build(job: BuildJob): Promise<BuiltAsset>
  /** The builder daemon's own Prometheus metrics ('' in embedded mode: already in the edge's). */
  metrics(): Promise<string>
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

  async metrics(): Promise<string> {
    return ''
  }

  async build(job: BuildJob): Promise<BuiltAsset> {
    try {
      const r = await this.manager.request(job)
      return r.kind === 'file' ? { kind: 'file', path: r.path } : { kind: 'stream', stream: r.stream }
    } catch (err) {
      throw toFactoryError(err, job)
    }
  }
}

export class HttpBuilder implements BuilderClient {
  private readonly base: string
  private readonly unix: string | undefined

  constructor(url: string) {
    if (url.startsWith('unix:')) {
      this.unix = url.slice(5)
      this.base = 'http://builder'
    } else {
      this.base = url.replace(/\/+$/, '')
    }
  }

  async metrics(): Promise<string> {
    try {
      const res = await fetch(`${this.base}/metrics`, { ...(this.unix ? { unix: this.unix } : {}), signal: AbortSignal.timeout(2000) })
      return res.ok ? await res.text() : ''
    } catch {
      return '' // the builder is down or restarting: the edge's own metrics still answer
    }
  }

  async build(job: BuildJob): Promise<BuiltAsset> {
    let res: Response
    try {
      res = await fetch(`${this.base}/v1/build`, {
        method: 'POST',
        body: JSON.stringify(job),
        headers: { 'content-type': 'application/json' },
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
    return { kind: 'stream', stream: res.body }
  }
}

function toFactoryError(err: unknown, job: BuildJob): Error {
  if (err instanceof FactoryError) return err
  const msg = err instanceof Error ? err.message : String(err)
  if (err instanceof Error && err.name === 'BuildInputError') return new InvalidInputError(msg)
  return new BuildFailedError(`build failed: ${msg}`, assetOf(job), { cause: err })
}
