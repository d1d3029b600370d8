/**
 * Content digests (`sha256:<hex>`, `sha512:<hex>`): parsing, hashing, and a pass-through stream
 * that verifies a digest (and optionally a size) while bytes flow, failing at the end on mismatch.
 */
import { InvalidInputError, UpstreamUnavailableError } from '../errors.ts'

export type DigestAlgorithm = 'sha256' | 'sha512'

const DIGEST_RE = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/

/** True for a well-formed `sha256:<64 hex>` or `sha512:<128 hex>` digest. */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value)
}

/** Splits a digest into algorithm and hex; throws InvalidInputError when malformed. */
export function parseDigest(value: string): { algorithm: DigestAlgorithm; hex: string } {
  if (!isDigest(value)) throw new InvalidInputError(`invalid digest: ${JSON.stringify(value)}`)
  const i = value.indexOf(':')
  return { algorithm: value.slice(0, i) as DigestAlgorithm, hex: value.slice(i + 1) }
}

/** `sha256:<hex>` of the given bytes (or `sha512:` when asked). */
export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): string {
  const h = new Bun.CryptoHasher(algorithm)
  h.update(data)
  return `${algorithm}:${h.digest('hex')}`
}

/** Streams a file and returns its digest and size without buffering it. */
export async function digestOfFile(path: string, algorithm: DigestAlgorithm = 'sha256'): Promise<{ digest: string; size: number }> {
  const h = new Bun.CryptoHasher(algorithm)
  let size = 0
  for await (const chunk of Bun.file(path).stream()) {
    h.update(chunk)
    size += chunk.byteLength
  }
  return { digest: `${algorithm}:${h.digest('hex')}`, size }
}

/**
 * A TransformStream that passes bytes through unchanged and, at the end, errors the stream when the
 * content does not hash to `expected` (or its length differs from `expectedSize`, when given).
 * `what` names the content in the error message (e.g. `blob siderolabs/imager@sha256:…`).
 */
export function verifyingStream(expected: string, what: string, expectedSize?: number): TransformStream<Uint8Array, Uint8Array> {
  const { algorithm } = parseDigest(expected)
  const hasher = new Bun.CryptoHasher(algorithm)
  let size = 0
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hasher.update(chunk)
      size += chunk.byteLength
      if (expectedSize !== undefined && size > expectedSize) {
        controller.error(new UpstreamUnavailableError(`${what}: more bytes than the expected ${expectedSize}`))
        return
      }
      controller.enqueue(chunk)
    },
    flush(controller) {
      if (expectedSize !== undefined && size !== expectedSize) {
        controller.error(new UpstreamUnavailableError(`${what}: got ${size} bytes, expected ${expectedSize}`))
        return
      }
      const actual = `${algorithm}:${hasher.digest('hex')}`
      if (actual !== expected) {
        controller.error(new UpstreamUnavailableError(`${what}: digest mismatch, got ${actual}`))
      }
    },
  })
}

/** A TransformStream that passes bytes through and reports their digest and size once complete. */
export function hashingStream(
  onDone: (result: { digest: string; size: number }) => void,
  algorithm: DigestAlgorithm = 'sha256',
): TransformStream<Uint8Array, Uint8Array> {
  const hasher = new Bun.CryptoHasher(algorithm)
  let size = 0
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hasher.update(chunk)
      size += chunk.byteLength
      controller.enqueue(chunk)
    },
    flush() {
      onDone({ digest: `${algorithm}:${hasher.digest('hex')}`, size })
    },
  })
}
