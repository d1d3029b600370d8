/**
 * Where the edge reads build progress: the builder's own hub when the builder runs in this
 * process, or the builder daemon's `GET /v1/progress/<key>` (builder/progress-api.ts) when it runs
 * separately (FACTORY_BUILDER_URL, http:// or unix:). Either way a node that shares Redis with
 * the node running a build reports that build too.
 *
 * Progress is best effort: when the daemon cannot be reached the feed reports nothing and the
 * SSE endpoint still ends with the build's outcome.
 */
import * as v from 'valibot'
import type { Builder } from '../builder/wiring.ts'
import { builderApiSecret } from '../builder/api-secret.ts'
import { ProgressEventSchema, type ProgressFeed, type ProgressListener } from '../builder/progress.ts'
import type { Config } from '../src/config.ts'
import type { Logger } from '../src/log.ts'

/** how long the daemon may take to send its first line (the current state) */
const FIRST_LINE_MS = 5000

export function progressFeedFor(ctx: { config: Config; log: Logger; builder?: Builder }): ProgressFeed {
  if (ctx.builder) return ctx.builder.manager.progress
  const config = ctx.config
  return new DaemonProgressFeed(config.builder.url, ctx.log, () => builderApiSecret(config))
}

export class DaemonProgressFeed implements ProgressFeed {
  private readonly base: string
  private readonly unix: string | undefined
  private secret: Promise<string> | undefined

  /** `loadSecret`: the job API's shared secret (read once, when first needed). */
  constructor(
    url: string,
    private readonly log: Logger,
    private readonly loadSecret: () => Promise<string>,
  ) {
    if (url.startsWith('unix:')) {
      this.unix = url.slice(5)
      this.base = 'http://builder'
    } else {
      this.base = url.replace(/\/+$/, '')
    }
  }

  async subscribe(key: string, listener: ProgressListener): Promise<() => void> {
    const ac = new AbortController()
    const unsubscribe = () => ac.abort()
    const firstLine = AbortSignal.timeout(FIRST_LINE_MS)
    const onTimeout = () => ac.abort()
    firstLine.addEventListener('abort', onTimeout, { once: true })
    try {
      this.secret ??= this.loadSecret().catch((err: unknown) => {
        this.secret = undefined // try again with the next subscriber
        throw err
      })
      const headers = { authorization: `Bearer ${await this.secret}` }
      const res = await fetch(`${this.base}/v1/progress/${key}`, { headers, signal: ac.signal, ...(this.unix ? { unix: this.unix } : {}) })
      if (!res.ok || !res.body) throw new Error(`builder answered ${res.status}`)
      const lines = readLines(res.body)
      const first = await lines.next()
      firstLine.removeEventListener('abort', onTimeout)
      if (!first.done) deliver(first.value, listener)
      void (async () => {
        for await (const line of lines) deliver(line, listener)
      })().catch(() => {}) // aborted by unsubscribe, or the daemon went away
      return unsubscribe
    } catch (err) {
      firstLine.removeEventListener('abort', onTimeout)
      ac.abort()
      this.log.warn('build progress unavailable from the builder', { error: err instanceof Error ? err.message : String(err) })
      return () => {}
    }
  }
}

function deliver(line: string, listener: ProgressListener): void {
  if (line.trim() === '') return // keep-alive
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return
  }
  const parsed = v.safeParse(ProgressEventSchema, json)
  if (parsed.success) listener(parsed.output) // `{"state":"none"}` is not an event
}

/** The lines of a UTF-8 byte stream, without their line ends. */
async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
    }
    if (buffered.length > 64 * 1024) throw new Error('progress line too long')
  }
  if (buffered) yield buffered
}
