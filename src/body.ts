/**
 * Reads a request body up to a byte limit without trusting Content-Length alone: an oversized
 * body is refused as soon as the limit is crossed, before it is buffered.
 */
import { PayloadTooLargeError } from './errors.ts'

export async function readBodyLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > limit) {
    throw new PayloadTooLargeError(`request body is larger than the limit of ${limit} bytes`)
  }
  if (!request.body) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => {})
      throw new PayloadTooLargeError(`request body is larger than the limit of ${limit} bytes`)
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks, total)
}
