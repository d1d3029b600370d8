/**
 * Reverse proxy for registry reads (factory-spec §8.3): the same method to the target URL, the
 * client's headers forwarded except `Host` and `Authorization` (credentials never leave for
 * another registry), the query kept, and the upstream status, headers and body streamed back
 * unchanged (no decompression, no buffering; redirects passed to the client).
 */
import { UpstreamUnavailableError } from '../../src/errors.ts'

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']
const DROPPED_REQUEST = new Set([...HOP_BY_HOP, 'host', 'authorization', 'cookie', 'content-length', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'])
/** the edge sets its own */
const DROPPED_RESPONSE = new Set([...HOP_BY_HOP, 'server', 'x-request-id', 'date'])

export async function proxyRequest(request: Request, url: string): Promise<Response> {
  const headers = new Headers()
  for (const [k, v] of request.headers) if (!DROPPED_REQUEST.has(k.toLowerCase())) headers.set(k, v)
  let res: Response
  try {
    res = await fetch(url, { method: request.method, headers, redirect: 'manual', decompress: false, signal: request.signal })
  } catch (err) {
    throw new UpstreamUnavailableError(`registry ${new URL(url).host} is unreachable: ${(err as Error).message.split('\n')[0]}`, { cause: err })
  }
  const out = new Headers()
  for (const [k, v] of res.headers) if (!DROPPED_RESPONSE.has(k.toLowerCase())) out.set(k, v)
  return new Response(request.method === 'HEAD' ? null : res.body, { status: res.status, headers: out })
}
