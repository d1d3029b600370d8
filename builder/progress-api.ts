/**
 * The builder daemon's progress endpoint, read by the edge (edge/progress-feed.ts):
 *
 *   GET /v1/progress/<cache key>   application/x-ndjson: the current state first
 *                                  (`{"state":"none"}` when nothing is known), then one line per
 *                                  change; an empty line every few seconds keeps the connection
 *                                  open; the stream ends after `done` or `failed`.
 *
 * The edge subscribes before it asks for the build, so the first line doubles as "subscribed".
 * The daemon reports builds it runs itself and, with Redis, builds other nodes run.
 */
import { isTerminal, type ProgressEvent, type ProgressFeed } from './progress.ts'

export const PROGRESS_PATH = '/v1/progress/'
const KEY_RE = /^[0-9a-f]{64}$/
const KEEPALIVE_MS = 5000

function text(status: number, body: string): Response {
  return new Response(`${body}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

/** Answers `GET /v1/progress/<key>`; the caller routes every path under PROGRESS_PATH here. */
export async function progressRequest(req: Request, feed: ProgressFeed): Promise<Response> {
  if (req.method !== 'GET') return text(405, 'Method Not Allowed')
  const key = new URL(req.url).pathname.slice(PROGRESS_PATH.length)
  if (!KEY_RE.test(key)) return text(404, '404 page not found')
  const enc = new TextEncoder()
  let stop = () => {}
  const stream = new ReadableStream<Uint8Array>({
    start: async (controller) => {
      let closed = false
      const line = (s: string) => {
        if (closed) return
        try {
          controller.enqueue(enc.encode(`${s}\n`))
        } catch {
          stop() // the edge went away
        }
      }
      const keepalive = setInterval(() => line(''), KEEPALIVE_MS)
      let unsubscribe = () => {}
      stop = () => {
        if (closed) return
        closed = true
        clearInterval(keepalive)
        unsubscribe()
      }
      let first = true
      const send = (event: ProgressEvent) => {
        first = false
        line(JSON.stringify(event))
        if (isTerminal(event)) {
          stop()
          try {
            controller.close()
          } catch {
            // already closed by the client
          }
        }
      }
      unsubscribe = await feed.subscribe(key, send)
      if (closed) unsubscribe() // ended by the snapshot (or cancelled) before subscribe returned
      else if (first) line('{"state":"none"}')
    },
    cancel: () => stop(),
  })
  return new Response(stream, { headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' } })
}
