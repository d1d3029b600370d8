/**
 * Deterministic tar writer (POSIX ustar headers, PAX extended headers where ustar cannot express a
 * field). Used for OCI image layers and for the virtual extensions the imager consumes.
 *
 * Determinism rules: the caller fixes the entry order (see `sortTarEntries` / `withParentDirs`);
 * every header gets a fixed mtime (default {@link DEFAULT_TAR_MTIME}, the SOURCE_DATE_EPOCH Talos
 * uses), uid/gid 0, empty user/group names and an explicit mode. PAX records are written sorted by
 * key, and the PAX header's own name follows Go's archive/tar convention (`dir/PaxHeaders.0/base`).
 *
 * The writer is streaming: `tarChunks()` is an async generator yielding 512-byte-aligned pieces,
 * and file entries may name a file on disk (`source`) which is streamed, never buffered whole.
 */
import { stat } from 'node:fs/promises'

/** 2019-06-01T21:34:52Z — the SOURCE_DATE_EPOCH Talos release builds use. */
export const DEFAULT_TAR_MTIME = 1559424892

const BLOCK = 512
const ZERO_BLOCK = new Uint8Array(BLOCK)
const encoder = new TextEncoder()

/** A tar was asked to contain something ustar/PAX cannot represent, or a streamed source changed size. */
export class TarWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TarWriteError'
  }
}

interface TarEntryCommon {
  /** Relative path without a leading `/` or `./`; no `..` components. Directories may end with `/`. */
  path: string
  /** Permission bits (e.g. 0o755). Defaults: dir 0o755, file 0o644, symlink 0o777. */
  mode?: number
  /** Seconds since the epoch; defaults to the writer's mtime. */
  mtime?: number
  uid?: number
  gid?: number
  /** Extra PAX records, e.g. `{ 'SCHILY.xattr.security.selinux': 'system_u:object_r:system_state_t:s0' }`. */
  pax?: Record<string, string>
}

export interface TarDirEntry extends TarEntryCommon {
  type: 'dir'
}

/** A regular file from memory (`data`) or streamed from disk (`source`). */
export interface TarFileEntry extends TarEntryCommon {
  type: 'file'
  data?: Uint8Array | string
  source?: string
}

export interface TarSymlinkEntry extends TarEntryCommon {
  type: 'symlink'
  target: string
}

export type TarEntry = TarDirEntry | TarFileEntry | TarSymlinkEntry

export interface TarWriterOptions {
  /** mtime for entries that do not set one (default {@link DEFAULT_TAR_MTIME}). */
  mtime?: number
}

/** Normalises a tar path: strips `./` and leading `/`, rejects `..` and empty paths. */
export function normalizeTarPath(path: string): string {
  let p = path.replace(/^(\.\/)+/, '').replace(/^\/+/, '')
  p = p.replace(/\/+$/, '')
  if (p === '' || p === '.') throw new TarWriteError(`invalid tar path ${JSON.stringify(path)}`)
  const parts = p.split('/')
  if (parts.some((c) => c === '..' || c === '' || c === '.')) {
    throw new TarWriteError(`invalid tar path ${JSON.stringify(path)}`)
  }
  return p
}

function compareBytes(a: string, b: string): number {
  // Byte-wise (C locale) order of the UTF-8 encodings; for ASCII this is plain code-unit order.
  const ea = encoder.encode(a)
  const eb = encoder.encode(b)
  const n = Math.min(ea.length, eb.length)
  for (let i = 0; i < n; i++) {
    const d = (ea[i] as number) - (eb[i] as number)
    if (d !== 0) return d
  }
  return ea.length - eb.length
}

/** Returns the entries sorted by normalised path (C-locale byte order: a parent sorts before its children). */
export function sortTarEntries<T extends TarEntry>(entries: readonly T[]): T[] {
  return entries
    .map((e) => ({ e, key: normalizeTarPath(e.path) }))
    .sort((a, b) => compareBytes(a.key, b.key))
    .map((x) => x.e)
}

/**
 * Adds a directory entry for every missing parent directory, rejects duplicate paths, and returns
 * everything sorted (see {@link sortTarEntries}).
 */
