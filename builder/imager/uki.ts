/**
 * Unified kernel image (imager-spec §5): the version's systemd-stub with the kernel, initramfs,
 * command line and os-release appended as PE sections, in the reference's order; for Secure Boot
 * also the PCR public key and the signed PCR 11 policy, and an Authenticode signature over the
 * whole image.
 *
 * Assembly follows the reference's native assembler (§5.2): the stub's sections keep their
 * virtual addresses; new sections follow at the stub's SectionAlignment, each given as much
 * address space as its data (so nothing overlaps — an overlap boots silently corrupt); file
 * offsets are consecutive from SizeOfHeaders at FileAlignment; TimeDateStamp is
 * SOURCE_DATE_EPOCH. The image is streamed to the sink, never held in memory.
 *
 * Deviations (builder/imager/README.md): no `.splash` (we do not ship Sidero's logo); a stub with a
 * COFF symbol table (Debian's) is accepted and the table dropped; extra UKI profiles are only
 * added when the stub understands `.profile` (systemd ≥ 257), see {@link stubSupportsProfiles}.
 */
import type { KeyObject } from 'node:crypto'
import { open } from 'node:fs/promises'
import { signImage, type PeSigner } from './authenticode.ts'
import { ImagerIOError, ioError } from './errors.ts'
import { digestBytes, digestPiece, pcrPublicKeyPem, pcrSignatureJson, type Digests } from './pcr.ts'
import {
  alignUp,
  dataDirOffset,
  DIR_SECURITY,
  emitPieces,
  IMAGE_SCN_CNT_INITIALIZED_DATA,
  IMAGE_SCN_MEM_READ,
  pieceLength,
  readPe,
  readSection,
  type ByteSink,
  type PeFile,
  type Piece,
  type SectionHeader,
} from './pe.ts'

/** An extra UKI profile (systemd ≥ 257 offers these as boot menu entries). */
export interface UkiProfile {
  readonly id: string
  readonly title: string
  readonly cmdline: string
}

export interface UkiOptions {
  /** systemd-stub (`linuxx64.efi.stub`) */
  readonly stub: string
  readonly kernel: string
  readonly initrd: string
  readonly cmdline: string
  /** profile `name` (`Talos`) and version, for `.osrel` */
  readonly name: string
  readonly version: string
  /** `.profile` sections (Talos ≥ 1.10, quirk SupportsUKIProfiles) */
  readonly profiles: boolean
  /** extra profiles, added only when the stub supports them */
  readonly extraProfiles?: readonly UkiProfile[]
  /** PE TimeDateStamp */
  readonly timestamp: number
  /** Secure Boot: signer for the image, PCR key for `.pcrpkey`/`.pcrsig` */
  readonly secureBoot?: { readonly signer: PeSigner; readonly pcrKey: KeyObject }
  readonly signal?: AbortSignal
}

export interface UkiSectionInfo {
  readonly name: string
  readonly size: number
}

export interface UkiResult {
  /** appended sections, in file order */
  readonly sections: readonly UkiSectionInfo[]
  /** extra profiles left out because the stub does not support them */
  readonly droppedProfiles: readonly string[]
}

/** `.osrel` contents (Talos `OSReleaseTemplate`). */
export function osRelease(name: string, version: string): string {
  const id = name.replaceAll(' ', '_').toLowerCase()
  return (
    `NAME="${name}"\nID=${id}\nVERSION_ID=${version}\nPRETTY_NAME="${name} (${version})"\n` +
    'HOME_URL="https://www.talos.dev/"\nBUG_REPORT_URL="https://github.com/siderolabs/talos/issues"\n' +
    'VENDOR_NAME="Sidero Labs"\nVENDOR_URL="https://www.siderolabs.com/"\n'
  )
}

/** `.profile` contents. */
export function profileText(p: { id: string; title?: string }): string {
  return p.title ? `ID=${p.id}\nTITLE=${p.title}` : `ID=${p.id}`
}

/**
 * Kernel release from an x86 bzImage header (`HdrS`, version string offset at 0x20E), or null
 * (arm64 Image files have no such header; the reference then omits `.uname`).
 */
export async function kernelRelease(kernel: string): Promise<string | null> {
  let fh
  try {
    fh = await open(kernel, 'r')
  } catch (err) {
    throw ioError(`cannot read ${kernel}`, err)
  }
  try {
    const head = new Uint8Array(1024)
    await fh.read(head, 0, 1024, 0)
    if (new TextDecoder().decode(head.subarray(0x202, 0x206)) !== 'HdrS') return null
    const setupSects = head[0x1f1]!
    const off = head[0x20e]! | (head[0x20f]! << 8)
    if (off === 0 || off > setupSects * 0x200) return null
    const buf = new Uint8Array(256)
    const { bytesRead } = await fh.read(buf, 0, 256, off + 0x200)
    const text = new TextDecoder().decode(buf.subarray(0, bytesRead))
    const nul = text.indexOf('\0')
    if (nul === -1) return null
    return text.slice(0, nul).split(' ')[0] || null
  } finally {
    await fh.close()
  }
}

