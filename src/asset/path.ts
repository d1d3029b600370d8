/**
 * The `/image/:schematic/:version/:path` grammar (factory `ParseFromPath`, factory-spec §6.2).
 *
 * Why: the file name *is* the build request — platform, arch, SecureBoot, output kind, disk format
 * and compression are all encoded in it. The rules are tried in a fixed order and the first match
 * wins, with the reference's error texts, so clients (talosctl, Omni, Terraform, docs) keep working
 * with the same URLs. Platform names are deliberately not validated here (the reference doesn't);
 * the profile builder does that.
 */
import { FactoryError, InvalidInputError } from '../errors.ts'
import { defaultDiskProfile, DEFAULT_RAW_DISK_SIZE, type Arch } from '../talos/platforms.ts'

/** Imager output kinds (talos `OutputKind`, without `unknown`). */
export type OutputKind = 'iso' | 'image' | 'installer' | 'kernel' | 'initramfs' | 'uki' | 'cmdline'
/** Post-processing of the output (talos `OutFormat`); the strings include the dot. */
export type OutFormat = 'raw' | '.tar.gz' | '.xz' | '.gz' | '.zst'
/** Disk image container format (talos `DiskFormat`). */
export type DiskFormat = 'raw' | 'qcow2' | 'vhd' | 'ova'

export interface ImageRequestOptions {
  /** bytes (8192 MiB unless the platform's default profile says otherwise) */
  readonly diskSize: number
  readonly diskFormat: DiskFormat
  /** qemu-img `-o` options (`cluster_size=8k`, `subformat=fixed,force_size`) */
  readonly diskFormatOptions?: string
}

/** What a `:path` asks for. */
export interface AssetRequest {
  /** the `:path` as requested; also the default download file name */
  readonly path: string
  readonly kind: OutputKind
  readonly outFormat: OutFormat
  /** profile platform; `metal` for kernel/initramfs/legacy installer where it doesn't matter */
  readonly platform: string
  readonly arch: Arch
  readonly secureboot: boolean
  /** disk images only */
  readonly imageOptions?: ImageRequestOptions
}

/** Prefixes the reference puts before stage errors (the edge adds them when answering). */
export const PATH_ERROR_PREFIX = 'error parsing profile from path: '
export const ENHANCE_ERROR_PREFIX = 'error enhancing profile from schematic: '

/** Re-throwable copy of a factory error with a stage prefix on its one-line message. */
export function prefixError(err: unknown, prefix: string): unknown {
  if (!(err instanceof FactoryError)) return err
  const Ctor = err.constructor as new (message: string, options?: { cause?: unknown }) => FactoryError
  return new Ctor(prefix + err.message, { cause: err })
}

/**
 * `<arch>`: `amd64`, `arm64`, or iPXE `${buildarch}` names `x86_64`/`i386` (→ amd64).
 */
export function parseArch(text: string): Arch {
  switch (text) {
    case 'amd64':
    case 'arm64':
      return text
    case 'x86_64':
    case 'i386':
      return 'amd64'
    default:
      throw new InvalidInputError(`invalid architecture: ${JSON.stringify(text)}`)
  }
}

export interface PlatformArch {
  readonly platform: string
  readonly arch: Arch
  readonly secureboot: boolean
}

/**
 * `<platform>-<arch>[-secureboot]`: strip `-secureboot`, split at the first `-` (with the
 * `digital-ocean` special case), then parse the arch.
 */
export function parsePlatformArch(text: string): PlatformArch {
  let s = text
  let secureboot = false
  if (s.endsWith('-secureboot')) {
    s = s.slice(0, -'-secureboot'.length)
    secureboot = true
  }
  const dash = s.indexOf('-')
  if (dash === -1) throw new InvalidInputError(`invalid platform-arch: ${JSON.stringify(s)}`)
  let platform = s.slice(0, dash)
  let rest = s.slice(dash + 1)
  if (platform === 'digital' && rest.startsWith('ocean-')) {
    platform = 'digital-ocean'
    rest = rest.slice('ocean-'.length)
  }
  return { platform, arch: parseArch(rest), secureboot }
}

/** Compression suffixes, tried in this order (first match wins). */
const OUT_FORMAT_SUFFIXES: readonly OutFormat[] = ['.tar.gz', '.gz', '.xz', '.zst']
/** Disk format suffixes, tried in this order. */
const DISK_FORMAT_SUFFIXES: readonly DiskFormat[] = ['raw', 'qcow2', 'vhd', 'ova']

function simple(path: string, kind: OutputKind, pa: PlatformArch): AssetRequest {
  return { path, kind, outFormat: 'raw', platform: pa.platform, arch: pa.arch, secureboot: pa.secureboot }
}

/**
 * Parse an asset path; throws InvalidInputError with the reference's reason (`invalid profile
 * path: "metal-amd64.ssd"`, `invalid architecture: "foo"`, `invalid platform-arch: "x"`).
 */
