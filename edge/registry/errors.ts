/**
 * OCI distribution-spec error bodies for everything under `/v2/`:
 * `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…","detail":null}]}` with the spec's codes, so
 * docker, podman, skopeo and crane show the reason. Typed factory errors thrown by shared code
 * (schematic lookup, version checks, builds) are mapped here with a code that fits the resource.
 */
import { isFactoryError } from '../../src/errors.ts'
import type { Logger } from '../../src/log.ts'
import { BuildFailedError } from '../builder-client.ts'
import { oneLine } from '../http/errors.ts'

export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'UNSUPPORTED'
  | 'UNAVAILABLE'
  | 'UNKNOWN'

/** A failure with the status and OCI code it is answered with. */
export class OciError extends Error {
  constructor(
    readonly status: number,
    readonly code: OciErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'OciError'
  }
}

export function ociErrorResponse(status: number, code: OciErrorCode, message: string, headers: Record<string, string> = {}): Response {
  const body = `${JSON.stringify({ errors: [{ code, message: oneLine(message), detail: null }] })}\n`
  return new Response(body, { status, headers: { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) } })
}

/**
 * The OCI answer for any error. `notFound` is the code a 404 gets for this resource
 * (MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN). Internal failures are logged, never shown.
 */
export function ociErrorFrom(err: unknown, notFound: OciErrorCode, log: Logger, context: Record<string, unknown>, headers: Record<string, string>): Response {
  if (err instanceof OciError) return ociErrorResponse(err.status, err.code, err.message, headers)
  if (isFactoryError(err)) {
    if (err.status === 404) return ociErrorResponse(404, notFound, err.message, headers)
    if (err.status === 400) return ociErrorResponse(400, notFound === 'BLOB_UNKNOWN' ? 'DIGEST_INVALID' : 'MANIFEST_INVALID', err.message, headers)
    if (err.status === 501) return ociErrorResponse(501, 'UNSUPPORTED', err.message, headers)
    if (err.status === 503 || err.status === 502) return ociErrorResponse(err.status, 'UNAVAILABLE', err.message, headers)
    if (err.status !== 500) return ociErrorResponse(err.status, 'UNKNOWN', err.message, headers)
    if (err instanceof BuildFailedError) {
      log.error('build failed', { ...context, asset: err.asset?.url, key: err.asset?.key, error: err.message })
      return ociErrorResponse(500, 'UNKNOWN', 'build failed (see the factory log)', headers)
    }
  }
  log.error('registry request failed', { ...context, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), stack: err instanceof Error ? err.stack : undefined })
  return ociErrorResponse(500, 'UNKNOWN', 'internal server error', headers)
}
