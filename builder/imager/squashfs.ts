/**
 * mksquashfs / unsquashfs with the reference imager's options (imager-spec §4.3).
 *
 * Compression per target version: `-comp zstd -Xcompression-level 18` (≥ 1.8) or
 * `-comp xz -Xdict-size 100%` (< 1.8), as the reference — an extension's squashfs is built once and
 * cached, so the reference's (slow, small) settings cost nothing on later builds.
 *
 * Deviation: Debian 12 ships squashfs-tools 4.5.1, which lacks `-xattrs-exclude` and pseudo-file
 * xattr definitions (`-p "<path> x security.selinux=<label>"`), both of which the reference
 * always passes (squashfs-tools ≥ 4.6). With 4.5.x we pass `-no-xattrs` instead, so layers carry
 * no SELinux labels (the reference only sets labels that came from tar PAX records, e.g. on the
 * embedded machine config). With ≥ 4.6 the reference flags are used. Timestamps are pinned with
 * SOURCE_DATE_EPOCH (mksquashfs applies it to the superblock and every inode).
 */
import { SOURCE_DATE_EPOCH, runTool } from './exec.ts'

export type Compression = 'zstd' | 'xz'

/** The reference's squashfs compression settings (kept: squashfs images are cached per extension). */
export const SQUASHFS_ZSTD_LEVEL = 18
export const SQUASHFS_XZ_DICT = '100%'

export interface SquashfsFlavour {
  /** e.g. `4.5.1` */
  readonly version: string
  /** ≥ 4.6: `-xattrs-exclude` and pseudo xattrs available */
  readonly pseudoXattrs: boolean
}

let flavour: Promise<SquashfsFlavour> | null = null

/** Detects the installed mksquashfs once per process. */
export function squashfsFlavour(): Promise<SquashfsFlavour> {
  flavour ??= runTool('mksquashfs', ['-version'], { stdout: 'capture' }).then((out) => {
    const m = /version\s+(\d+)\.(\d+)(?:\.(\d+))?/.exec(out)
    const major = Number(m?.[1] ?? 0)
    const minor = Number(m?.[2] ?? 0)
    return { version: m ? `${m[1]}.${m[2]}${m[3] !== undefined ? `.${m[3]}` : ''}` : 'unknown', pseudoXattrs: major > 4 || (major === 4 && minor >= 6) }
  })
  flavour.catch(() => {
    flavour = null
  })
  return flavour
}

export function compressionArgs(comp: Compression): string[] {
  return comp === 'zstd' ? ['-comp', 'zstd', '-Xcompression-level', String(SQUASHFS_ZSTD_LEVEL)] : ['-comp', 'xz', '-Xdict-size', SQUASHFS_XZ_DICT]
}

export interface MksquashfsOptions {
  readonly comp: Compression
  /** `security.selinux` labels by path relative to the source (`''` = the root). */
  readonly labels?: ReadonlyMap<string, string>
  /** Paths relative to the source to leave out (e.g. the firmware moved into the initramfs). */
  readonly exclude?: readonly string[]
  readonly signal?: AbortSignal
}

/** Builds `out` from the directory `src`, as root-owned, reproducible. */
export async function mksquashfs(src: string, out: string, opts: MksquashfsOptions): Promise<void> {
  const fl = await squashfsFlavour()
  const args = [src, out, '-all-root', '-noappend', '-no-progress', '-quiet', ...compressionArgs(opts.comp)]
  if (fl.pseudoXattrs) {
    args.push('-xattrs-exclude', '.*')
    const excluded = new Set(opts.exclude ?? [])
    const labels = [...(opts.labels ?? new Map<string, string>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    for (const [path, label] of labels) {
      if ([...excluded].some((e) => path === e || path.startsWith(`${e}/`))) continue
      args.push('-p', `${path === '' ? '/' : path} x security.selinux=${label}`)
    }
  } else {
    args.push('-no-xattrs')
  }
  // `-e` takes every following argument, so it must come last
  if (opts.exclude && opts.exclude.length > 0) args.push('-e', ...opts.exclude)
  await runTool('mksquashfs', args, { env: { SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) }, signal: opts.signal })
}

/** `unsquashfs -no-xattrs -d <dest> -f -n <image> <path>` (the reference's modules extraction). */
export async function unsquashfsPath(image: string, dest: string, path: string, signal?: AbortSignal): Promise<void> {
  await runTool('unsquashfs', ['-no-xattrs', '-d', dest, '-f', '-n', image, path], { signal })
}