export function withParentDirs(entries: readonly TarEntry[], dirMode = 0o755): TarEntry[] {
  const seen = new Map<string, TarEntry>()
  for (const e of entries) {
    const key = normalizeTarPath(e.path)
    if (seen.has(key)) throw new TarWriteError(`duplicate tar entry ${JSON.stringify(key)}`)
    seen.set(key, e)
  }
  const out = [...entries]
  for (const key of [...seen.keys()]) {
    const parts = key.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      const existing = seen.get(dir)
      if (existing === undefined) {
        const d: TarDirEntry = { type: 'dir', path: dir, mode: dirMode }
        seen.set(dir, d)
        out.push(d)
      } else if (existing.type !== 'dir') {
        throw new TarWriteError(`tar entry ${JSON.stringify(dir)} is not a directory but has children`)
      }
    }
  }
  return sortTarEntries(out)
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s)
}

/** Octal field: zero-padded digits followed by a NUL, `width` bytes in total. */
function writeOctal(buf: Uint8Array, offset: number, width: number, value: number): boolean {
  const digits = value.toString(8)
  if (digits.length > width - 1) return false
  writeString(buf, offset, width, digits.padStart(width - 1, '0'))
  return true
}

function writeString(buf: Uint8Array, offset: number, width: number, value: string): void {
  const bytes = encoder.encode(value)
  if (bytes.length > width) throw new TarWriteError(`tar header field overflow: ${JSON.stringify(value)}`)
  buf.set(bytes, offset)
}

/** One PAX record: `<len> <key>=<value>\n`, where len counts the whole record including itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`
  const bodyLen = encoder.encode(body).length
  let len = bodyLen + String(bodyLen).length
  if (String(len).length !== String(len - bodyLen).length) len = bodyLen + String(len).length
  return `${len}${body}`
}

interface HeaderFields {
  name: string
  mode: number
  uid: number
  gid: number
  size: number
  mtime: number
  typeflag: string
  linkname: string
}

/** Splits a path into ustar prefix (≤155) + name (≤100); null when it does not fit. */
function splitUstarName(name: string): { prefix: string; name: string } | null {
  if (!isAscii(name)) return null
  if (name.length <= 100) return { prefix: '', name }
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue
    const prefix = name.slice(0, i)
    const rest = name.slice(i + 1)
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return { prefix, name: rest }
    if (name.length - i - 1 > 100) break
  }
  return null
}

function buildHeader(f: HeaderFields, prefix: string): Uint8Array {
  const h = new Uint8Array(BLOCK)
  writeString(h, 0, 100, f.name)
  if (!writeOctal(h, 100, 8, f.mode)) throw new TarWriteError(`mode out of range: ${f.mode}`)
  if (!writeOctal(h, 108, 8, f.uid)) throw new TarWriteError(`uid out of range: ${f.uid}`)
  if (!writeOctal(h, 116, 8, f.gid)) throw new TarWriteError(`gid out of range: ${f.gid}`)
  if (!writeOctal(h, 124, 12, f.size)) throw new TarWriteError(`size out of range: ${f.size}`)
  if (!writeOctal(h, 136, 12, f.mtime)) throw new TarWriteError(`mtime out of range: ${f.mtime}`)
  h.fill(0x20, 148, 156) // checksum placeholder: 8 spaces
  writeString(h, 156, 1, f.typeflag)
  writeString(h, 157, 100, f.linkname)
  writeString(h, 257, 6, 'ustar\0')
  writeString(h, 263, 2, '00')
  // uname/gname stay empty; devmajor/devminor as octal zero like Go/GNU tar
  writeOctal(h, 329, 8, 0)
  writeOctal(h, 337, 8, 0)
  writeString(h, 345, 155, prefix)
  let sum = 0
  for (const b of h) sum += b
  writeString(h, 148, 7, sum.toString(8).padStart(6, '0') + '\0')
  return h
}

function padding(size: number): Uint8Array {
  const rem = size % BLOCK
  return rem === 0 ? new Uint8Array(0) : new Uint8Array(BLOCK - rem)
}

const MAX_OCTAL_SIZE = 0o77777777777

