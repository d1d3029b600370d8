/**
 * The raw disk image under construction: a sparse file of the full disk size that pieces are
 * written into at their offsets. Partition filesystems are built as files of their own (no loop
 * devices, no mounts) and placed with a sparse copy, so an 8 GiB image only ever occupies the
 * bytes that hold data.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { ioError } from './errors.ts'

/** Read size for sparse copies: small enough that reading holes stays in the CPU cache. */
const CHUNK = 128 * 1024
const ZERO = new Uint8Array(CHUNK)

export function isZero(chunk: Uint8Array): boolean {
  return Buffer.compare(chunk, ZERO.subarray(0, chunk.byteLength)) === 0
}

/** Creates (or truncates) `path` as a sparse file of `size` bytes. */
export async function createSparseFile(path: string, size: number): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(path, 'w', 0o644)
    await fh.truncate(size)
  } catch (err) {
    throw ioError(`cannot create ${path}`, err)
  } finally {
    await fh?.close()
  }
}

type Lseek = (fd: number, offset: number, whence: number) => number
const SEEK_DATA = 3
const SEEK_HOLE = 4

let lseekFn: Lseek | null | undefined

/**
 * libc's lseek through bun:ffi, for SEEK_DATA/SEEK_HOLE (Node has no API for them); null where it
 * cannot be loaded — callers then read the holes and skip the zeros, which is only slower.
 */
async function lseek(): Promise<Lseek | null> {
  if (lseekFn !== undefined) return lseekFn
  try {
    const { dlopen, FFIType } = await import('bun:ffi')
    const lib = dlopen('libc.so.6', { lseek: { args: [FFIType.i32, FFIType.i64, FFIType.i32], returns: FFIType.i64 } })
    lseekFn = (fd, offset, whence) => Number(lib.symbols.lseek(fd, offset, whence))
  } catch {
    lseekFn = null
  }
  return lseekFn
}

/** For tests: pretend SEEK_DATA is unavailable (true) or use it when it is (false). */
export function forceHoleScan(on: boolean): void {
  lseekFn = on ? null : undefined
}

/**
 * The [start, end) ranges of `fh` below `limit` that may hold data (SEEK_DATA/SEEK_HOLE); the
 * whole range when the filesystem or runtime cannot tell.
 */
export async function dataRanges(fh: FileHandle, limit: number): Promise<[number, number][]> {
  const seek = await lseek()
  if (seek === null) return [[0, limit]]
  const ranges: [number, number][] = []
  let off = 0
  while (off < limit) {
    const data = seek(fh.fd, off, SEEK_DATA)
    if (data < 0 || data >= limit) break
    let hole = seek(fh.fd, data, SEEK_HOLE)
    if (hole < 0) return [[0, limit]]
    hole = Math.min(hole, limit)
    ranges.push([data, hole])
    off = hole
  }
  return ranges
}

/**
 * Calls `onData(offset, bytes)` for every chunk of `path` that is not all zeros, in order, looking
 * at most at `limit` bytes; returns the number of bytes covered (min(limit, file size)). Holes are
 * skipped without reading them where SEEK_DATA works. The buffer passed is reused.
 */
export async function forEachDataChunk(path: string, limit: number, onData: (offset: number, data: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<number> {
  let src: FileHandle
  try {
    src = await open(path, 'r')
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
  const buf = new Uint8Array(CHUNK)
  let size: number
  try {
    size = Math.min(limit, (await src.stat()).size)
    for (const [start, end] of await dataRanges(src, size)) {
      let offset = start
      while (offset < end) {
        signal?.throwIfAborted()
        let n: number
        try {
          n = (await src.read(buf, 0, Math.min(CHUNK, end - offset), offset)).bytesRead
        } catch (err) {
          throw ioError(`cannot read ${path}`, err)
        }
        if (n === 0) break
        const chunk = buf.subarray(0, n)
        if (!isZero(chunk)) await onData(offset, chunk)
        offset += n
      }
    }
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  } finally {
    await src.close()
  }
  return size
}

export class DiskFile {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly size: number,
  ) {}

  /** Creates the sparse image file of `size` bytes and opens it for writing. */
  static async create(path: string, size: number): Promise<DiskFile> {
    await createSparseFile(path, size)
    return DiskFile.open(path, size)
  }

  /** Opens an existing image file (e.g. after an overlay installer wrote into it). */
  static async open(path: string, size: number): Promise<DiskFile> {
    try {
      return new DiskFile(await open(path, 'r+'), path, size)
    } catch (err) {
      throw ioError(`cannot open ${path}`, err)
    }
  }

  async writeAt(offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0 || offset + data.byteLength > this.size) throw ioError(`write outside the disk image at ${offset}`, new Error('out of range'))
    let done = 0
    try {
      while (done < data.byteLength) {
        const { bytesWritten } = await this.fh.write(data, done, data.byteLength - done, offset + done)
        done += bytesWritten
      }
    } catch (err) {
      throw ioError(`cannot write ${this.path}`, err)
    }
  }

  async readAt(offset: number, length: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length)
    try {
      await this.fh.read(buf, 0, length, offset)
    } catch (err) {
      throw ioError(`cannot read ${this.path}`, err)
    }
    return buf
  }

  /** Copies the data blocks of `src` (at most `maxBytes`) to `offset`; holes stay holes. */
  async place(src: string, offset: number, maxBytes: number, signal?: AbortSignal): Promise<void> {
    await forEachDataChunk(src, maxBytes, (o, data) => this.writeAt(offset + o, data), signal)
  }

  async close(): Promise<void> {
    await this.fh.close()
  }
}
