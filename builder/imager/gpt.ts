/**
 * GPT partition tables for disk images (imager-spec §7.2), written by us rather than sgdisk so
 * the bytes are deterministic: the reference derives the disk and partition GUIDs from labels in
 * image mode, and we reproduce its allocation (1 MiB alignment, partitions back to back, each
 * exactly its size) and header layout (128 entries of 128 bytes, backup at the end of the disk).
 *
 * planGpt() only computes; gptWrites() returns the (offset, bytes) pieces to put into the image
 * file: the protective MBR's table + signature (bytes 446–511 only, so boot code written before or
 * after stays), the primary header and entries, the backup entries and header.
 */
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { InvalidInputError } from '../../src/errors.ts'

/** Partition type GUIDs (canonical text). */
export const PARTITION_TYPE = {
  efi: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  biosBoot: '21686148-6449-6E6F-744E-656564454649',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
} as const

/** GPT attribute bit 2: legacy BIOS bootable (set on the BIOS boot partition). */
export const ATTR_LEGACY_BIOS_BOOTABLE = 1n << 2n

/** Label the reference hashes for the disk GUID in image mode. */
export const DISK_GUID_LABEL = 'talos-image-disk'

const ENTRY_COUNT = 128
const ENTRY_SIZE = 128
const ENTRIES_BYTES = ENTRY_COUNT * ENTRY_SIZE
const HEADER_SIZE = 92
const ALIGNMENT_BYTES = 1024 * 1024

/**
 * The reference's `GUIDFromLabel`: a name-based UUID over SHA-256 with the nil namespace and
 * version nibble 8 (first 16 bytes of SHA-256(16 zero bytes ‖ label)), canonical upper-case text.
 */
export function guidFromLabel(label: string): string {
  const h = createHash('sha256').update(new Uint8Array(16)).update(label, 'utf8').digest()
  const b = h.subarray(0, 16)
  b[6] = (b[6]! & 0x0f) | 0x80
  b[8] = (b[8]! & 0x3f) | 0x80
  const hex = b.toString('hex').toUpperCase()
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** GUID text → the 16 on-disk bytes (first three fields little-endian, as GPT stores them). */
export function guidToBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`invalid GUID ${JSON.stringify(text)}`)
  const raw = Buffer.from(hex, 'hex')
  const out = new Uint8Array(16)
  out.set([raw[3]!, raw[2]!, raw[1]!, raw[0]!, raw[5]!, raw[4]!, raw[7]!, raw[6]!], 0)
  out.set(raw.subarray(8), 8)
  return out
}

/** Inverse of guidToBytes (canonical upper-case text). */
export function guidFromBytes(b: Uint8Array): string {
  const raw = Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8, 16)])
  const hex = raw.toString('hex').toUpperCase()
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export interface PartitionSpec {
  readonly label: string
  /** bytes, a multiple of the sector size; 0 = all remaining space */
  readonly size: number
  /** type GUID text */
  readonly type: string
  readonly attributes?: bigint
}

export interface PlacedPartition extends PartitionSpec {
  /** 1-based partition number */
  readonly number: number
  readonly firstLBA: number
  readonly lastLBA: number
  /** byte offset and length in the image */
  readonly offset: number
  readonly bytes: number
  /** unique partition GUID text */
  readonly guid: string
}

export interface GptLayout {
  readonly diskSize: number
  readonly sectorSize: number
  readonly lastLBA: number
  readonly primaryEntriesLBA: number
  readonly backupEntriesLBA: number
  readonly firstUsableLBA: number
  readonly lastUsableLBA: number
  /** in LBAs */
  readonly alignment: number
  readonly diskGuid: string
  readonly partitions: readonly PlacedPartition[]
}

