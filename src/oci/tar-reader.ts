/**
 * A streaming tar reader (ustar, pax local/global headers, GNU long names and base-256 numbers).
 * It only parses: what to do with an entry (and every safety check) is the caller's business,
 * see extract.ts. Entry bodies are streamed, never buffered; an unread body is skipped.
 *
 * After the end-of-archive marker the rest of the input is drained, so a digest-verifying source
 * stream still reaches its end and reports a mismatch.
 */
import { InvalidInputError } from '../errors.ts'

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'other'

export interface TarReadEntry {
  /** Path as recorded (pax `path` > GNU long name > ustar prefix/name); not sanitised. */
  path: string
  type: TarEntryType
  /** The raw typeflag character (`0`, `5`, `S`, …). */
  typeflag: string
  mode: number
  uid: number
  gid: number
  size: number
  /** Seconds since the epoch (pax may give a fraction). */
  mtime: number
  /** Symlink target or hardlink source (pax `linkpath` > GNU long link > header). */
  linkname: string
  uname: string
  gname: string
  devmajor: number
  devminor: number
  /** Effective pax records (global merged with local), e.g. `SCHILY.xattr.security.selinux`. */
  pax: Record<string, string>
  /** The entry's bytes; may be read at most once, before the next entry is requested. */
  body(): AsyncIterable<Uint8Array>
}

const BLOCK = 512
const MAX_META = 1024 * 1024
const decoder = new TextDecoder()

function truncated(): InvalidInputError {
  return new InvalidInputError('truncated tar archive')
}

interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>
  cancel(reason?: unknown): Promise<void>
}

/** Pulls exact byte counts out of a chunked stream. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0)
  private off = 0
  private eof = false

  constructor(private readonly reader: ChunkReader) {}

  private async fill(): Promise<boolean> {
    while (this.off >= this.buf.byteLength) {
      if (this.eof) return false
      const { done, value } = await this.reader.read()
      if (done || value === undefined) {
        this.eof = true
        return false
      }
      this.buf = value
      this.off = 0
    }
    return true
  }

  /** Exactly `n` bytes; null at a clean end of input; throws when the input ends midway. */
  async readExact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      if (!(await this.fill())) {
        if (got === 0) return null
        throw truncated()
      }
      const take = Math.min(n - got, this.buf.byteLength - this.off)
      out.set(this.buf.subarray(this.off, this.off + take), got)
      this.off += take
      got += take
    }
    return out
  }

  /** Yields the next `n` bytes as slices of the input chunks. */
  async *take(n: number): AsyncGenerator<Uint8Array> {
    let left = n
    while (left > 0) {
      if (!(await this.fill())) throw truncated()
      const take = Math.min(left, this.buf.byteLength - this.off)
      const slice = this.buf.subarray(this.off, this.off + take)
      this.off += take
      left -= take
      yield slice
    }
  }

  async skip(n: number): Promise<void> {
    let left = n
    while (left > 0) {
      if (!(await this.fill())) throw truncated()
      const take = Math.min(left, this.buf.byteLength - this.off)
      this.off += take
      left -= take
    }
  }

  async drain(): Promise<void> {
    this.off = this.buf.byteLength
    while (await this.fill()) this.off = this.buf.byteLength
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.reader.cancel(reason).catch(() => {})
  }
}

function cstring(block: Uint8Array, start: number, len: number): string {
  const field = block.subarray(start, start + len)
  const nul = field.indexOf(0)
  return decoder.decode(nul >= 0 ? field.subarray(0, nul) : field)
}

/** Octal ASCII (space/NUL padded) or GNU base-256 (high bit set). */
function number(block: Uint8Array, start: number, len: number, field: string): number {
  const first = block[start] ?? 0
  if (first & 0x80) {
    if (first === 0xff) throw new InvalidInputError(`negative tar ${field}`)
    let v = first & 0x7f
    for (let i = 1; i < len; i++) v = v * 256 + (block[start + i] ?? 0)
    if (!Number.isSafeInteger(v)) throw new InvalidInputError(`tar ${field} too large`)
    return v
  }
  const text = cstring(block, start, len).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw new InvalidInputError(`invalid tar ${field} field`)
  const v = Number.parseInt(text, 8)
  if (!Number.isSafeInteger(v)) throw new InvalidInputError(`tar ${field} too large`)
  return v
}

function verifyChecksum(block: Uint8Array): void {
  const stored = number(block, 148, 8, 'checksum')
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0)
    unsigned += b
    signed += b > 127 ? b - 256 : b
  }
  if (stored !== unsigned && stored !== signed) throw new InvalidInputError('tar header checksum mismatch')
}

/** Parses pax records `<len> <key>=<value>\n` (len counts bytes of the whole record). */
export function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {}
  let pos = 0
  while (pos < data.byteLength) {
    if (data[pos] === 0) break
    const space = data.indexOf(0x20, pos)
    if (space < 0) throw new InvalidInputError('malformed pax header')
    const len = Number.parseInt(decoder.decode(data.subarray(pos, space)), 10)
    if (!Number.isSafeInteger(len) || len <= space - pos || pos + len > data.byteLength || data[pos + len - 1] !== 0x0a) {
      throw new InvalidInputError('malformed pax header')
    }
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1))
    const eq = record.indexOf('=')
    if (eq <= 0) throw new InvalidInputError('malformed pax header')
    out[record.slice(0, eq)] = record.slice(eq + 1)
    pos += len
  }
  return out
}