export function parseAssetPath(path: string): AssetRequest {
  // 1. kernel-<arch>
  if (path.startsWith('kernel-')) {
    return simple(path, 'kernel', { platform: 'metal', arch: parseArch(path.slice('kernel-'.length)), secureboot: false })
  }
  // 2. cmdline-<plat-arch>
  if (path.startsWith('cmdline-')) {
    return simple(path, 'cmdline', parsePlatformArch(path.slice('cmdline-'.length)))
  }
  // 3. initramfs-<arch>.xz (without .xz it falls through to the disk-image rule)
  if (path.startsWith('initramfs-') && path.endsWith('.xz')) {
    const arch = parseArch(path.slice('initramfs-'.length, -'.xz'.length))
    return simple(path, 'initramfs', { platform: 'metal', arch, secureboot: false })
  }
  // 4. <plat-arch>.iso
  if (path.endsWith('.iso')) {
    return simple(path, 'iso', parsePlatformArch(path.slice(0, -'.iso'.length)))
  }
  // 5. <plat-arch>-uki.efi
  if (path.endsWith('-uki.efi')) {
    return simple(path, 'uki', parsePlatformArch(path.slice(0, -'-uki.efi'.length)))
  }
  // 6. installer-<arch>[-secureboot].tar (legacy name, metal)
  if (path.startsWith('installer-') && path.endsWith('.tar')) {
    let rest = path.slice('installer-'.length, -'.tar'.length)
    let secureboot = false
    if (rest.endsWith('-secureboot')) {
      rest = rest.slice(0, -'-secureboot'.length)
      secureboot = true
    }
    return simple(path, 'installer', { platform: 'metal', arch: parseArch(rest), secureboot })
  }
  // 7. <platform>-installer-<arch>[-secureboot].tar
  const cut = path.indexOf('-installer-')
  if (cut !== -1) {
    const rest = path.slice(cut + '-installer-'.length)
    if (rest.endsWith('.tar')) {
      return simple(path, 'installer', parsePlatformArch(path.slice(0, cut) + '-' + rest.slice(0, -'.tar'.length)))
    }
  }
  // 8. disk image: <plat-arch>.<disk format>[<compression>]
  let rest = path
  let outFormat: OutFormat = 'raw'
  for (const f of OUT_FORMAT_SUFFIXES) {
    if (rest.endsWith(f)) {
      rest = rest.slice(0, -f.length)
      outFormat = f
      break
    }
  }
  let diskFormat: DiskFormat | undefined
  for (const f of DISK_FORMAT_SUFFIXES) {
    if (rest.endsWith('.' + f)) {
      rest = rest.slice(0, -(f.length + 1))
      diskFormat = f
      break
    }
  }
  if (diskFormat === undefined) throw new InvalidInputError(`invalid profile path: ${JSON.stringify(rest)}`)
  const pa = parsePlatformArch(rest)
  let diskSize = DEFAULT_RAW_DISK_SIZE
  let diskFormatOptions: string | undefined = diskFormat === 'qcow2' ? 'cluster_size=8k' : undefined
  const def = defaultDiskProfile(pa.platform)
  if (def !== undefined) {
    if (def.diskSize !== 0) diskSize = def.diskSize
    if (def.diskFormatOptions !== undefined && def.diskFormatOptions !== '') diskFormatOptions = def.diskFormatOptions
  }
  const imageOptions: ImageRequestOptions =
    diskFormatOptions === undefined ? { diskSize, diskFormat } : { diskSize, diskFormat, diskFormatOptions }
  return { path, kind: 'image', outFormat, platform: pa.platform, arch: pa.arch, secureboot: pa.secureboot, imageOptions }
}

export type Sidecar = 'sha256' | 'sha512' | 'sigstore'

/**
 * Split a checksum/signature sidecar suffix off a path (checked before anything else in the
 * reference): `.sigstore.json` first, then `.sha256`/`.sha512`.
 */
export function splitSidecar(path: string): { path: string; sidecar: Sidecar | null } {
  if (path.endsWith('.sigstore.json')) return { path: path.slice(0, -'.sigstore.json'.length), sidecar: 'sigstore' }
  for (const s of ['sha256', 'sha512'] as const) {
    if (path.endsWith('.' + s)) return { path: path.slice(0, -(s.length + 1)), sidecar: s }
  }
  return { path, sidecar: null }
}

/**
 * Canonical file name for a request (inverse of parseAssetPath for the canonical spellings;
 * `x86_64` becomes `amd64`). Useful for links and store keys.
 */
export function assetFileName(r: Pick<AssetRequest, 'kind' | 'platform' | 'arch' | 'secureboot' | 'outFormat' | 'imageOptions'>): string {
  const sb = r.secureboot ? '-secureboot' : ''
  const pa = `${r.platform}-${r.arch}${sb}`
  switch (r.kind) {
    case 'kernel':
      return `kernel-${r.arch}`
    case 'initramfs':
      return `initramfs-${r.arch}.xz`
    case 'cmdline':
      return `cmdline-${pa}`
    case 'iso':
      return `${pa}.iso`
    case 'uki':
      return `${pa}-uki.efi`
    case 'installer':
      return r.platform === 'metal' ? `installer-${r.arch}${sb}.tar` : `${r.platform}-installer-${r.arch}${sb}.tar`
    case 'image':
      return `${pa}.${r.imageOptions?.diskFormat ?? 'raw'}${r.outFormat === 'raw' ? '' : r.outFormat}`
  }
}
