/**
 * PE/COFF (PE32+) reading and the streaming "pieces" every PE producer here writes through.
 *
 * Why pieces: a UKI holds the kernel and the initramfs, so it is never built in memory. An output
 * is described as an ordered list of small header buffers, file ranges and zero runs; the same list
 * is hashed (Authenticode, PCR measurements) and then written, each pass streaming from disk.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { ImagerIOError, ioError } from './errors.ts'

export const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40
export const IMAGE_SCN_MEM_READ = 0x40000000
const PE32_PLUS = 0x20b
/** Data directory index of the certificate table (Authenticode signatures). */
export const DIR_SECURITY = 4

export interface SectionHeader {
  /** up to 8 bytes; longer names are not used by EFI images */
  readonly name: string
  readonly virtualSize: number
  readonly virtualAddress: number
  readonly sizeOfRawData: number
  readonly pointerToRawData: number
  readonly characteristics: number
}

export interface PeFile {
  readonly path: string
  readonly fileSize: number
  /** offset of `PE\0\0` (e_lfanew) */
  readonly peOffset: number
  /** the whole header region as stored (DOS header … section table, up to SizeOfHeaders) */
  readonly headers: Uint8Array
  readonly machine: number
  readonly timeDateStamp: number
  readonly characteristics: number
  readonly sizeOfOptionalHeader: number
  /** offset of the optional header in the file */
  readonly optOffset: number
  readonly sectionAlignment: number
  readonly fileAlignment: number
  readonly sizeOfHeaders: number
  readonly numberOfRvaAndSizes: number
  /** COFF symbol table (present in Debian's systemd binaries) */
  readonly hasSymbols: boolean
  readonly sections: readonly SectionHeader[]
}

/** One contiguous part of an output: bytes in memory, a range of a file, or zeros. */
export type Piece =
  | { readonly kind: 'bytes'; readonly data: Uint8Array }
  | { readonly kind: 'file'; readonly path: string; readonly offset: number; readonly length: number }
  | { readonly kind: 'zeros'; readonly length: number }

export interface ByteSink {
  write(chunk: Uint8Array): Promise<void> | void
}

export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a
}

export function pieceLength(p: Piece): number {
  return p.kind === 'bytes' ? p.data.byteLength : p.length
}

const CHUNK = 1024 * 1024

/** Streams `pieces` into `sink` in order (file ranges in 1 MiB chunks). */
export async function emitPieces(pieces: readonly Piece[], sink: ByteSink, signal?: AbortSignal): Promise<void> {
  const zeros = new Uint8Array(Math.min(CHUNK, Math.max(0, ...pieces.map((p) => (p.kind === 'zeros' ? p.length : 0)))))
  for (const p of pieces) {
    signal?.throwIfAborted()
    if (p.kind === 'bytes') {
      await sink.write(p.data)
    } else if (p.kind === 'zeros') {
      for (let left = p.length; left > 0; left -= zeros.byteLength) await sink.write(zeros.subarray(0, Math.min(left, zeros.byteLength)))
    } else {
      await readRange(p.path, p.offset, p.length, (c) => sink.write(c), signal)
    }
  }
}

/** Reads `[offset, offset+length)` of a file chunk by chunk (the chunk buffer is reused). */
export async function readRange(path: string, offset: number, length: number, onChunk: (c: Uint8Array) => Promise<void> | void, signal?: AbortSignal): Promise<void> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
  try {
    const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, length)))
    let pos = offset
    let left = length
    while (left > 0) {
      signal?.throwIfAborted()
      let n: number
      try {
        n = (await fh.read(buf, 0, Math.min(buf.byteLength, left), pos)).bytesRead
      } catch (err) {
        throw ioError(`cannot read ${path}`, err)
      }
      if (n === 0) throw ioError(`cannot read ${path}`, new Error(`unexpected end of file at ${pos}`))
      await onChunk(buf.subarray(0, n))
      pos += n
      left -= n
    }
  } finally {
    await fh.close()
  }
}

async function readBytes(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length)
  const { bytesRead } = await fh.read(buf, 0, length, offset)
  return buf.subarray(0, bytesRead)
}

/** A version input (stub, boot loader, kernel) that is not what it should be: not the client's fault. */
function bad(path: string, what: string): ImagerIOError {
  return new ImagerIOError(`${path.split('/').pop()}: not a usable PE32+ image: ${what}`)
}