/**
 * systemd version of a stub or boot loader, from its `.sbat` (the line of "The systemd
 * Developers"), or null when it has none.
 */
export async function systemdVersion(pe: PeFile): Promise<number | null> {
  const sbat = await readSection(pe, '.sbat')
  if (!sbat) return null
  for (const line of new TextDecoder().decode(sbat).split('\n')) {
    const f = line.split(',')
    if (f[2] === 'The systemd Developers') {
      const v = Number.parseInt(f[4] ?? '', 10)
      return Number.isFinite(v) ? v : null
    }
  }
  return null
}

/**
 * Whether the stub selects UKI profiles. Stubs before systemd 257 ignore `.profile` and take the
 * *last* `.cmdline` in the file (Debian 12's 252 boots the reset profile's command line, see
 * test/e2e/iso-boot.test.ts), so extra profiles must not reach them.
 */
export async function stubSupportsProfiles(pe: PeFile): Promise<boolean> {
  const v = await systemdVersion(pe)
  return v !== null && v >= 257
}

export interface AppendedSection {
  readonly name: string
  readonly data: Piece
}

export interface PeLayout {
  /** DOS header … section table, SizeOfHeaders long */
  readonly headers: Uint8Array
  readonly optOffset: number
  readonly numberOfRvaAndSizes: number
  readonly sections: readonly SectionHeader[]
  /** section data after the headers, in file order */
  readonly body: readonly Piece[]
}

const DOS_HEADER = 0x40
const PE_OFFSET = 0x80

/** Lays out `stub` + `appended` sections (imager-spec §5.2). Pure: reads nothing but `stub`. */
export function layoutPe(stub: PeFile, appended: readonly AppendedSection[], timestamp: number): PeLayout {
  const sa = stub.sectionAlignment
  const fa = stub.fileAlignment
  if (sa === 0 || fa === 0) throw new ImagerIOError('systemd-stub: zero section or file alignment')
  const optSize = stub.sizeOfOptionalHeader
  const count = stub.sections.length + appended.length
  const optOffset = PE_OFFSET + 4 + 20
  const sizeOfHeaders = alignUp(optOffset + optSize + 40 * count, fa)
  const lowestVa = Math.min(...stub.sections.map((s) => s.virtualAddress))
  if (sizeOfHeaders > lowestVa) throw new ImagerIOError('systemd-stub: no room for the new section headers before its first section')

  const sections: SectionHeader[] = []
  const body: Piece[] = []
  let fileOff = sizeOfHeaders
  for (const s of stub.sections) {
    sections.push({ ...s, pointerToRawData: s.sizeOfRawData > 0 ? fileOff : 0 })
    if (s.sizeOfRawData > 0) body.push({ kind: 'file', path: stub.path, offset: s.pointerToRawData, length: s.sizeOfRawData })
    fileOff += s.sizeOfRawData
  }
  let va = alignUp(Math.max(...stub.sections.map((s) => s.virtualAddress + s.virtualSize)), sa)
  for (const a of appended) {
    if (a.name.length > 8) throw new Error(`PE section name ${a.name} is longer than 8 bytes`)
    const size = pieceLength(a.data)
    const raw = alignUp(size, fa)
    sections.push({ name: a.name, virtualSize: size, virtualAddress: va, sizeOfRawData: raw, pointerToRawData: raw > 0 ? fileOff : 0, characteristics: IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ })
    body.push(a.data)
    if (raw > size) body.push({ kind: 'zeros', length: raw - size })
    fileOff += raw
    va = alignUp(va + size, sa)
  }
  const last = sections[sections.length - 1]!
  const sizeOfImage = alignUp(last.virtualAddress + last.virtualSize, sa)

  const h = new Uint8Array(sizeOfHeaders)
  const v = new DataView(h.buffer)
  h.set(stub.headers.subarray(0, DOS_HEADER), 0)
  v.setUint32(0x3c, PE_OFFSET, true)
  h.set([0x50, 0x45, 0, 0], PE_OFFSET)
  // COFF header: the stub's, with our section count and timestamp, and no symbol table
  h.set(stub.headers.subarray(stub.peOffset + 4, stub.peOffset + 24), PE_OFFSET + 4)
  v.setUint16(PE_OFFSET + 6, count, true)
  v.setUint32(PE_OFFSET + 8, timestamp >>> 0, true)
  v.setUint32(PE_OFFSET + 12, 0, true)
  v.setUint32(PE_OFFSET + 16, 0, true)
  // optional header
  h.set(stub.headers.subarray(stub.optOffset, stub.optOffset + optSize), optOffset)
  let code = 0
  let data = 0
  for (const s of sections) {
    if (s.characteristics & IMAGE_SCN_CNT_INITIALIZED_DATA) data += s.sizeOfRawData
    else code += s.sizeOfRawData
  }
  h[optOffset + 2] = 0 // MajorLinkerVersion
  h[optOffset + 3] = 0 // MinorLinkerVersion
  v.setUint32(optOffset + 4, code, true)
  v.setUint32(optOffset + 8, data, true)
  v.setUint32(optOffset + 56, sizeOfImage, true)
  v.setUint32(optOffset + 60, sizeOfHeaders, true)
  v.setUint32(optOffset + 64, 0, true) // CheckSum
  const numberOfRvaAndSizes = stub.numberOfRvaAndSizes
  const sec = dataDirOffset({ optOffset, numberOfRvaAndSizes }, DIR_SECURITY)
  // a signed stub's certificate table is not carried over
  if (sec !== null) v.setBigUint64(sec, 0n, true)
  // section table (relocation and line-number fields zero)
  const enc = new TextEncoder()
  sections.forEach((s, i) => {
    const o = optOffset + optSize + 40 * i
    h.set(enc.encode(s.name).subarray(0, 8), o)
    v.setUint32(o + 8, s.virtualSize, true)
    v.setUint32(o + 12, s.virtualAddress, true)
    v.setUint32(o + 16, s.sizeOfRawData, true)
    v.setUint32(o + 20, s.pointerToRawData, true)
    v.setUint32(o + 36, s.characteristics, true)
  })
  return { headers: h, optOffset, numberOfRvaAndSizes, sections, body }
}

