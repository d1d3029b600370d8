/**
 * The asset file being produced, written strictly front to back.
 *
 * Every write goes straight to the kernel (no user-space buffering), so a reader tailing the file
 * sees bytes as soon as they are final; tools that produce a part of the asset (the compressor of
 * the extensions cpio) write directly into the same file descriptor (O_APPEND). Atomic
 * publication is the caller's business: on failure the partial file is left for the caller to
 * discard.
 */
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { forEachDataChunk } from './disk-file.ts'
import { ioError } from './errors.ts'
import { runTool } from './exec.ts'

const COPY_CHUNK = 1024 * 1024

export class OutputSink {
  private written = 0

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
  ) {}

  /** Creates/truncates `path` for appending. */
  static async open(path: string): Promise<OutputSink> {
    try {
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o644)
      return new OutputSink(fh, path)
    } catch (err) {
      throw ioError(`cannot create output ${path}`, err)
    }
  }

  get fd(): number {
    return this.fh.fd
  }

  /** Bytes appended so far by this process (tool writes are counted by {@link size}). */
  get appended(): number {
    return this.written
  }

  async write(chunk: Uint8Array): Promise<void> {
    let off = 0
    try {
      while (off < chunk.byteLength) {
        const { bytesWritten } = await this.fh.write(chunk, off, chunk.byteLength - off)
        off += bytesWritten
      }
    } catch (err) {
      throw ioError(`cannot write output ${this.path}`, err)
    }
    this.written += chunk.byteLength
  }

  async writeAll(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    for await (const c of chunks) await this.write(c)
  }

  /** Appends a whole file, chunk by chunk; `onChunk` sees every chunk (e.g. to hash it). */
  async appendFile(path: string, onChunk?: (chunk: Uint8Array) => void): Promise<number> {
    let src: FileHandle
    try {
      src = await open(path, 'r')
    } catch (err) {
      throw ioError(`cannot read ${path}`, err)
    }
    let total = 0
    try {
      const buf = new Uint8Array(COPY_CHUNK)
      for (;;) {
        let n: number
        try {
          n = (await src.read(buf, 0, buf.byteLength, null)).bytesRead
        } catch (err) {
          throw ioError(`cannot read ${path}`, err)
        }
        if (n === 0) break
        const chunk = buf.subarray(0, n)
        onChunk?.(chunk)
        await this.write(chunk)
        total += n
      }
    } finally {
      await src.close()
    }
    return total
  }

  /**
   * Appends a whole (sparse) file: runs of zeros become holes (the file is extended with
   * ftruncate), so an 8 GiB raw disk image costs only its data blocks.
   */
  async appendSparseFile(path: string, signal?: AbortSignal): Promise<void> {
    const start = await this.size()
    let end = start
    const total = await forEachDataChunk(
      path,
      Number.MAX_SAFE_INTEGER,
      async (offset, data) => {
        const at = start + offset
        if (at > end) await this.extendTo(at)
        await this.write(data)
        end = at + data.byteLength
      },
      signal,
    )
    if (start + total > end) await this.extendTo(start + total)
  }

  private async extendTo(size: number): Promise<void> {
    try {
      await this.fh.truncate(size)
    } catch (err) {
      throw ioError(`cannot extend output ${this.path}`, err)
    }
  }

  /** Runs `cmd args…` with its stdout appended to the file (e.g. `zstd -c <file>`). */
  async appendToolOutput(cmd: string, args: readonly string[], signal?: AbortSignal): Promise<void> {
    await runTool(cmd, args, { stdout: this.fh.fd, signal })
  }

  /** Runs a filter (e.g. `zstd -c`) with `input` on its stdin and its stdout appended to the file. */
  async pipeThrough(cmd: string, args: readonly string[], input: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    await runTool(cmd, args, { stdin: input, stdout: this.fh.fd, signal })
  }

  /** Current size of the file (includes what tools appended). */
  async size(): Promise<number> {
    return (await this.fh.stat()).size
  }

  async close(opts: { sync: boolean }): Promise<void> {
    try {
      if (opts.sync) await this.fh.datasync()
    } catch (err) {
      throw ioError(`cannot sync output ${this.path}`, err)
    } finally {
      await this.fh.close()
    }
  }
}