/** Header block(s) for one entry: an optional PAX `x` header + its data, then the ustar header. */
function headerBlocks(entry: TarEntry, size: number, defaultMtime: number): Uint8Array[] {
  const path = normalizeTarPath(entry.path)
  const fullName = entry.type === 'dir' ? `${path}/` : path
  const mode = entry.mode ?? (entry.type === 'dir' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644)
  const mtime = entry.mtime ?? defaultMtime
  if (!Number.isInteger(mtime) || mtime < 0) throw new TarWriteError(`invalid mtime ${mtime} for ${path}`)
  const linkname = entry.type === 'symlink' ? entry.target : ''
  const pax: Record<string, string> = { ...(entry.pax ?? {}) }

  let name = fullName
  let prefix = ''
  const split = splitUstarName(fullName)
  if (split === null) {
    pax.path = fullName
    name = asciiTruncate(fullName, 100)
  } else {
    name = split.name
    prefix = split.prefix
  }
  let link = linkname
  if (linkname !== '' && (!isAscii(linkname) || linkname.length > 100)) {
    pax.linkpath = linkname
    link = asciiTruncate(linkname, 100)
  }
  let headerSize = size
  if (size > MAX_OCTAL_SIZE) {
    pax.size = String(size)
    headerSize = 0
  }

  const blocks: Uint8Array[] = []
  const keys = Object.keys(pax).sort(compareBytes)
  if (keys.length > 0) {
    for (const k of keys) {
      if (k === '' || k.includes('=')) throw new TarWriteError(`invalid PAX key ${JSON.stringify(k)}`)
    }
    const data = encoder.encode(keys.map((k) => paxRecord(k, pax[k] as string)).join(''))
    const slash = path.lastIndexOf('/')
    const dir = slash < 0 ? '' : path.slice(0, slash + 1)
    const base = slash < 0 ? path : path.slice(slash + 1)
    const paxName = asciiTruncate(`${dir}PaxHeaders.0/${base}`, 100)
    blocks.push(buildHeader({ name: paxName, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime, typeflag: 'x', linkname: '' }, ''))
    blocks.push(data, padding(data.length))
  }
  const typeflag = entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0'
  blocks.push(
    buildHeader({ name, mode, uid: entry.uid ?? 0, gid: entry.gid ?? 0, size: headerSize, mtime, typeflag, linkname: link }, prefix),
  )
  return blocks
}

function asciiTruncate(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(0, max)
}

async function fileSize(entry: TarFileEntry): Promise<number> {
  if (entry.data !== undefined && entry.source !== undefined) {
    throw new TarWriteError(`tar entry ${entry.path}: give either data or source, not both`)
  }
  if (entry.source !== undefined) {
    const st = await stat(entry.source)
    if (!st.isFile()) throw new TarWriteError(`tar entry ${entry.path}: source ${entry.source} is not a regular file`)
    return st.size
  }
  if (entry.data === undefined) return 0
  return typeof entry.data === 'string' ? encoder.encode(entry.data).length : entry.data.length
}

/**
 * Streams a tar archive for `entries` in the given order (sort first for reproducible output).
 * Yields header blocks, file data and padding; ends with the two zero blocks.
 */
export async function* tarChunks(
  entries: Iterable<TarEntry> | AsyncIterable<TarEntry>,
  options: TarWriterOptions = {},
): AsyncGenerator<Uint8Array> {
  const mtime = options.mtime ?? DEFAULT_TAR_MTIME
  for await (const entry of entries) {
    if (entry.type !== 'file') {
      for (const b of headerBlocks(entry, 0, mtime)) if (b.length > 0) yield b
      continue
    }
    const size = await fileSize(entry)
    for (const b of headerBlocks(entry, size, mtime)) if (b.length > 0) yield b
    if (entry.source !== undefined) {
      let written = 0
      for await (const chunk of Bun.file(entry.source).stream()) {
        written += chunk.length
        if (written > size) throw new TarWriteError(`tar entry ${entry.path}: ${entry.source} grew while being archived`)
        yield chunk
      }
      if (written !== size) throw new TarWriteError(`tar entry ${entry.path}: ${entry.source} shrank while being archived`)
    } else if (entry.data !== undefined) {
      const data = typeof entry.data === 'string' ? encoder.encode(entry.data) : entry.data
      if (data.length > 0) yield data
    }
    const pad = padding(size)
    if (pad.length > 0) yield pad
  }
  yield ZERO_BLOCK
  yield ZERO_BLOCK
}

/** The whole archive in memory (small archives: virtual extensions, catalogue layers, tests). */
export async function tarToBytes(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>, options: TarWriterOptions = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let total = 0
  for await (const c of tarChunks(entries, options)) {
    parts.push(c)
    total += c.length
  }
  return Buffer.concat(parts, total)
}

/** The archive as a web ReadableStream (e.g. for a Response body or a registry blob upload). */
export function tarStream(entries: Iterable<TarEntry> | AsyncIterable<TarEntry>, options: TarWriterOptions = {}): ReadableStream<Uint8Array> {
  const it = tarChunks(entries, options)
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    async cancel() {
      await it.return(undefined)
    },
  })
}
