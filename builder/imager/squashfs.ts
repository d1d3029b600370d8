/**
 * mksquashfs / unsquashfs with the reference imager's options (imager-spec §4.3).
 *
 * Compression per target version: `-comp zstd -Xcompression-level 18` (≥ 1.8) or
 * `-comp xz -Xdict-size 100%` (< 1.8), as the reference — an extension's squashfs is built once and
 * cached, so the reference's (slow, small) settings cost nothing on later builds.
 *
 * SELinux labels (xattrs.ts): with squashfs-tools ≥ 4.6 the reference's flags (`-xattrs-exclude
 * '.*'` and one pseudo xattr per label); with Debian 12's 4.5.1, which has neither, the source is a
 * tree carrying exactly the labels and `-xattrs` stores them; where the work directory's filesystem
 * cannot carry them, `-no-xattrs`. Timestamps: SOURCE_DATE_EPOCH pins the superblock only (4.5.1
 * takes inode mtimes from the source tree), so sources keep their inputs' mtimes.
 */
import { SOURCE_DATE_EPOCH, runTool } from './exec.ts'
import type { XattrMode } from './xattrs.ts'

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
  /** How labels get in: pseudo xattrs from `labels`, the source tree's own xattrs, or none. */
  readonly xattrs: XattrMode
  /** `security.selinux` labels by path relative to the source (`''` = the root); 'pseudo' only. */
  readonly labels?: ReadonlyMap<string, string>
  /** Paths relative to the source to leave out (e.g. the firmware moved into the initramfs). */
  readonly exclude?: readonly string[]
  readonly signal?: AbortSignal
}

/** Builds `out` from the directory `src`, as root-owned, reproducible. */
export async function mksquashfs(src: string, out: string, opts: MksquashfsOptions): Promise<void> {
  const args = [src, out, '-all-root', '-noappend', '-no-progress', '-quiet', ...compressionArgs(opts.comp)]
  if (opts.xattrs === 'pseudo') {
    args.push('-xattrs-exclude', '.*')
    const excluded = new Set(opts.exclude ?? [])
    const labels = [...(opts.labels ?? new Map<string, string>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    for (const [path, label] of labels) {
      if ([...excluded].some((e) => path === e || path.startsWith(`${e}/`))) continue
      args.push('-p', `${path === '' ? '/' : path} x security.selinux=${label}`)
    }
  } else {
    args.push(opts.xattrs === 'staged' ? '-xattrs' : '-no-xattrs')
  }
  // `-e` takes every following argument, so it must come last
  if (opts.exclude && opts.exclude.length > 0) args.push('-e', ...opts.exclude)
  await runTool('mksquashfs', args, { env: { SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH) }, signal: opts.signal })
}

/** `unsquashfs -no-xattrs -d <dest> -f -n <image> <path>` (the reference's modules extraction). */
export async function unsquashfsPath(image: string, dest: string, path: string, signal?: AbortSignal): Promise<void> {
  await runTool('unsquashfs', ['-no-xattrs', '-d', dest, '-f', '-n', image, path], { signal })
}
