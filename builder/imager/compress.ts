/**
 * Output post-processing (imager-spec §7.10) as streams: the compressor reads the finished disk
 * file (or a tool's stdout) and writes straight into the output file, so a client downloading a
 * cold `.raw.zst` receives bytes while they are produced. All compressors run multi-threaded.
 *
 * Levels: xz `-0` and pigz `-6` are the reference's. zstd uses {@link DISK_ZSTD_LEVEL} instead of
 * the reference's 18 (README: the payload is mostly already-compressed kernels/initramfs and
 * zeros, so level 18 costs many seconds per image for a few percent).
 */
import type { OutFormat } from './profile.ts'

export const DISK_ZSTD_LEVEL = 3
export const XZ_PRESET = 0
export const GZIP_LEVEL = 6

export interface Compressor {
  readonly cmd: string
  readonly args: readonly string[]
}

/** The stdin→stdout compressor for an output format (`.tar.gz` means its gzip half); null for raw. */
export function compressorFor(format: OutFormat): Compressor | null {
  switch (format) {
    case 'raw':
      return null
    case '.zst':
      return { cmd: 'zstd', args: ['-c', '-q', `-${DISK_ZSTD_LEVEL}`, '-T0'] }
    case '.xz':
      return { cmd: 'xz', args: ['-z', '-c', '-q', `-${XZ_PRESET}`, '-T0'] }
    case '.gz':
    case '.tar.gz':
      return { cmd: 'pigz', args: ['-c', `-${GZIP_LEVEL}`, '--no-time'] }
  }
}