const bytes = (text: string): Piece => ({ kind: 'bytes', data: new TextEncoder().encode(text) })

async function fileSize(path: string): Promise<number> {
  try {
    const fh = await open(path, 'r')
    try {
      return (await fh.stat()).size
    } finally {
      await fh.close()
    }
  } catch (err) {
    throw ioError(`cannot read ${path}`, err)
  }
}

/**
 * Builds the UKI and streams it into `sink`. For Secure Boot, the PCR policy is computed from the
 * section digests (one streaming pass over the kernel and initramfs) and the image is
 * Authenticode-signed (one more pass for the image hash).
 */
export async function writeUki(opts: UkiOptions, sink: ByteSink): Promise<UkiResult> {
  const stub = await readPe(opts.stub)
  const sbat = await readSection(stub, '.sbat')
  const linux: Piece = { kind: 'file', path: opts.kernel, offset: 0, length: await fileSize(opts.kernel) }
  const initrd: Piece = { kind: 'file', path: opts.initrd, offset: 0, length: await fileSize(opts.initrd) }
  const uname = await kernelRelease(opts.kernel)
  const sb = opts.secureBoot

  const base: AppendedSection[] = [
    { name: '.osrel', data: bytes(osRelease(opts.name, opts.version)) },
    { name: '.cmdline', data: bytes(opts.cmdline) },
    ...(uname !== null ? [{ name: '.uname', data: bytes(uname) }] : []),
    ...(sb ? [{ name: '.pcrpkey', data: bytes(pcrPublicKeyPem(sb.pcrKey)) }] : []),
    { name: '.linux', data: linux },
    { name: '.initrd', data: initrd },
  ]
  const requested = opts.profiles ? (opts.extraProfiles ?? []) : []
  const extra = requested.length > 0 && (await stubSupportsProfiles(stub)) ? requested : []
  if (requested.some((p) => p.id === 'main')) throw new Error("UKI profile ID 'main' is reserved")
  const groups: AppendedSection[][] = opts.profiles
    ? [
        [{ name: '.profile', data: bytes(profileText({ id: 'main' })) }],
        ...extra.map((p) => [
          { name: '.profile', data: bytes(profileText(p)) },
          { name: '.cmdline', data: bytes(p.cmdline) },
        ]),
      ]
    : []

  let appended: AppendedSection[]
  if (sb) {
    // measured contents: the base sections (and the stub's .sbat), each profile's own overriding
    const digests = new Map<string, Digests>()
    for (const s of base) digests.set(s.name, s.data.kind === 'bytes' ? digestBytes(s.data.data) : await digestPiece(s.data, opts.signal))
    if (sbat) digests.set('.sbat', digestBytes(sbat))
    const pcrsig = (sections: readonly AppendedSection[]): AppendedSection => {
      const set = new Map(digests)
      for (const s of sections) if (s.data.kind === 'bytes') set.set(s.name, digestBytes(s.data.data))
      return { name: '.pcrsig', data: bytes(pcrSignatureJson(set, sb.pcrKey)) }
    }
    appended = groups.length > 0 ? [...base, ...groups.flatMap((g) => [...g, pcrsig(g)])] : [...base, pcrsig([])]
  } else {
    appended = [...base, ...groups.flat()]
  }

  const layout = layoutPe(stub, appended, opts.timestamp)
  if (sb) await signImage(layout, sb.signer, sink, opts.signal)
  else await emitPieces([{ kind: 'bytes', data: layout.headers }, ...layout.body], sink, opts.signal)
  return {
    sections: appended.map((s) => ({ name: s.name, size: pieceLength(s.data) })),
    droppedProfiles: requested.filter((p) => !extra.includes(p)).map((p) => p.id),
  }
}
