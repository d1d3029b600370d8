/**
 * newc ("070701") cpio archives, written and read as streams.
 *
 * Writer: produces the same bytes as GNU cpio 2.13 `cpio -H newc --create --reproducible
 * --quiet -R +0:+0` for the same tree with the same mtimes (checked by a unit test against the
 * real tool): inodes renumbered from 0 in archive order, device numbers 0, uid/gid 0, a directory's
 * link count = 2 + its subdirectories (what ext4/tmpfs report), `TRAILER!!!` and zero padding to a
 * 512-byte block. Writing it ourselves avoids a staging tree (file bodies are streamed straight
 * from the extension cache) and makes mtimes and link counts independent of the host filesystem.
 * Hard links are never produced.
 *
 * Reader: walks the entries of a (decompressed) newc stream, including concatenated archives with
 * zero padding between them, without buffering bodies.
 */
import { InvalidInputError } from '../../src/errors.ts'

export type CpioEntry =
  | { readonly kind: 'dir'; readonly name: string; readonly mode: number }
  | {
      readonly kind: 'file'
      readonly name: string
      readonly mode: number
      readonly size: number
      /** The body; must yield exactly `size` bytes. */
      readonly data: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>
    }
  | { readonly kind: 'symlink'; readonly name: string; readonly target: string }

