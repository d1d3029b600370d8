/**
 * Reading disk images back with tools that share no code with the imager: sfdisk/sgdisk for the
 * partition table, mtools/fsck.vfat for the ESP, GRUB's own grub-fstest (GPT + XFS + FAT drivers)
 * for BOOT, xfs_repair/xfs_db, qemu-img, tar — and a small META (Talos ADV) decoder written here
 * from the format description, not from the imager's encoder.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { execa } from 'execa'

export interface SfdiskPartition {
  node: string
  start: number
  size: number
  type: string
  uuid: string
  name: string
  attrs?: string
}

export interface SfdiskTable {
  label: string
  id: string
  firstlba: number
  lastlba: number
  sectorsize: number
  partitions: SfdiskPartition[]
}

/** `sfdisk --json` of an image file (512-byte sectors: util-linux 2.38's sfdisk has no sector-size option). */
export async function sfdiskJson(path: string): Promise<SfdiskTable> {
  const r = await execa('sfdisk', ['--json', path])
  return (JSON.parse(r.stdout) as { partitiontable: SfdiskTable }).partitiontable
}

/** The GPT as `fdisk -b <sectorSize> -x` reads it (for 4 KiB-sector images), in sfdisk's shape. */
export async function fdiskTable(path: string, sectorSize: number): Promise<SfdiskTable> {
  const r = await execa('fdisk', ['-b', String(sectorSize), '-x', '-o', 'Device,Start,Sectors,Type-UUID,UUID,Name,Attrs', path])
  const field = (name: string): string => {
    const m = new RegExp(`^${name}: *(.*)$`, 'm').exec(r.stdout)
    if (!m) throw new Error(`fdisk printed no ${name}`)
    return m[1]!.trim()
  }
  const rows = r.stdout.split('\n').filter((l) => l.startsWith(path))
  return {
    label: field('Disklabel type'),
    id: field('Disk identifier'),
    firstlba: Number(field('First usable LBA')),
    lastlba: Number(field('Last usable LBA')),
    sectorsize: Number(/Sector size \(logical\/physical\): (\d+) bytes/.exec(r.stdout)?.[1]),
    partitions: rows.map((row) => {
      const [node, start, sectors, type, uuid, name, attrs] = row.trim().split(/\s+/)
      return { node: node!, start: Number(start), size: Number(sectors), type: type!, uuid: uuid!, name: name!, ...(attrs ? { attrs } : {}) }
    }),
  }
}

/** `sgdisk -v` (verification) output; throws when sgdisk reports problems. */
export async function sgdiskVerify(path: string): Promise<string> {
  const r = await execa('sgdisk', ['-v', path])
  return r.stdout
}

/** mtools image spec for a FAT filesystem at `offset` inside `path`. */
export const fatAt = (path: string, offset: number): string => `${path}@@${offset}`

/** Recursive list (`mdir -/ -b`) of a FAT filesystem: `::/EFI/` (directories end in /), `::/EFI/boot/BOOTX64.efi`. */
export async function fatFiles(path: string, offset: number): Promise<string[]> {
  const r = await execa('mdir', ['-/', '-b', '-i', fatAt(path, offset), '::/'], { env: { MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' } })
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .sort()
}

/** A file's bytes from a FAT filesystem at `offset`. */
export async function fatRead(path: string, offset: number, file: string): Promise<Buffer> {
  const r = await execa('mtype', ['-i', fatAt(path, offset), file], { encoding: 'buffer', stripFinalNewline: false, env: { MTOOLS_SKIP_CHECK: '1', MTOOLSRC: '/dev/null' } })
  return Buffer.from(r.stdout)
}

/** GRUB's view of the image: `grub-fstest <image> <command…>` (e.g. `cat (loop0,gpt3)/grub/grub.cfg`). */
export async function grubFstest(image: string, ...args: string[]): Promise<string> {
  const r = await execa('grub-fstest', [image, ...args])
  return r.stdout
}

/** Bytes of an image file range. */
export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(length)
    await fh.read(buf, 0, length, offset)
    return buf
  } finally {
    await fh.close()
  }
}

export interface AdvEntry {
  key: number
  value: string
}

/**
 * Decodes a Talos ADV copy (256 KiB: BE magic 0x5A4B3C2D, {tag u32, size u32, value}…, SHA-256
 * over the block with the checksum zeroed at -36, BE magic 0xA5B4C3D2 at -4). Throws on a bad
 * magic or checksum.
 */
export function decodeAdv(block: Buffer): AdvEntry[] {
  const len = 256 * 1024
  if (block.length < len) throw new Error('ADV block too short')
  const b = block.subarray(0, len)
  if (b.readUInt32BE(0) !== 0x5a4b3c2d) throw new Error('ADV: bad magic1')
  if (b.readUInt32BE(len - 4) !== 0xa5b4c3d2) throw new Error('ADV: bad magic2')
  const copy = Buffer.from(b)
  const sum = Buffer.from(copy.subarray(len - 36, len - 4))
  copy.fill(0, len - 36, len - 4)
  if (!createHash('sha256').update(copy).digest().equals(sum)) throw new Error('ADV: checksum mismatch')
  const out: AdvEntry[] = []
  let o = 4
  while (o + 8 <= len - 36) {
    const tag = b.readUInt32BE(o)
    if (tag === 0) break
    const size = b.readUInt32BE(o + 4)
    out.push({ key: tag, value: b.subarray(o + 8, o + 8 + size).toString('utf8') })
    o += 8 + size
  }
  return out
}

/** Both ADV copies of a META partition at `offset`; they must be identical. */
export async function readMeta(path: string, offset: number): Promise<AdvEntry[]> {
  const head = await readRange(path, offset, 512 * 1024)
  const first = decodeAdv(head.subarray(0, 256 * 1024))
  const second = decodeAdv(head.subarray(256 * 1024))
  if (JSON.stringify(first) !== JSON.stringify(second)) throw new Error('META: the two ADV copies differ')
  return first
}

/** `qemu-img info --output=json` (format forced when given: a fixed VHD looks like raw otherwise). */
export async function qemuImgInfo(path: string, format?: string): Promise<Record<string, unknown>> {
  const r = await execa('qemu-img', ['info', '--output=json', ...(format ? ['-f', format] : []), path])
  return JSON.parse(r.stdout) as Record<string, unknown>
}

/** `qemu-img check`; resolves with its output, rejects on errors. */
export async function qemuImgCheck(path: string, format: string): Promise<string> {
  const r = await execa('qemu-img', ['check', '-f', format, path])
  return r.stdout
}

/** Blocks actually allocated (bytes) — sparse files stay far below their size. */
export async function allocatedBytes(path: string): Promise<number> {
  const r = await execa('du', ['--block-size=1', path])
  return Number(r.stdout.split(/\s+/)[0])
}
