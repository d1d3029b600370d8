/**
 * Staging trees for FAT images (an ISO's EFI boot image, an ESP; fat.ts builds the FAT): every file
 * and directory carries SOURCE_DATE_EPOCH, so the same files give the same image bytes
 * (imager-spec §6.3 steps 1–4, §7.6).
 *
 * The staging tree is also what goes into an ISO9660 tree next to the FAT image, so files are
 * staged once: files already in the build's scratch directory are hard-linked, others (e.g. the
 * version's systemd-boot, which other builds share) are copied so their times can be set.
 */
import { copyFile, link, mkdir, open, utimes } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { ioError } from './errors.ts'
import { SOURCE_DATE_EPOCH } from './exec.ts'

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