export interface CpioWriteOptions {
  /** mtime of every entry (seconds since the epoch). */
  readonly mtime: number
}

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const BLOCK = 512
const encoder = new TextEncoder()

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`)
  return n.toString(16).toUpperCase().padStart(8, '0')
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4
}

function header(f: { ino: number; mode: number; nlink: number; mtime: number; size: number; name: string }): Uint8Array {
  const name = encoder.encode(f.name)
  const namesize = name.byteLength + 1
  const text =
    '070701' +
    hex8(f.ino) +
    hex8(f.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(f.nlink) +
    hex8(f.mtime) +
    hex8(f.size) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(0) + // rdevmajor
    hex8(0) + // rdevminor
    hex8(namesize) +
    hex8(0) // check
  const head = encoder.encode(text)
  const out = new Uint8Array(head.byteLength + namesize + pad4(head.byteLength + namesize))
  out.set(head, 0)
  out.set(name, head.byteLength)
  return out
}

function parentOf(name: string): string {
  const i = name.lastIndexOf('/')
  return i === -1 ? '' : name.slice(0, i)
}

/**
 * Yields the archive bytes for `entries`, in the given order (callers sort: see
 * {@link orderDepthFirst}). Names are relative, without `./`.
 */
export async function* writeNewc(entries: readonly CpioEntry[], opts: CpioWriteOptions): AsyncGenerator<Uint8Array> {
  const subdirs = new Map<string, number>()
  for (const e of entries) {
    if (e.kind === 'dir') subdirs.set(parentOf(e.name), (subdirs.get(parentOf(e.name)) ?? 0) + 1)
  }
  let total = 0
  let ino = 0
  for (const e of entries) {
    if (e.name === '' || e.name.startsWith('/') || e.name.includes('\0')) throw new RangeError(`invalid cpio entry name ${JSON.stringify(e.name)}`)
    if (e.kind === 'dir') {
      const h = header({ ino: ino++, mode: S_IFDIR | (e.mode & 0o7777), nlink: 2 + (subdirs.get(e.name) ?? 0), mtime: opts.mtime, size: 0, name: e.name })
      total += h.byteLength
      yield h
    } else if (e.kind === 'symlink') {
      const target = encoder.encode(e.target)
      const h = header({ ino: ino++, mode: S_IFLNK | 0o777, nlink: 1, mtime: opts.mtime, size: target.byteLength, name: e.name })
      const body = new Uint8Array(target.byteLength + pad4(target.byteLength))
      body.set(target, 0)
      total += h.byteLength + body.byteLength
      yield h
      yield body
    } else {
      const h = header({ ino: ino++, mode: S_IFREG | (e.mode & 0o7777), nlink: 1, mtime: opts.mtime, size: e.size, name: e.name })
      total += h.byteLength
      yield h
      let written = 0
      for await (const chunk of e.data()) {
        if (chunk.byteLength === 0) continue
        written += chunk.byteLength
        if (written > e.size) throw new InvalidInputError(`${e.name} grew while it was being archived`)
        yield chunk
      }
      if (written !== e.size) throw new InvalidInputError(`${e.name} changed size while it was being archived`)
      const pad = pad4(e.size)
      total += e.size + pad
      if (pad > 0) yield new Uint8Array(pad)
    }
  }
  const trailer = header({ ino: 0, mode: 0, nlink: 1, mtime: 0, size: 0, name: 'TRAILER!!!' })
  total += trailer.byteLength
  yield trailer
  const tail = (BLOCK - (total % BLOCK)) % BLOCK
  if (tail > 0) yield new Uint8Array(tail)
}

/** Go `filepath.Walk`-style order: parents first, siblings in byte order of their names. */
export function orderDepthFirst<T extends { readonly name: string }>(entries: readonly T[]): T[] {
  const children = new Map<string, T[]>()
  const byName = new Map<string, T>()
  for (const e of entries) {
    if (byName.has(e.name)) throw new RangeError(`duplicate cpio entry ${JSON.stringify(e.name)}`)
    byName.set(e.name, e)
    const p = parentOf(e.name)
    const list = children.get(p)
    if (list) list.push(e)
    else children.set(p, [e])
  }
  const out: T[] = []
  const visit = (dir: string): void => {
    const list = children.get(dir)
    if (!list) return
    list.sort((a, b) => compareBytes(baseName(a.name), baseName(b.name)))
    for (const e of list) {
      out.push(e)
      visit(e.name)
    }
  }
  visit('')
  if (out.length !== entries.length) throw new RangeError('cpio entries are missing parent directories')
  return out
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1)
}

/** Byte-wise (UTF-8) comparison, as Go sorts strings. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

// ------------------------------------------------------------------------------------------------
// Reader

export interface CpioReadEntry {
  readonly name: string
  readonly mode: number
  readonly size: number
  readonly mtime: number
  readonly nlink: number
  readonly ino: number
  /** The body; read it at most once, before asking for the next entry (unread bodies are skipped). */
  body(): AsyncIterable<Uint8Array>
}

/** Exact-length reads over a chunked stream. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0)
  private off = 0
  private done = false
  /** Total bytes consumed so far (for alignment). */
  pos = 0

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async fill(): Promise<boolean> {
    while (this.off >= this.buf.byteLength) {
      if (this.done) return false
      const r = await this.it.next()
      if (r.done === true) {
        this.done = true
        return false
      }
      this.buf = r.value
      this.off = 0
    }
    return true
  }

  /** Up to `max` bytes (at least one), or null at the end of the stream. */
  async chunk(max: number): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null
    const n = Math.min(max, this.buf.byteLength - this.off)
    const out = this.buf.subarray(this.off, this.off + n)
    this.off += n
    this.pos += n
    return out
  }

  async exact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const c = await this.chunk(n - got)
      if (c === null) throw new InvalidInputError('truncated cpio archive')
      out.set(c, got)
      got += c.byteLength
    }
    return out
  }

  async skip(n: number): Promise<void> {
    let left = n
    while (left > 0) {
      const c = await this.chunk(left)
      if (c === null) throw new InvalidInputError('truncated cpio archive')
      left -= c.byteLength
    }
  }

  /** Skips NUL padding; returns false at the end of the stream. */
  async skipZeros(): Promise<boolean> {
    for (;;) {
      if (!(await this.fill())) return false
      while (this.off < this.buf.byteLength && this.buf[this.off] === 0) {
        this.off++
        this.pos++
      }
      if (this.off < this.buf.byteLength) return true
    }
  }
}

const decoder = new TextDecoder()

function field(h: Uint8Array, i: number): number {
  const text = decoder.decode(h.subarray(6 + i * 8, 14 + i * 8))
  if (!/^[0-9A-Fa-f]{8}$/.test(text)) throw new InvalidInputError('malformed cpio header')
  return parseInt(text, 16)
}

/**
 * Entries of a newc (or newc-crc, `070702`) stream. Archives may be concatenated, separated by
 * zero padding; each `TRAILER!!!` is skipped. Throws InvalidInputError on anything else.
 */
export async function* readNewc(source: AsyncIterable<Uint8Array>): AsyncGenerator<CpioReadEntry> {
  const it = source[Symbol.asyncIterator]()
  try {
    yield* readEntries(new ByteReader(it))
  } finally {
    // stop the source (e.g. kill a decompressor) when the consumer stops early
    await it.return?.()
  }
}

async function* readEntries(r: ByteReader): AsyncGenerator<CpioReadEntry> {
  for (;;) {
    if (!(await r.skipZeros())) return
    const h = await r.exact(110)
    const magic = decoder.decode(h.subarray(0, 6))
    if (magic !== '070701' && magic !== '070702') throw new InvalidInputError('not a newc cpio archive')
    const ino = field(h, 0)
    const mode = field(h, 1)
    const nlink = field(h, 4)
    const mtime = field(h, 5)
    const size = field(h, 6)
    const namesize = field(h, 11)
    if (namesize === 0 || namesize > 65536) throw new InvalidInputError('malformed cpio header')
    const nameBytes = await r.exact(namesize)
    await r.skip(pad4(110 + namesize))
    const name = decoder.decode(nameBytes.subarray(0, namesize - 1))
    const bodyPad = pad4(size)
    if (name === 'TRAILER!!!') {
      await r.skip(size + bodyPad)
      continue
    }
    let consumed = false
    let left = size
    const body = async function* (): AsyncGenerator<Uint8Array> {
      if (consumed) throw new Error('cpio entry body already read')
      consumed = true
      while (left > 0) {
        const c = await r.chunk(left)
        if (c === null) throw new InvalidInputError('truncated cpio archive')
        left -= c.byteLength
        yield c
      }
    }
    yield { name, mode, size, mtime, nlink, ino, body }
    if (left > 0) await r.skip(left)
    await r.skip(bodyPad)
  }
}