export interface GptOptions {
  /** extra LBAs between the primary header and its entries (overlay `partitionOptions.offset`) */
  readonly skipLBAs?: number
  /** default: guidFromLabel('talos-image-disk') */
  readonly diskGuid?: string
  /** partition GUIDs by label; default: guidFromLabel(label) */
  readonly partitionGuid?: (label: string) => string
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a
const alignDown = (n: number, a: number): number => Math.floor(n / a) * a

/**
 * Places `specs` in order on a fresh table (the reference's allocator on an empty disk: each
 * partition starts at the next aligned LBA; a size of 0 takes what is left up to the last aligned
 * LBA). Throws InvalidInputError when they do not fit.
 */
export function planGpt(diskSize: number, sectorSize: number, specs: readonly PartitionSpec[], opts: GptOptions = {}): GptLayout {
  if (sectorSize !== 512 && sectorSize !== 4096) throw new InvalidInputError(`unsupported sector size ${sectorSize}`)
  const lastLBA = Math.floor(diskSize / sectorSize) - 1
  if (lastLBA < 33) throw new InvalidInputError(`disk size ${diskSize} is too small for a GPT`)
  const entryLBAs = Math.ceil(ENTRIES_BYTES / sectorSize)
  const primaryEntriesLBA = 2 + (opts.skipLBAs ?? 0)
  const backupEntriesLBA = lastLBA - entryLBAs
  const lastUsableLBA = backupEntriesLBA - 1
  const alignment = Math.ceil(Math.max(sectorSize, ALIGNMENT_BYTES) / sectorSize)
  const firstUsableLBA = alignUp(primaryEntriesLBA + entryLBAs, alignment)
  const highLBA = alignDown(lastUsableLBA, alignment)
  const partitionGuid = opts.partitionGuid ?? guidFromLabel

  const partitions: PlacedPartition[] = []
  let low = firstUsableLBA
  for (const spec of specs) {
    low = alignUp(low, alignment)
    const available = Math.max(0, highLBA - low) * sectorSize
    const size = spec.size === 0 ? available : spec.size
    if (size % sectorSize !== 0) throw new InvalidInputError(`partition ${spec.label}: size ${size} is not a multiple of the sector size ${sectorSize}`)
    if (size < sectorSize || size > available) {
      throw new InvalidInputError(`disk size ${diskSize} is too small for the partitions (${spec.label} does not fit)`)
    }
    const first = low
    const last = first + size / sectorSize - 1
    partitions.push({ ...spec, number: partitions.length + 1, firstLBA: first, lastLBA: last, offset: first * sectorSize, bytes: size, guid: partitionGuid(spec.label) })
    low = last + 1
  }
  return {
    diskSize,
    sectorSize,
    lastLBA,
    primaryEntriesLBA,
    backupEntriesLBA,
    firstUsableLBA,
    lastUsableLBA,
    alignment,
    diskGuid: opts.diskGuid ?? guidFromLabel(DISK_GUID_LABEL),
    partitions,
  }
}

function entriesBytes(layout: GptLayout): Uint8Array {
  const buf = new Uint8Array(ENTRIES_BYTES)
  const dv = new DataView(buf.buffer)
  layout.partitions.forEach((p, i) => {
    const o = i * ENTRY_SIZE
    buf.set(guidToBytes(p.type), o)
    buf.set(guidToBytes(p.guid), o + 16)
    dv.setBigUint64(o + 32, BigInt(p.firstLBA), true)
    dv.setBigUint64(o + 40, BigInt(p.lastLBA), true)
    dv.setBigUint64(o + 48, p.attributes ?? 0n, true)
    const name = Buffer.from(p.label, 'utf16le')
    if (name.byteLength > 72) throw new InvalidInputError(`partition name ${JSON.stringify(p.label)} is too long`)
    buf.set(name, o + 56)
  })
  return buf
}

function headerBytes(layout: GptLayout, myLBA: number, alternateLBA: number, entriesLBA: number, entriesCrc: number): Uint8Array {
  const buf = new Uint8Array(layout.sectorSize)
  const dv = new DataView(buf.buffer)
  buf.set(new TextEncoder().encode('EFI PART'), 0)
  dv.setUint32(8, 0x00010000, true)
  dv.setUint32(12, HEADER_SIZE, true)
  dv.setBigUint64(24, BigInt(myLBA), true)
  dv.setBigUint64(32, BigInt(alternateLBA), true)
  dv.setBigUint64(40, BigInt(layout.firstUsableLBA), true)
  dv.setBigUint64(48, BigInt(layout.lastUsableLBA), true)
  buf.set(guidToBytes(layout.diskGuid), 56)
  dv.setBigUint64(72, BigInt(entriesLBA), true)
  dv.setUint32(80, ENTRY_COUNT, true)
  dv.setUint32(84, ENTRY_SIZE, true)
  dv.setUint32(88, entriesCrc, true)
  dv.setUint32(16, crc32(buf.subarray(0, HEADER_SIZE)), true)
  return buf
}

/** The protective MBR's partition entry 1 and boot signature (bytes 446–461 and 510–511). */
function pmbrPieces(layout: GptLayout): { offset: number; data: Uint8Array }[] {
  const entry = new Uint8Array(16)
  const dv = new DataView(entry.buffer)
  entry.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 0)
  dv.setUint32(8, 1, true)
  dv.setUint32(12, Math.min(layout.lastLBA, 0xffffffff), true)
  return [
    { offset: 446, data: entry },
    { offset: 510, data: new Uint8Array([0x55, 0xaa]) },
  ]
}

/** Byte pieces that make up the table, to be written into the image at their offsets. */
export function gptWrites(layout: GptLayout): { offset: number; data: Uint8Array }[] {
  const entries = entriesBytes(layout)
  const crc = crc32(entries)
  const s = layout.sectorSize
  return [
    ...pmbrPieces(layout),
    { offset: 1 * s, data: headerBytes(layout, 1, layout.lastLBA, layout.primaryEntriesLBA, crc) },
    { offset: layout.primaryEntriesLBA * s, data: entries },
    { offset: layout.backupEntriesLBA * s, data: entries },
    { offset: layout.lastLBA * s, data: headerBytes(layout, layout.lastLBA, 1, layout.backupEntriesLBA, crc) },
  ]
}
