/**
 * The Talos imager profile model (talos `pkg/imager/profile`, imager-spec §2.1): types, copies and
 * the base profile a URL path yields. Optional fields are the Go zero value / omitted.
 */
import { InvalidInputError } from '../errors.ts'
import type { BootloaderKind, MetaValue, YamlValue } from '../schematic/types.ts'
import type { Arch } from '../talos/platforms.ts'
import type { AssetRequest, DiskFormat, OutFormat, OutputKind } from './path.ts'

/** `secure-boot-enroll` value for systemd-boot's loader.conf (zero value: if-safe). */
export type SDBootEnrollKeys = 'if-safe' | 'manual' | 'force' | 'off'
const ENROLL_KEYS: readonly SDBootEnrollKeys[] = ['if-safe', 'manual', 'force', 'off']

// ---------------------------------------------------------------------------------------------
// Profile model (talos `pkg/imager/profile`); optional = Go zero value / omitted
// ---------------------------------------------------------------------------------------------

export interface FileAsset {
  path: string
}

export interface ContainerAsset {
  imageRef: string
  forceInsecure?: boolean
  /** plain tar of a filesystem (virtual extensions) */
  tarballPath?: string
  /** OCI layout directory */
  ociPath?: string
}

export interface SigningKeyAndCertificate {
  keyPath?: string
  certPath?: string
  azureVaultURL?: string
  azureCertificateID?: string
  awsKMSKeyID?: string
  awsRegion?: string
  awsCertPath?: string
  awsCertARN?: string
  signerAddress?: string
}

export interface SigningKey {
  keyPath?: string
  azureVaultURL?: string
  azureKeyID?: string
  azureKeyVersion?: string
  awsKMSKeyID?: string
  awsRegion?: string
  signerAddress?: string
}

export interface SecureBootAssets {
  secureBootSigner: SigningKeyAndCertificate
  pcrSigner: SigningKey
  platformKeyPath?: string
  keyExchangeKeyPath?: string
  signatureKeyPath?: string
  includeWellKnownCerts?: boolean
}

export interface ProfileInput {
  kernel: FileAsset
  initramfs: FileAsset
  sdStub?: FileAsset
  sdBoot?: FileAsset
  baseInstaller?: ContainerAsset
  imageCache?: ContainerAsset
  overlayInstaller?: ContainerAsset
  secureboot?: SecureBootAssets
  systemExtensions?: ContainerAsset[]
}

export interface ImageOptions {
  /** bytes */
  diskSize: number
  diskFormat?: DiskFormat
  diskFormatOptions?: string
  /** 0/undefined = 512 */
  diskSectorSize?: number
  bootloader?: BootloaderKind
  sdBootEnrollKeys?: SDBootEnrollKeys
}

export interface ISOOptions {
  sdBootEnrollKeys: SDBootEnrollKeys
  bootloader?: BootloaderKind
}

export interface ProfileOutput {
  kind: OutputKind | 'unknown'
  imageOptions?: ImageOptions
  isoOptions?: ISOOptions
  outFormat: OutFormat | 'unknown'
}

export interface OverlayOptions {
  /** overlay installer name */
  name: string
  /** overlay image for the host arch (its installer binary runs) */
  image: ContainerAsset
  options?: Record<string, YamlValue>
}

export interface ProfileCustomization {
  extraKernelArgs?: string[]
  metaContents?: MetaValue[]
  embeddedMachineConfiguration?: string
}

export interface Profile {
  baseProfileName?: string
  arch: string
  platform: string
  /** null = unset (== false) */
  secureboot: boolean | null
  name?: string
  version: string
  customization: ProfileCustomization
  input: ProfileInput
  overlay?: OverlayOptions
  output: ProfileOutput
}

