/**
 * Layer decompression by magic bytes (gzip `1f 8b`, zstd `28 b5 2f fd`, else plain tar), streamed
 * through Bun's built-in DecompressionStream (which handles both gzip and zstd incrementally).
 */
import { InvalidInputError } from '../errors.ts'

export type Compression = 'gzip' | 'zstd' | 'none'

/** Detects the compression of a layer from its first bytes; xz and bzip2 are refused. */
export function detectCompression(head: Uint8Array): Compression {
  const [a, b, c, d, e, f] = head
  if (a === 0x1f && b === 0x8b) return 'gzip'
  if (a === 0x28 && b === 0xb5 && c === 0x2f && d === 0xfd) return 'zstd'
  if (a === 0xfd && b === 0x37 && c === 0x7a && d === 0x58 && e === 0x5a && f === 0x00) throw new InvalidInputError('xz-compressed layers are not supported')
  if (a === 0x42 && b === 0x5a && c === 0x68) throw new InvalidInputError('bzip2-compressed layers are not supported')
  return 'none'
}

/**
 * Reads just enough of `stream` to see its magic bytes and returns an equivalent stream with those
 * bytes put back in front. Cancelling the result cancels the source.
 */
export async function peek(stream: ReadableStream<Uint8Array>, n: number): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  let done = false
  while (total < n) {
    const r = await reader.read()
    if (r.done) {
      done = true
      break
    }
    chunks.push(r.value)
    total += r.value.byteLength
  }
  const head = Buffer.concat(chunks, total)
  const out = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.byteLength > 0) controller.enqueue(head)
      if (done) controller.close()
    },
    async pull(controller) {
      if (done) return
      try {
        const r = await reader.read()
        if (r.done) {
          done = true
          controller.close()
        } else controller.enqueue(r.value)
      } catch (err) {
        controller.error(err)
      }
    },
    async cancel(reason) {
      await reader.cancel(reason)
    },
  })
  return { head: head.subarray(0, n), stream: out }
}

/** Returns the decompressed form of a (possibly) compressed layer stream and what was detected. */
export async function decompress(stream: ReadableStream<Uint8Array>): Promise<{ compression: Compression; stream: ReadableStream<Uint8Array> }> {
  const peeked = await peek(stream, 6)
  const compression = detectCompression(peeked.head)
  if (compression === 'none') return { compression, stream: peeked.stream }
  return { compression, stream: peeked.stream.pipeThrough(new DecompressionStream(compression) as unknown as TransformStream<Uint8Array, Uint8Array>) }
}
