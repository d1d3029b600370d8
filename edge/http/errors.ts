/**
 * The one place where errors become HTTP responses (factory-spec §1.2–1.3): typed domain errors
 * keep their status and one-line message; anything unexpected is logged and answered with a bare
 * 500 so no stack trace or internal detail ever reaches a client.
 */
import { isFactoryError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'

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

export function errorToResponse(err: unknown, log: Logger, headers: Record<string, string>): Response {
  if (isFactoryError(err)) {
    const extra: Record<string, string> = { ...headers }
    if (err.status === 401) extra['www-authenticate'] = 'Basic realm="Image Factory", charset="UTF-8"'
    return textResponse(err.status, oneLine(err.message), extra)
  }
  log.error('unhandled error', { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), stack: err instanceof Error ? err.stack : undefined })
  return textResponse(500, 'internal server error', headers)
}