/** The Go zero profile (hash vector "empty profile"). */
export function emptyProfile(): Profile {
  return {
    arch: '',
    platform: '',
    secureboot: null,
    version: '',
    customization: {},
    input: { kernel: { path: '' }, initramfs: { path: '' } },
    output: { kind: 'unknown', outFormat: 'unknown' },
  }
}

export function secureBootEnabled(p: Pick<Profile, 'secureboot'>): boolean {
  return p.secureboot === true
}

/** Deep copy (profiles are plain data). */
/**
 * Deep copy (profiles are plain data) — except `overlay.options`, which is shared: it is the
 * schematic's parsed YAML, immutable, and holds class instances (YamlFloat, YamlTimestamp,
 * YamlAnyMap) that structuredClone would turn into plain objects (`a: 1.0` became `a: {value: 1}`).
 */
export function cloneProfile(p: Profile): Profile {
  const options = p.overlay?.options
  if (options === undefined || p.overlay === undefined) return structuredClone(p)
  const copy = structuredClone({ ...p, overlay: { ...p.overlay, options: undefined } }) as Profile
  copy.overlay!.options = options
  return copy
}

// ---------------------------------------------------------------------------------------------
// Request → base profile
// ---------------------------------------------------------------------------------------------

/** The profile the path grammar alone yields (factory `ParseFromPath` result). */
export function profileFromRequest(r: AssetRequest): Profile {
  const p = emptyProfile()
  p.arch = r.arch
  p.platform = r.platform
  if (r.secureboot) p.secureboot = true
  p.output.kind = r.kind
  p.output.outFormat = r.outFormat
  if (r.imageOptions) {
    p.output.imageOptions = { diskSize: r.imageOptions.diskSize, diskFormat: r.imageOptions.diskFormat }
    if (r.imageOptions.diskFormatOptions) p.output.imageOptions.diskFormatOptions = r.imageOptions.diskFormatOptions
  }
  return p
}

/** Base profile for OCI-registry installer builds (factory `InstallerProfile`). */
export function installerProfile(secureboot: boolean, arch: Arch, platform = 'metal'): Profile {
  const p = emptyProfile()
  p.arch = arch
  p.platform = platform || 'metal'
  if (secureboot) p.secureboot = true
  p.output.kind = 'installer'
  p.output.outFormat = 'raw'
  return p
}

/** Parse `enrollKeys` like the enumer-generated parser (exact, then lower-case). */
export function parseEnrollKeys(value: string): SDBootEnrollKeys {
  const v = (ENROLL_KEYS as readonly string[]).includes(value) ? value : value.toLowerCase()
  if ((ENROLL_KEYS as readonly string[]).includes(v)) return v as SDBootEnrollKeys
  throw new InvalidInputError(`invalid secureboot enrollKeys value ${JSON.stringify(value)}: ${value} does not belong to SDBootEnrollKeys values`)
}

/** A container input with nothing set (the Go zero value). */
export function isZeroContainer(c: ContainerAsset | undefined): boolean {
  return c === undefined || (c.imageRef === '' && !c.forceInsecure && !c.tarballPath && !c.ociPath)
}

/** The customization-type part of an overlay's `profiles/<name>.yaml`. */
export interface OverlayProfileFragment {
  readonly name?: string
  readonly customization?: ProfileCustomization
  readonly imageOptions?: Partial<Pick<ImageOptions, 'diskSectorSize' | 'bootloader' | 'sdBootEnrollKeys'>>
  readonly isoOptions?: Partial<ISOOptions>
}

/** Appends kernel args and META values (slices append, as talos `merge.Merge` does). */
export function appendCustomization(p: Profile, args: readonly string[] | undefined, meta: readonly MetaValue[] | undefined): void {
  if (args && args.length > 0) p.customization.extraKernelArgs = [...(p.customization.extraKernelArgs ?? []), ...args]
  if (meta && meta.length > 0) {
    p.customization.metaContents = [...(p.customization.metaContents ?? []), ...meta.map((m) => ({ key: m.key, value: m.value }))]
  }
}