/** Parses the headers and section table of a PE32+ file (EFI applications only). */
export async function readPe(path: string): Promise<PeFile> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
  try {
    const fileSize = (await fh.stat()).size
    const dos = await readBytes(fh, 0, 0x40)
    if (dos.byteLength < 0x40 || dos[0] !== 0x4d || dos[1] !== 0x5a) throw bad(path, 'no MZ header')
    const peOffset = new DataView(dos.buffer, dos.byteOffset).getUint32(0x3c, true)
    const head = await readBytes(fh, peOffset, 24)
    if (head.byteLength < 24 || head[0] !== 0x50 || head[1] !== 0x45 || head[2] !== 0 || head[3] !== 0) throw bad(path, 'no PE signature')
    const hv = new DataView(head.buffer, head.byteOffset)
    const numberOfSections = hv.getUint16(6, true)
    const sizeOfOptionalHeader = hv.getUint16(20, true)
    const optOffset = peOffset + 24
    const tableEnd = optOffset + sizeOfOptionalHeader + 40 * numberOfSections
    if (tableEnd > fileSize) throw bad(path, 'truncated headers')
    const opt = await readBytes(fh, optOffset, sizeOfOptionalHeader)
    const ov = new DataView(opt.buffer, opt.byteOffset)
    if (sizeOfOptionalHeader < 112 || ov.getUint16(0, true) !== PE32_PLUS) throw bad(path, 'not PE32+')
    const sizeOfHeaders = ov.getUint32(60, true)
    const headers = await readBytes(fh, 0, Math.max(sizeOfHeaders, tableEnd))
    const table = new DataView(headers.buffer, headers.byteOffset + optOffset + sizeOfOptionalHeader)
    const dec = new TextDecoder()
    const sections: SectionHeader[] = []
    for (let i = 0; i < numberOfSections; i++) {
      const o = i * 40
      const raw = headers.subarray(optOffset + sizeOfOptionalHeader + o, optOffset + sizeOfOptionalHeader + o + 8)
      const end = raw.indexOf(0)
      sections.push({
        name: dec.decode(end === -1 ? raw : raw.subarray(0, end)),
        virtualSize: table.getUint32(o + 8, true),
        virtualAddress: table.getUint32(o + 12, true),
        sizeOfRawData: table.getUint32(o + 16, true),
        pointerToRawData: table.getUint32(o + 20, true),
        characteristics: table.getUint32(o + 36, true),
      })
    }
    for (const s of sections) {
      if (s.sizeOfRawData > 0 && s.pointerToRawData + s.sizeOfRawData > fileSize) throw bad(path, `section ${s.name} extends past the end of the file`)
    }
    return {
      path,
      fileSize,
      peOffset,
      headers,
      machine: hv.getUint16(4, true),
      timeDateStamp: hv.getUint32(8, true),
      characteristics: hv.getUint16(22, true),
      sizeOfOptionalHeader,
      optOffset,
      sectionAlignment: ov.getUint32(32, true),
      fileAlignment: ov.getUint32(36, true),
      sizeOfHeaders,
      numberOfRvaAndSizes: ov.getUint32(108, true),
      hasSymbols: hv.getUint32(12, true) !== 0 || hv.getUint32(16, true) !== 0,
      sections,
    }
  } finally {
    await fh.close()
  }
}

/** Offset (in the file) of data directory `index` (8 bytes: RVA, size). */
export function dataDirOffset(pe: Pick<PeFile, 'optOffset' | 'numberOfRvaAndSizes'>, index: number): number | null {
  return index < pe.numberOfRvaAndSizes ? pe.optOffset + 112 + 8 * index : null
}

/** Certificate table (file offset, size) of a PE file, or null when it is not signed. */
export function certificateTable(pe: PeFile): { offset: number; size: number } | null {
  const at = dataDirOffset(pe, DIR_SECURITY)
  if (at === null) return null
  const v = new DataView(pe.headers.buffer, pe.headers.byteOffset)
  const offset = v.getUint32(at, true)
  const size = v.getUint32(at + 4, true)
  return size === 0 ? null : { offset, size }
}

/** The first `virtualSize` bytes of a (small) section, or null when the file has none of that name. */
export async function readSection(pe: PeFile, name: string): Promise<Uint8Array | null> {
  const s = pe.sections.find((x) => x.name === name)
  if (!s) return null
  const chunks: Uint8Array[] = []
  await readRange(pe.path, s.pointerToRawData, Math.min(s.virtualSize, s.sizeOfRawData), (c) => {
    chunks.push(c.slice())
  })
  return Buffer.concat(chunks)
}
