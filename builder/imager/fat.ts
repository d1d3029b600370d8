/**
 * FAT filesystems as files — a disk image's EFI system partition (imager-spec §7.6) and an ISO's EFI
 * boot image (§6.3): `mkfs.vfat --invariant` on a sparse file, then mtools copies the staged tree in
 * (`mcopy -s -p -Q -m`, one call per top-level entry, sorted) — no loop device, no mount. Staged
 * files get the SOURCE_DATE_EPOCH mtime first (the reference's TouchFiles), so the FAT is reproducible.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { compareBytes } from './cpio.ts'
import { createSparseFile } from './disk-file.ts'
import { ioError } from './errors.ts'
import { runTool } from './exec.ts'
import { touchTree } from './stage.ts'

export interface FatOptions {
  /** the filesystem image file to create */
  readonly image: string
  /** bytes (the partition size) */
  readonly size: number
  readonly sectorSize: number
  readonly label: string
  /** directory whose contents become the filesystem root; null = empty filesystem */
  readonly source: string | null
  /** sectors per cluster (`mkfs.vfat -s`); default: mkfs.vfat's choice */
  readonly sectorsPerCluster?: number
  /** files (tree paths) to mark read-only */
  readonly readOnly?: readonly string[]
  readonly signal?: AbortSignal
}

/** Largest sectors-per-cluster of 1, 2, 4, 8 that keeps FAT32's cluster count (the reference's ISO ESP, imager HEAD). */
export function fatSectorsPerCluster(sizeBytes: number): number {
  const sectors = Math.floor(sizeBytes / 512)
  let spc = 1
  for (let next = 2; next <= 8; next *= 2) {
    if (Math.floor(sectors / next) < FAT32_MIN_CLUSTERS + 2048) break
    spc = next
  }
  return spc
}

/** FAT32 needs at least this many clusters; mtools decides the FAT type by the count alone. */
const FAT32_MIN_CLUSTERS = 65525

/**
 * FAT type for a filesystem of `size` bytes: FAT32 as the reference, unless even one sector per
 * cluster leaves fewer clusters than FAT32 allows — the 100 MiB GRUB ESP with 4 KiB sectors —
 * where mkfs.vfat would write a FAT32 that mtools (and some firmware) then read as FAT16.
 */
export function fatBits(size: number, sectorSize: number): 32 | 16 {
  return size / sectorSize >= FAT32_MIN_CLUSTERS + 2048 ? 32 : 16
}

/** mtools reads no user configuration and never asks questions. */
const MTOOLS_ENV = { MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1' }

export async function buildFat(opts: FatOptions): Promise<void> {
  await createSparseFile(opts.image, opts.size)
  const args = ['-F', String(fatBits(opts.size, opts.sectorSize)), '-n', opts.label, '--invariant']
  if (opts.sectorSize !== 512) args.push('-S', String(opts.sectorSize))
  if (opts.sectorsPerCluster !== undefined) args.push('-s', String(opts.sectorsPerCluster))
  await runTool('mkfs.vfat', [...args, opts.image], { signal: opts.signal })
  if (opts.source === null) return
  await touchTree(opts.source)
  let names: string[]
  try {
    names = (await readdir(opts.source)).sort(compareBytes)
  } catch (err) {
    throw ioError(`cannot read ${opts.source}`, err)
  }
  for (const name of names) {
    await runTool('mcopy', ['-s', '-p', '-Q', '-m', '-i', opts.image, join(opts.source, name), '::'], { env: MTOOLS_ENV, signal: opts.signal })
  }
  for (const path of opts.readOnly ?? []) await runTool('mattrib', ['-i', opts.image, '+r', `::/${path}`], { env: MTOOLS_ENV, signal: opts.signal })
}
