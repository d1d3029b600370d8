/**
 * Build progress of one asset as Server-Sent Events: GET /progress/:schematic/:version/:path.
 *
 * Like a HEAD on /image, the request starts a cold build (the UI's "Build now"); a cached asset
 * answers `done` at once. The asset is checked exactly as /image checks it, so a bad schematic,
 * version or path gets the same 4xx/501 before any event. Events:
 *
 *   queued    {"reason":"slot"|"lock"}       waiting for a build slot, or for another node's lock
 *   building  {"phase":…,"bytes":N}          repeated while the output grows (and as a heartbeat)
 *   done      {"size":N,"sha256":"…"}        the stream ends
 *   failed    {"reason":"one line"}          the stream ends
 *
 * A client that goes away does not cancel the build. States never go backwards: once a build is
 * reported running, this node's own "waiting for the lock" is not sent.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import type { AppContext } from '../context.ts'
import type { ProgressEvent, ProgressFeed } from '../../builder/progress.ts'
import { errorToResponse } from '../http/errors.ts'

const RANK: Record<ProgressEvent['state'], number> = { queued: 0, building: 1, done: 2, failed: 2 }
const KEEPALIVE_MS = 15_000

const Params = v.object({
  schematic: v.pipe(v.string(), v.description('schematic ID')),
  version: v.pipe(v.string(), v.description('Talos version'), v.metadata({ examples: ['v1.12.0'] })),
  path: v.pipe(v.string(), v.description('asset file name, as in /image (e.g. initramfs-amd64.xz)'), v.metadata({ examples: ['initramfs-amd64.xz'] })),
})

const ErrorText = { 'text/plain': { schema: { type: 'string' as const, description: 'one-line reason' } } }
const EVENT_STREAM_DOC = [
  'A `text/event-stream`. Events (the `data` line is JSON):',
  '',
  '* `queued` `{"reason":"slot"|"lock"}` — waiting for a free build slot, or for another node that holds the build lock;',
  '* `building` `{"phase":"preparing"|"writing"|"publishing","bytes":N}` — sent again as the output grows (and every few seconds);',
  '* `done` `{"size":N,"sha256":"<hex>"}` — the asset is in the cache; the stream ends;',
  '* `failed` `{"reason":"<one line>"}` — the stream ends.',
  '',
  'Comment lines (`: keep-alive`) keep idle connections open.',
].join('\n')

export function progressRoutes(ctx: AppContext, feed: ProgressFeed) {
  return new Elysia({ name: 'progress' }).get(
    '/progress/:schematic/:version/:path',
    async ({ params, request, set }) => {
      const { job } = await ctx.assets.plan(params.schematic, params.version, params.path)
      const requestId = String(set.headers['x-request-id'] ?? '')
      const failedReason = async (err: unknown) => {
        // the one place errors become client text (a failed build's detail is logged, not sent)
        const res = errorToResponse(err, ctx.log, { 'x-request-id': requestId }, { request_id: requestId, method: request.method, path: new URL(request.url).pathname })
        return (await res.text()).trim()
      }
      const enc = new TextEncoder()
      let stop = () => {}
      const stream = new ReadableStream<Uint8Array>({
        start: async (controller) => {
          let closed = false
          let rank = -1
          let unsubscribe = () => {}
          const write = (s: string) => {
            if (closed) return
            try {
              controller.enqueue(enc.encode(s))
            } catch {
              stop() // the client is gone
            }
          }
          const keepalive = setInterval(() => write(': keep-alive\n\n'), KEEPALIVE_MS)
          stop = () => {
            if (closed) return
            closed = true
            clearInterval(keepalive)
            unsubscribe()
          }
          const send = (event: ProgressEvent) => {
            const r = RANK[event.state]
            if (closed || r < rank) return
            rank = r
            const { state, ...data } = event
            write(`event: ${state}\ndata: ${JSON.stringify(data)}\n\n`)
            if (r === 2) {
              stop()
              try {
                controller.close()
              } catch {
                // already closed by the client
              }
            }
          }
          write('retry: 10000\n\n')
          unsubscribe = await feed.subscribe(job.key, send)
          if (closed) return unsubscribe()
          try {
            const hit = await ctx.assets.lookup(job)
            if (hit) return send({ state: 'done', size: hit.meta.size, sha256: hit.meta.sha256 })
          } catch (err) {
            return send({ state: 'failed', reason: await failedReason(err) })
          }
          // not tied to this client: the build goes on if it disconnects
          ctx.assets.ensure(job, requestId || undefined).then(
            ({ meta }) => send({ state: 'done', size: meta.size, sha256: meta.sha256 }),
            async (err: unknown) => send({ state: 'failed', reason: await failedReason(err) }),
          )
        },
        cancel: () => stop(),
      })
      return new Response(stream, {
        headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
      })
    },
    {
      params: Params,
      detail: {
        summary: 'Build progress of an asset (Server-Sent Events)',
        tags: ['assets'],
        description:
          'Starts the build of a boot asset when it is not cached (like HEAD on /image) and reports its progress as Server-Sent Events until it is done or failed. Works for builds running on any builder node that shares Redis with this one. Errors in the schematic, version or path are answered like /image, before any event.',
        responses: {
          200: { description: EVENT_STREAM_DOC, content: { 'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events' } } } },
          400: { description: 'malformed version or path', content: ErrorText },
          404: { description: 'unknown schematic or version', content: ErrorText },
          501: { description: 'an output kind this factory does not build yet', content: ErrorText },
        },
      },
    },
  )
}
