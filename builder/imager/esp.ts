/**
 * FAT images (an ISO's EFI boot image, an ESP) made without mounting anything: `mkfs.vfat` then
 * `mtools`, from a staging tree whose every file and directory carries SOURCE_DATE_EPOCH, so the
 * same files give the same image bytes (imager-spec §6.3 steps 1–4, §7.6).
 *
 * The staging tree is also what goes into an ISO9660 tree next to the FAT image, so files are
 * staged once: files already in the build's scratch directory are hard-linked, others (e.g. the
 * version's systemd-boot, which other builds share) are copied so their times can be set.
 */
import { copyFile, link, mkdir, open, readdir, utimes } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { ioError } from './errors.ts'
import { runTool, SOURCE_DATE_EPOCH } from './exec.ts'

export const MiB = 1024 * 1024

/**
 * Debian 12's mtools reads a FAT32 volume only when it has at least 65525 clusters (the FAT type
 * is decided by the cluster count), so FAT32 images are never smaller than this.
 */
export const FAT32_MIN_BYTES = 34 * MiB

export interface StagedFile {
  /** path inside the tree, `/`-separated (e.g. `EFI/BOOT/BOOTX64.EFI`) */
  readonly path: string
  /** source file, or contents */
  readonly source: string | { readonly data: Uint8Array | string }
  /** file mode (default 0644) */
  readonly mode?: number
}

/** Builds `root` from `files`; every entry gets mtime/atime SOURCE_DATE_EPOCH. */
export async function stageTree(root: string, files: readonly StagedFile[], scratch: string): Promise<void> {
  const dirs = new Set<string>([root])
  for (const f of files) {
    const dest = join(root, ...f.path.split('/'))
    for (let d = dirname(dest); d.length >= root.length && !dirs.has(d); d = dirname(d)) dirs.add(d)
    try {
      await mkdir(dirname(dest), { recursive: true })
      if (typeof f.source !== 'string') {
        const fh = await open(dest, 'wx', f.mode ?? 0o644)
        try {
          await fh.writeFile(f.source.data)
        } finally {
          await fh.close()
        }
      } else if (!relative(scratch, f.source).startsWith('..') && !relative(scratch, f.source).startsWith(sep)) {
        // ours: link (setting its times below changes nothing anyone else sees)
        await link(f.source, dest).catch(() => copyFile(f.source as string, dest))
      } else {
        await copyFile(f.source, dest)
      }
    } catch (err) {
      throw ioError(`cannot stage ${f.path}`, err)
    }
  }
  const t = new Date(SOURCE_DATE_EPOCH * 1000)
  try {
    for (const f of files) await utimes(join(root, ...f.path.split('/')), t, t)
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await utimes(d, t, t)
  } catch (err) {
    throw ioError(`cannot set times in ${root}`, err)
  }
}

/** Largest sectors-per-cluster of 1, 2, 4, 8 that keeps FAT32's cluster count (reference HEAD). */
export function fatSectorsPerCluster(sizeBytes: number): number {
  const sectors = Math.floor(sizeBytes / 512)
  let spc = 1
  for (let next = 2; next <= 8; next *= 2) {
    if (Math.floor(sectors / next) < 65525 + 2048) break
    spc = next
  }
  return spc
}

export interface FatOptions {
  /** volume label (`EFI`) */
  readonly label: string
  readonly sizeBytes: number
  /** the staged tree whose top-level entries are copied in */
  readonly root: string
  /** files (tree paths) to mark read-only */
  readonly readOnly?: readonly string[]
  readonly signal?: AbortSignal
}

/** Creates the FAT32 image `img` holding the staged tree. */
export async function makeFatImage(img: string, opts: FatOptions): Promise<void> {
  const size = Math.max(opts.sizeBytes, FAT32_MIN_BYTES)
  try {
    const fh = await open(img, 'w', 0o644)
    try {
      await fh.truncate(size)
    } finally {
      await fh.close()
    }
  } catch (err) {
    throw ioError(`cannot create ${img}`, err)
  }
  const signal = opts.signal
  await runTool('mkfs.vfat', ['-F', '32', '-n', opts.label, '--invariant', '-s', String(fatSectorsPerCluster(size)), img], { signal })
  const entries = (await readdir(opts.root)).sort()
  if (entries.length > 0) await runTool('mcopy', ['-s', '-p', '-Q', '-m', '-i', img, ...entries.map((e) => join(opts.root, e)), '::'], { signal })
  for (const path of opts.readOnly ?? []) await runTool('mattrib', ['-i', img, '+r', `::/${path}`], { signal })
}