function typeOf(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file'
    case '1':
      return 'hardlink'
    case '2':
      return 'symlink'
    case '3':
      return 'char'
    case '4':
      return 'block'
    case '5':
      return 'directory'
    case '6':
      return 'fifo'
    default:
      return 'other'
  }
}

/** Entries whose size field does not announce data blocks (as Go's archive/tar treats them). */
function headerOnly(type: TarEntryType): boolean {
  return type === 'hardlink' || type === 'symlink' || type === 'char' || type === 'block' || type === 'directory' || type === 'fifo'
}

function paxNumber(v: string | undefined, field: string): number | undefined {
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new InvalidInputError(`invalid pax ${field}`)
  return n
}

/**
 * Iterates the entries of an uncompressed tar stream. Stops at the end-of-archive marker (or at a
 * clean end of input) and then drains the input. Malformed input → InvalidInputError.
 * Breaking out of the loop cancels the input stream.
 */
export async function* readTar(stream: ReadableStream<Uint8Array>): AsyncGenerator<TarReadEntry> {
  const r = new ByteReader(stream.getReader())
  let finished = false
  try {
    let globalPax: Record<string, string> = {}
    let localPax: Record<string, string> | undefined
    let longName: string | undefined
    let longLink: string | undefined
    for (;;) {
      const block = await r.readExact(BLOCK)
      if (block === null) break
      if (block.every((b) => b === 0)) {
        await r.drain()
        break
      }
      verifyChecksum(block)
      const flag = String.fromCharCode(block[156] ?? 0)
      const rawSize = number(block, 124, 12, 'size')
      const padded = (n: number) => n + ((BLOCK - (n % BLOCK)) % BLOCK)

      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (rawSize > MAX_META) throw new InvalidInputError('tar metadata record too large')
        const data = (await r.readExact(padded(rawSize))) ?? new Uint8Array(0)
        if (data.byteLength < rawSize) throw truncated()
        const body = data.subarray(0, rawSize)
        if (flag === 'x') localPax = { ...(localPax ?? {}), ...parsePax(body) }
        else if (flag === 'g') globalPax = { ...globalPax, ...parsePax(body) }
        else {
          const nul = body.indexOf(0)
          const text = decoder.decode(nul >= 0 ? body.subarray(0, nul) : body)
          if (flag === 'L') longName = text
          else longLink = text
        }
        continue
      }

      const magic = cstring(block, 257, 6)
      const isUstar = magic === 'ustar' && block[262] === 0
      let name = cstring(block, 0, 100)
      if (isUstar) {
        const prefix = cstring(block, 345, 155)
        if (prefix) name = `${prefix}/${name}`
      }
      const pax = { ...globalPax, ...(localPax ?? {}) }
      if (longName !== undefined) name = longName
      if (pax.path !== undefined) name = pax.path
      let linkname = cstring(block, 157, 100)
      if (longLink !== undefined) linkname = longLink
      if (pax.linkpath !== undefined) linkname = pax.linkpath

      let type = typeOf(flag)
      // Pre-POSIX archives mark directories as regular files with a trailing slash.
      if (type === 'file' && flag !== '7' && name.endsWith('/')) type = 'directory'
      const size = paxNumber(pax.size, 'size') ?? rawSize
      const dataSize = headerOnly(type) ? 0 : size

      let remaining = dataSize
      let consumed = false
      const entry: TarReadEntry = {
        path: name,
        type,
        typeflag: flag,
        mode: number(block, 100, 8, 'mode') & 0o7777,
        uid: paxNumber(pax.uid, 'uid') ?? number(block, 108, 8, 'uid'),
        gid: paxNumber(pax.gid, 'gid') ?? number(block, 116, 8, 'gid'),
        size: dataSize,
        mtime: paxNumber(pax.mtime, 'mtime') ?? number(block, 136, 12, 'mtime'),
        linkname,
        uname: pax.uname ?? cstring(block, 265, 32),
        gname: pax.gname ?? cstring(block, 297, 32),
        devmajor: type === 'char' || type === 'block' ? number(block, 329, 8, 'devmajor') : 0,
        devminor: type === 'char' || type === 'block' ? number(block, 337, 8, 'devminor') : 0,
        pax,
        body: () => {
          if (consumed) throw new Error('tar entry body already read')
          consumed = true
          return (async function* () {
            for await (const chunk of r.take(remaining)) {
              remaining -= chunk.byteLength
              yield chunk
            }
          })()
        },
      }
      localPax = undefined
      longName = undefined
      longLink = undefined
      yield entry
      await r.skip(remaining + (padded(dataSize) - dataSize))
      remaining = 0
    }
    finished = true
  } finally {
    if (!finished) await r.cancel()
  }
}
