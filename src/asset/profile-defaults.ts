/**
 * What the imager does to a profile before building (talos `Input.FillDefaults`,
 * `Output.FillDefaults`, `Profile.Validate`, `Profile.OutputPath`; imager-spec §1.2, §2.2, §2.5).
 * The factory runs them at planning time, so a profile the imager would refuse is a 400.
 */
import { InvalidInputError } from '../errors.ts'
import { MiB } from '../talos/platforms.ts'
import { Quirks } from '../talos/quirks.ts'
import { cloneProfile, isZeroContainer, secureBootEnabled, type Profile } from './profile-model.ts'
// ---------------------------------------------------------------------------------------------
// Imager defaults and validation (talos `FillDefaults`, `Validate`)
// ---------------------------------------------------------------------------------------------

export const DEFAULT_INSTALLER_REPOSITORY = 'ghcr.io/siderolabs/installer'
export const DEFAULT_INSTALLER_BASE_REPOSITORY = 'ghcr.io/siderolabs/installer-base'
export const DEFAULT_SECUREBOOT_PREFIX = '/secureboot'


function isZeroObject(o: object): boolean {
  return Object.values(o).every((v) => v === undefined || v === '' || v === false)
}

export interface FillDefaultsOptions {
  /** whether a file exists (for the optional PK/KEK/db `.auth` files); default: none exist */
  readonly fileExists?: (path: string) => boolean
  readonly secureBootPrefix?: string
}

/**
 * What the imager does before building (`Input.FillDefaults`, `Output.FillDefaults`): input
 * paths under `/usr/install/<arch>/`, base installer ref, SecureBoot signer paths, bootloader
 * choice and the disk size adjustment for the boot partitions. Returns a new profile.
 */
export function fillProfileDefaults(src: Profile, opts: FillDefaultsOptions = {}): Profile {
  const p = cloneProfile(src)
  const q = new Quirks(p.version)
  const arch = p.arch
  const sb = secureBootEnabled(p)
  if (!p.name) p.name = 'Talos'

  const i = p.input
  if (!i.kernel.path) i.kernel = { path: `/usr/install/${arch}/vmlinuz` }
  if (!i.initramfs.path) i.initramfs = { path: `/usr/install/${arch}/initramfs.xz` }
  if (isZeroContainer(i.baseInstaller)) {
    const repo = q.supportsUnifiedInstaller() ? DEFAULT_INSTALLER_BASE_REPOSITORY : DEFAULT_INSTALLER_REPOSITORY
    i.baseInstaller = { imageRef: `${repo}:${p.version}` }
  }
  if (!i.sdStub?.path) i.sdStub = { path: `/usr/install/${arch}/systemd-stub.efi` }
  if (!i.sdBoot?.path) i.sdBoot = { path: `/usr/install/${arch}/systemd-boot.efi` }
  if (sb) {
    const prefix = opts.secureBootPrefix ?? DEFAULT_SECUREBOOT_PREFIX
    const exists = opts.fileExists ?? (() => false)
    const s = (i.secureboot ??= { secureBootSigner: {}, pcrSigner: {} })
    if (isZeroObject(s.secureBootSigner)) s.secureBootSigner = { keyPath: `${prefix}/uki-signing-key.pem`, certPath: `${prefix}/uki-signing-cert.pem` }
    if (isZeroObject(s.pcrSigner)) s.pcrSigner = { keyPath: `${prefix}/pcr-signing-key.pem` }
    for (const [field, file] of [['platformKeyPath', 'PK.auth'], ['keyExchangeKeyPath', 'KEK.auth'], ['signatureKeyPath', 'db.auth']] as const) {
      if (!s[field] && exists(`${prefix}/${file}`)) s[field] = `${prefix}/${file}`
    }
  }

  const o = p.output
  if (o.kind === 'image') {
    const io = (o.imageOptions ??= { diskSize: 0 })
    io.bootloader = q.selectBootloader(io.bootloader, arch, sb)
    const sizes = q.partitionSizes()
    io.diskSize += sizes.bootSize - 1000 * MiB
    if (io.bootloader === 'dual-boot') io.diskSize += sizes.biosSize + sizes.bootSize
  } else if (o.kind === 'iso' && q.isoSupportsSettingBootloader()) {
    const iso = (o.isoOptions ??= { sdBootEnrollKeys: 'if-safe' })
    iso.bootloader = q.selectBootloader(iso.bootloader, arch, sb)
  }
  return p
}

/** The imager's profile checks (`Profile.Validate`) as 400s, on a filled profile. */
export function validateProfile(p: Profile): void {
  const q = new Quirks(p.version)
  const kind = p.output.kind
  if (p.arch !== 'amd64' && p.arch !== 'arm64') throw new InvalidInputError(`invalid arch ${JSON.stringify(p.arch)}`)
  if (p.platform === '') throw new InvalidInputError('platform is required')
  if (secureBootEnabled(p) && !q.supportsUKI()) throw new InvalidInputError(`secureboot is not supported for Talos version ${JSON.stringify(p.version)}`)
  switch (kind) {
    case 'unknown':
      throw new InvalidInputError('unknown output kind')
    case 'iso':
      if (q.isoSupportsSettingBootloader() && p.output.isoOptions?.bootloader === 'none') throw new InvalidInputError("bootloader cannot be 'none' for ISO output")
      break
    case 'image':
      if (!p.output.imageOptions) throw new InvalidInputError('image options are required for image output')
      if (p.output.imageOptions.diskSize === 0) throw new InvalidInputError('disk size is required for image output')
      if ((p.output.imageOptions.bootloader ?? 'none') === 'none') throw new InvalidInputError("bootloader cannot be 'none' for disk image output")
      break
    case 'installer':
      if ((p.customization.metaContents?.length ?? 0) > 0) throw new InvalidInputError(`customization of meta partition is not supported for ${kind} output`)
      break
    case 'kernel':
    case 'initramfs':
      if (secureBootEnabled(p)) throw new InvalidInputError(`secureboot is not supported for ${kind} output`)
      if ((p.customization.extraKernelArgs?.length ?? 0) > 0) throw new InvalidInputError(`customization of kernel args is not supported for ${kind} output`)
      if ((p.customization.metaContents?.length ?? 0) > 0) throw new InvalidInputError(`customization of meta partition is not supported for ${kind} output`)
      break
    case 'uki':
      if (!q.supportsUKI()) throw new InvalidInputError('UKI output is not supported in this Talos version')
      break
    case 'cmdline':
      break
  }
}

/** Output file name the imager writes (talos `Profile.OutputPath`, before compression suffix). */
export function profileOutputPath(p: Profile): string {
  const sb = secureBootEnabled(p) ? '-secureboot' : ''
  const base = `${p.platform}-${p.arch}${sb}`
  switch (p.output.kind) {
    case 'iso':
      return `${base}.iso`
    case 'image':
      return `${base}.${p.output.imageOptions?.diskFormat ?? 'unknown'}`
    case 'installer':
      return `installer-${p.arch}${sb}.tar`
    case 'kernel':
      return `kernel-${p.arch}`
    case 'initramfs':
      return `initramfs-${base}.xz`
    case 'uki':
      return `${base}-uki.efi`
    case 'cmdline':
      return `cmdline-${base}`
    case 'unknown':
      throw new InvalidInputError('unknown output kind')
  }
}
