/**
 * The one place where errors become HTTP responses (factory-spec §1.2–1.3): typed domain errors
 * keep their status and one-line message; anything unexpected is logged and answered with a bare
 * 500 so no stack trace or internal detail ever reaches a client.
 */
import { isFactoryError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'
import { BuildFailedError } from '../builder-client.ts'

export function textResponse(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...headers },
  })
}

/** First line only, trimmed: a reason must fit on one line. */
export function oneLine(message: string): string {
  return (message.split('\n')[0] ?? '').trim().slice(0, 1000) || 'bad request'
}

/**
 * `context` (request ID, method, path) goes into the log line of internal failures. Typed 4xx,
 * 501 and 503 errors keep their reason; a 500 (a failed build, an internal fault) is logged with
 * its detail and answered with a fixed line: its message may carry host paths or tool output.
 */
export function errorToResponse(err: unknown, log: Logger, headers: Record<string, string>, context: Record<string, unknown> = {}): Response {
  if (isFactoryError(err) && err.status === 500) {
    const requestId = headers['x-request-id'] ?? ''
    if (err instanceof BuildFailedError) {
      log.error('build failed', { ...context, asset: err.asset?.url, key: err.asset?.key, error: err.message })
      return textResponse(500, oneLine(`build failed (see the factory log${requestId ? `, request ${requestId}` : ''})`), headers)
    }
    log.error('internal error', { ...context, error: `${err.name}: ${err.message}` })
    return textResponse(500, 'internal server error', headers)
  }
  if (isFactoryError(err)) {
    if (err.status >= 500 && err.cause !== undefined) {
      log.warn('upstream failure', { ...context, error: err.message, cause: err.cause instanceof Error ? err.cause.message : String(err.cause) })
    }
    const extra: Record<string, string> = { ...headers }
    if (err.status === 401) extra['www-authenticate'] = 'Basic realm="Image Factory", charset="UTF-8"'
    return textResponse(err.status, oneLine(err.message), extra)
  }
  log.error('unhandled error', { ...context, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), stack: err instanceof Error ? err.stack : undefined })
  return textResponse(500, 'internal server error', headers)
}
