/**
 * Asset request + schematic + version → Talos imager profile (factory `EnhanceFromSchematic`,
 * imager-spec §2), plus the imager's own defaulting/validation and the profile YAML that is fed
 * to the imager on stdin.
 *
 * Why here and pure: the profile is the contract between the edge, the builder and either imager
 * (native or the official container), and its YAML is what the cache key hashes. Everything that
 * needs I/O (extension catalogue, overlay catalogue and overlay profile fragments, SecureBoot key
 * locations) is injected, so the same inputs always give the same profile.
 */
import { InvalidInputError } from '../errors.ts'
import type { BootloaderKind, MetaValue, Schematic, YamlValue } from '../schematic/types.ts'
import { buildCmdline } from '../talos/cmdline.ts'
import { isKnownPlatform, MiB, platformMinVersion, unknownPlatformError, type Arch } from '../talos/platforms.ts'
import { Quirks } from '../talos/quirks.ts'
import { compareSemver, semver, toVersionTag, tryParseSemver } from '../talos/semver.ts'
import { emitYamlValue } from '../schematic/emit.ts'
import { emitYaml, y, type YamlNode } from './goyaml.ts'
import type { AssetRequest, DiskFormat, OutFormat, OutputKind } from './path.ts'

export type { AssetRequest, DiskFormat, OutFormat, OutputKind } from './path.ts'

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
export function cloneProfile(p: Profile): Profile {
  return structuredClone(p)
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

// ---------------------------------------------------------------------------------------------
// Enhancement from the schematic
// ---------------------------------------------------------------------------------------------

/** Extension renames/misnamings the reference retries (factory-spec §5.2). */
export const EXTENSION_ALIASES: Readonly<Record<string, string>> = {
  'siderolabs/v4l-uvc': 'siderolabs/v4l-uvc-drivers',
  'siderolabs/usb-modem': 'siderolabs/usb-modem-drivers',
  'siderolabs/gasket': 'siderolabs/gasket-driver',
  'siderolabs/talos-vmtoolsd': 'siderolabs/vmtoolsd-guest-agent',
  'siderolabs/xe-guest-utilities': 'siderolabs/xen-guest-agent',
  'siderolabs/nvidia-container-toolkit': 'siderolabs/nvidia-container-toolkit-lts',
  'siderolabs/nvidia-open-gpu-kernel-modules': 'siderolabs/nvidia-open-gpu-kernel-modules-lts',
  'siderolabs/nonfree-kmod-nvidia': 'siderolabs/nonfree-kmod-nvidia-lts',
  'siderolabs/nvidia-fabricmanager': 'siderolabs/nvidia-fabric-manager-lts',
  'siderolabs/i915-ucode': 'siderolabs/i915',
  'siderolabs/amdgpu-firmware': 'siderolabs/amdgpu',
}

type MaybePromise<T> = T | Promise<T>

/** An image picked from a catalogue: tagged reference (identity) and manifest digest. */
export interface ResolvedImage {
  /** e.g. `ghcr.io/siderolabs/gvisor:20231214.0` */
  readonly ref: string
  /** `sha256:<hex>` */
  readonly digest: string
}

/** Looks an official extension up by repository path (`siderolabs/gvisor`) in the version's catalogue. */
export type ExtensionResolver = (repositoryPath: string) => MaybePromise<ResolvedImage | null>

/** The customization-type part of an overlay's `profiles/<name>.yaml`. */
export interface OverlayProfileFragment {
  readonly name?: string
  readonly customization?: ProfileCustomization
  readonly imageOptions?: Partial<Pick<ImageOptions, 'diskSectorSize' | 'bootloader' | 'sdBootEnrollKeys'>>
  readonly isoOptions?: Partial<ISOOptions>
}

export interface ResolvedOverlay extends ResolvedImage {
  readonly name: string
  /** parsed `profiles/<name>.yaml` of the overlay, when it has one */
  readonly profile?: OverlayProfileFragment | null
}

/** Looks an official overlay up by name in the version's overlay catalogue. */
export type OverlayResolver = (name: string) => MaybePromise<ResolvedOverlay | null>

export interface BuildProfileOptions {
  /** ID of `schematic` (names the virtual schematic extension tarball) */
  readonly schematicId: string
  readonly resolveExtension?: ExtensionResolver
  readonly resolveOverlay?: OverlayResolver
  /** SecureBoot signer locations; undefined = SecureBoot disabled (SecureBoot paths → 400) */
  readonly secureBoot?: SecureBootAssets
  /** directory holding OCI layouts `<arch>-<digest>` and `<arch>-installer-<tag>` (default: none) */
  readonly artifactsDir?: string
  /** directory holding schematic extension tarballs `<id>-<bool>.tar` (default: none) */
  readonly schematicsDir?: string
  /** architecture of the machine running overlay installers (default: this process) */
  readonly hostArch?: Arch
  /** base installer repository without tag (default `siderolabs/installer-base` / `siderolabs/installer`) */
  readonly installerRepository?: string
  /** profile `name` (default `Talos`) */
  readonly name?: string
}

/** An image or file the builder must materialise at `path` before running the imager. */
export type ProfileDependency =
  | { readonly kind: 'base-installer'; readonly arch: Arch; readonly ref: string; readonly path: string }
  | { readonly kind: 'extension'; readonly arch: Arch; readonly name: string; readonly ref: string; readonly digest: string; readonly path: string }
  | { readonly kind: 'overlay'; readonly arch: Arch; readonly name: string; readonly ref: string; readonly digest: string; readonly path: string }
  | { readonly kind: 'schematic-extension'; readonly schematicId: string; readonly withExtraInfo: boolean; readonly path: string }

export interface BuiltProfile {
  readonly profile: Profile
  readonly dependencies: readonly ProfileDependency[]
  /** the overlay catalogue entry used, if any (the builder needs its profile/installer) */
  readonly overlay?: ResolvedOverlay
}

function join(dir: string | undefined, name: string): string {
  if (!dir) return name
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`
}

function processArch(): Arch {
  return process.arch === 'arm64' ? 'arm64' : 'amd64'
}

/** Parse `enrollKeys` like the enumer-generated parser (exact, then lower-case). */
export function parseEnrollKeys(value: string): SDBootEnrollKeys {
  const v = (ENROLL_KEYS as readonly string[]).includes(value) ? value : value.toLowerCase()
  if ((ENROLL_KEYS as readonly string[]).includes(v)) return v as SDBootEnrollKeys
  throw new InvalidInputError(`invalid secureboot enrollKeys value ${JSON.stringify(value)}: ${value} does not belong to SDBootEnrollKeys values`)
}

/** Find an official extension by name, retrying once through the alias table. */
export async function resolveOfficialExtension(name: string, resolve: ExtensionResolver): Promise<ResolvedImage | null> {
  const direct = await resolve(name)
  if (direct) return direct
  const alias = EXTENSION_ALIASES[name]
  return alias !== undefined && Object.hasOwn(EXTENSION_ALIASES, name) ? await resolve(alias) : null
}

function appendCustomization(p: Profile, args: readonly string[] | undefined, meta: readonly MetaValue[] | undefined): void {
  if (args && args.length > 0) p.customization.extraKernelArgs = [...(p.customization.extraKernelArgs ?? []), ...args]
  if (meta && meta.length > 0) {
    p.customization.metaContents = [...(p.customization.metaContents ?? []), ...meta.map((m) => ({ key: m.key, value: m.value }))]
  }
}

/**
 * Merge an overlay profile fragment (talos `merge.Merge`: non-zero scalars override, slices
 * append, missing option blocks are created).
 */
export function mergeOverlayProfile(p: Profile, fragment: OverlayProfileFragment): void {
  if (fragment.name) p.name = fragment.name
  const c = fragment.customization
  if (c) {
    appendCustomization(p, c.extraKernelArgs, c.metaContents)
    if (c.embeddedMachineConfiguration) p.customization.embeddedMachineConfiguration = c.embeddedMachineConfiguration
  }
  const io = fragment.imageOptions
  if (io) {
    const target = (p.output.imageOptions ??= { diskSize: 0 })
    if (io.diskSectorSize) target.diskSectorSize = io.diskSectorSize
    if (io.bootloader && io.bootloader !== 'none') target.bootloader = io.bootloader
    if (io.sdBootEnrollKeys && io.sdBootEnrollKeys !== 'if-safe') target.sdBootEnrollKeys = io.sdBootEnrollKeys
  }
  const iso = fragment.isoOptions
  if (iso) {
    const target = (p.output.isoOptions ??= { sdBootEnrollKeys: 'if-safe' })
    if (iso.sdBootEnrollKeys && iso.sdBootEnrollKeys !== 'if-safe') target.sdBootEnrollKeys = iso.sdBootEnrollKeys
    if (iso.bootloader && iso.bootloader !== 'none') target.bootloader = iso.bootloader
  }
}

/**
 * Build the imager profile for a request (factory-spec §6.4, in the reference's order). Throws
 * InvalidInputError (400) with the reference's reason texts; the edge prefixes them with
 * `error enhancing profile from schematic: `.
 */
export async function buildProfile(request: AssetRequest, schematic: Schematic, version: string, opts: BuildProfileOptions): Promise<BuiltProfile> {
  const versionTag = toVersionTag(version)
  const q = new Quirks(versionTag)
  const c = schematic.customization
  const p = profileFromRequest(request)
  const deps: ProfileDependency[] = []
  const kind = request.kind
  const arch = request.arch
  let usedOverlay: ResolvedOverlay | undefined

  // platform names are not checked by the path grammar; the imager would reject them later
  if (!isKnownPlatform(p.platform)) throw unknownPlatformError(p.platform)
  // a disk image for a Talos that does not know its platform would not come up (the reference
  // builds it anyway; we answer why not)
  const minVersion = platformMinVersion(p.platform)
  const target = tryParseSemver(versionTag, { tolerant: true })
  if (kind === 'image' && minVersion !== undefined && target !== null && compareSemver(target, semver(minVersion)) < 0) {
    throw new InvalidInputError(`platform ${p.platform} is not supported for Talos version ${versionTag} (it needs ${minVersion} or later)`)
  }

  // 1. embedded machine configuration
  if (kind !== 'cmdline' && kind !== 'kernel' && c.embeddedMachineConfiguration) {
    if (!q.supportsEmbeddedConfig()) throw new InvalidInputError(`embedding configuration is not supported for Talos version ${versionTag}`)
    p.customization.embeddedMachineConfiguration = c.embeddedMachineConfiguration
  }

  // 2. SecureBoot
  if (secureBootEnabled(p)) {
    if (opts.secureBoot === undefined) throw new InvalidInputError('secure boot is disabled')
    const sb = structuredClone(opts.secureBoot)
    if (c.secureboot?.includeWellKnownCertificates) sb.includeWellKnownCerts = true
    p.input.secureboot = sb
    const enroll = c.secureboot?.enrollKeys
    if (enroll) {
      const keys = parseEnrollKeys(enroll)
      if (kind === 'iso') (p.output.isoOptions ??= { sdBootEnrollKeys: 'if-safe' }).sdBootEnrollKeys = keys
      else if (kind === 'image') (p.output.imageOptions ??= { diskSize: 0 }).sdBootEnrollKeys = keys
    }
  }

  // 3. overlay gate
  const overlayName = schematic.overlay?.name ?? ''
  if (overlayName !== '' && !q.supportsOverlay()) throw new InvalidInputError(`overlay is not supported for Talos version ${versionTag}`)

  // 4. base installer
  if (kind === 'installer') {
    const repo = opts.installerRepository ?? q.installerImageName()
    const ref = `${repo}:${versionTag}`
    const path = join(opts.artifactsDir, `${arch}-installer-${versionTag}`)
    p.input.baseInstaller = { imageRef: ref, ociPath: path }
    deps.push({ kind: 'base-installer', arch, ref, path })
  }

  // 5. extensions, schematic extension, overlay
  if (kind !== 'cmdline' && kind !== 'kernel') {
    const extensions: ContainerAsset[] = []
    for (const name of c.systemExtensions?.officialExtensions ?? []) {
      const found = opts.resolveExtension ? await resolveOfficialExtension(name, opts.resolveExtension) : null
      if (!found) throw new InvalidInputError(`official extension ${JSON.stringify(name)} is not available for Talos version ${versionTag}`)
      const path = join(opts.artifactsDir, `${arch}-${found.digest}`)
      extensions.push({ imageRef: '', ociPath: path })
      deps.push({ kind: 'extension', arch, name, ref: found.ref, digest: found.digest, path })
    }
    const withExtraInfo = q.supportsSchematicExtraInfo()
    const tarball = join(opts.schematicsDir, `${opts.schematicId}-${q.supportsOverlay()}.tar`)
    extensions.push({ imageRef: '', tarballPath: tarball })
    deps.push({ kind: 'schematic-extension', schematicId: opts.schematicId, withExtraInfo, path: tarball })
    p.input.systemExtensions = extensions

    if (overlayName !== '') {
      const overlay = opts.resolveOverlay ? await opts.resolveOverlay(overlayName) : null
      if (!overlay) throw new InvalidInputError(`official overlay ${JSON.stringify(overlayName)} is not available for Talos version ${versionTag}`)
      const hostArch = opts.hostArch ?? processArch()
      const hostPath = join(opts.artifactsDir, `${hostArch}-${overlay.digest}`)
      const targetPath = join(opts.artifactsDir, `${arch}-${overlay.digest}`)
      deps.push({ kind: 'overlay', arch: hostArch, name: overlayName, ref: overlay.ref, digest: overlay.digest, path: hostPath })
      if (targetPath !== hostPath) deps.push({ kind: 'overlay', arch, name: overlayName, ref: overlay.ref, digest: overlay.digest, path: targetPath })
      if (overlay.profile) mergeOverlayProfile(p, overlay.profile)
      p.overlay = { name: overlayName, image: { imageRef: '', ociPath: hostPath } }
      const options = schematic.overlay?.options
      if (options && Object.keys(options).length > 0) p.overlay.options = structuredClone(options)
      p.input.overlayInstaller = { imageRef: '', ociPath: targetPath }
      usedOverlay = overlay
    }
  }

  // 6. kernel args / META / bootloader / sector size by output kind
  const bootloader = c.bootloader !== undefined && c.bootloader !== 'none' ? c.bootloader : undefined
  switch (kind) {
    case 'kernel':
    case 'initramfs':
      break
    case 'installer':
    case 'uki':
      if (secureBootEnabled(p) || q.supportsUnifiedInstaller()) appendCustomization(p, c.extraKernelArgs, undefined)
      break
    case 'iso':
      appendCustomization(p, c.extraKernelArgs, c.meta)
      if (bootloader) (p.output.isoOptions ??= { sdBootEnrollKeys: 'if-safe' }).bootloader = bootloader
      break
    case 'image':
      appendCustomization(p, c.extraKernelArgs, c.meta)
      if (bootloader) (p.output.imageOptions ??= { diskSize: 0 }).bootloader = bootloader
      if (c.diskImage?.sectorSize) (p.output.imageOptions ??= { diskSize: 0 }).diskSectorSize = c.diskImage.sectorSize
      break
    case 'cmdline':
      appendCustomization(p, c.extraKernelArgs, c.meta)
      break
  }

  // 7. version and name
  p.version = versionTag
  p.name = opts.name ?? 'Talos'

  // what the imager would refuse (reference: 500 from the build) is bad input here
  validateProfile(fillProfileDefaults(p))

  return usedOverlay ? { profile: p, dependencies: deps, overlay: usedOverlay } : { profile: p, dependencies: deps }
}

/** The imager's kernel command line for a profile (overlay `get-options` args passed in). */
export function profileCmdline(p: Profile, overlayKernelArgs?: readonly string[]): string {
  return buildCmdline({
    platform: p.platform,
    arch: p.arch,
    version: p.version,
    outputKind: p.output.kind,
    secureboot: secureBootEnabled(p),
    ...(overlayKernelArgs === undefined ? {} : { overlayKernelArgs }),
    ...(p.customization.metaContents === undefined ? {} : { metaContents: p.customization.metaContents }),
    ...(p.customization.extraKernelArgs === undefined ? {} : { extraKernelArgs: p.customization.extraKernelArgs }),
  })
}

// ---------------------------------------------------------------------------------------------
// Imager defaults and validation (talos `FillDefaults`, `Validate`)
// ---------------------------------------------------------------------------------------------

export const DEFAULT_INSTALLER_REPOSITORY = 'ghcr.io/siderolabs/installer'
export const DEFAULT_INSTALLER_BASE_REPOSITORY = 'ghcr.io/siderolabs/installer-base'
export const DEFAULT_SECUREBOOT_PREFIX = '/secureboot'

function isZeroContainer(c: ContainerAsset | undefined): boolean {
  return c === undefined || (c.imageRef === '' && !c.forceInsecure && !c.tarballPath && !c.ociPath)
}

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

// ---------------------------------------------------------------------------------------------
// YAML (go-yaml v4 Marshal of the Go struct: field order + omitempty)
// ---------------------------------------------------------------------------------------------

type Entries = Array<readonly [string, YamlNode]>

function optStr(e: Entries, key: string, v: string | undefined): void {
  if (v !== undefined && v !== '') e.push([key, y.str(v)])
}

function containerNode(c: ContainerAsset): YamlNode {
  const e: Entries = [['imageRef', y.str(c.imageRef)]]
  if (c.forceInsecure) e.push(['forceInsecure', y.bool(true)])
  optStr(e, 'tarballPath', c.tarballPath)
  optStr(e, 'ociPath', c.ociPath)
  return y.map(e)
}

function signerNode(s: SigningKeyAndCertificate): YamlNode {
  const e: Entries = []
  optStr(e, 'keyPath', s.keyPath)
  optStr(e, 'certPath', s.certPath)
  optStr(e, 'azureVaultURL', s.azureVaultURL)
  optStr(e, 'azureCertificateID', s.azureCertificateID)
  optStr(e, 'awsKMSKeyID', s.awsKMSKeyID)
  optStr(e, 'awsRegion', s.awsRegion)
  optStr(e, 'awsCertPath', s.awsCertPath)
  optStr(e, 'awsCertARN', s.awsCertARN)
  optStr(e, 'signerAddress', s.signerAddress)
  return y.map(e)
}

function keyNode(s: SigningKey): YamlNode {
  const e: Entries = []
  optStr(e, 'keyPath', s.keyPath)
  optStr(e, 'azureVaultURL', s.azureVaultURL)
  optStr(e, 'azureKeyID', s.azureKeyID)
  optStr(e, 'azureKeyVersion', s.azureKeyVersion)
  optStr(e, 'awsKMSKeyID', s.awsKMSKeyID)
  optStr(e, 'awsRegion', s.awsRegion)
  optStr(e, 'signerAddress', s.signerAddress)
  return y.map(e)
}

/** Go-value tree of a profile in talos struct field order with omitempty applied. */
export function profileToYamlNode(p: Profile): YamlNode {
  const top: Entries = []
  optStr(top, 'baseProfileName', p.baseProfileName)
  top.push(['arch', y.str(p.arch)])
  top.push(['platform', y.str(p.platform)])
  top.push(['secureboot', p.secureboot === null ? y.null() : y.bool(p.secureboot)])
  optStr(top, 'name', p.name)
  top.push(['version', y.str(p.version)])

  const cust: Entries = []
  const c = p.customization
  if (c.extraKernelArgs && c.extraKernelArgs.length > 0) cust.push(['extraKernelArgs', y.seq(c.extraKernelArgs.map(y.str))])
  if (c.metaContents && c.metaContents.length > 0) {
    cust.push(['metaContents', y.seq(c.metaContents.map((m) => y.map([['key', y.int(m.key)], ['value', y.str(m.value)]])))])
  }
  optStr(cust, 'embeddedMachineConfiguration', c.embeddedMachineConfiguration)
  if (cust.length > 0) top.push(['customization', y.map(cust)])

  const i = p.input
  const input: Entries = [
    ['kernel', y.map([['path', y.str(i.kernel.path)]])],
    ['initramfs', y.map([['path', y.str(i.initramfs.path)]])],
  ]
  if (i.sdStub?.path) input.push(['sdStub', y.map([['path', y.str(i.sdStub.path)]])])
  if (i.sdBoot?.path) input.push(['sdBoot', y.map([['path', y.str(i.sdBoot.path)]])])
  for (const key of ['baseInstaller', 'imageCache', 'overlayInstaller'] as const) {
    const asset = i[key]
    if (asset !== undefined && !isZeroContainer(asset)) input.push([key, containerNode(asset)])
  }
  if (i.secureboot) {
    const s = i.secureboot
    const e: Entries = [
      ['secureBootSigner', signerNode(s.secureBootSigner)],
      ['pcrSigner', keyNode(s.pcrSigner)],
    ]
    optStr(e, 'platformKeyPath', s.platformKeyPath)
    optStr(e, 'keyExchangeKeyPath', s.keyExchangeKeyPath)
    optStr(e, 'signatureKeyPath', s.signatureKeyPath)
    if (s.includeWellKnownCerts) e.push(['includeWellKnownCerts', y.bool(true)])
    input.push(['secureboot', y.map(e)])
  }
  if (i.systemExtensions && i.systemExtensions.length > 0) input.push(['systemExtensions', y.seq(i.systemExtensions.map(containerNode))])
  top.push(['input', y.map(input)])

  if (p.overlay) {
    const e: Entries = [
      ['name', y.str(p.overlay.name)],
      ['image', containerNode(p.overlay.image)],
    ]
    // free-form options: the schematic emitter already reproduces go-yaml for every decoded value kind
    if (p.overlay.options && Object.keys(p.overlay.options).length > 0) e.push(['options', y.block(emitYamlValue(p.overlay.options))])
    top.push(['overlay', y.map(e)])
  }

  const o = p.output
  const out: Entries = [['kind', y.str(o.kind)]]
  if (o.imageOptions) {
    const io = o.imageOptions
    const e: Entries = [['diskSize', y.int(io.diskSize)]]
    optStr(e, 'diskFormat', io.diskFormat)
    optStr(e, 'diskFormatOptions', io.diskFormatOptions)
    if (io.diskSectorSize) e.push(['diskSectorSize', y.int(io.diskSectorSize)])
    if (io.bootloader && io.bootloader !== 'none') e.push(['bootloader', y.str(io.bootloader)])
    if (io.sdBootEnrollKeys && io.sdBootEnrollKeys !== 'if-safe') e.push(['sdBootEnrollKeys', y.str(io.sdBootEnrollKeys)])
    out.push(['imageOptions', y.map(e)])
  }
  if (o.isoOptions) {
    const e: Entries = [['sdBootEnrollKeys', y.str(o.isoOptions.sdBootEnrollKeys)]]
    if (o.isoOptions.bootloader && o.isoOptions.bootloader !== 'none') e.push(['bootloader', y.str(o.isoOptions.bootloader)])
    out.push(['isoOptions', y.map(e)])
  }
  out.push(['outFormat', y.str(o.outFormat)])
  top.push(['output', y.map(out)])
  return y.map(top)
}

/** Talos profile YAML (go-yaml v4 layout) — the imager's stdin and the cache key's input. */
export function profileToYaml(p: Profile): string {
  return emitYaml(profileToYamlNode(p))
}

// ---------------------------------------------------------------------------------------------
// Overlay profile fragments (`profiles/<name>.yaml` inside overlay images)
// ---------------------------------------------------------------------------------------------

const BOOTLOADERS: readonly BootloaderKind[] = ['none', 'dual-boot', 'sd-boot', 'grub']

function rec(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}
function strOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}
function bootloaderOf(v: unknown): BootloaderKind | undefined {
  const s = strOf(v)?.toLowerCase()
  return s !== undefined && (BOOTLOADERS as readonly string[]).includes(s) ? (s as BootloaderKind) : undefined
}
function enrollOf(v: unknown): SDBootEnrollKeys | undefined {
  const s = strOf(v)
  return s === undefined ? undefined : parseEnrollKeys(s)
}

/**
 * Extract the fields the factory merges from a parsed overlay profile document (everything
 * about input, arch, platform, version, SecureBoot, output kind/format and disk format/size is
 * ignored, as in the reference).
 */
export function overlayProfileFragment(doc: unknown): OverlayProfileFragment {
  const d = rec(doc) ?? {}
  const out: { -readonly [K in keyof OverlayProfileFragment]: OverlayProfileFragment[K] } = {}
  const name = strOf(d.name)
  if (name) out.name = name
  const c = rec(d.customization)
  if (c) {
    const cust: ProfileCustomization = {}
    if (Array.isArray(c.extraKernelArgs)) cust.extraKernelArgs = c.extraKernelArgs.map(String)
    if (Array.isArray(c.metaContents)) {
      cust.metaContents = c.metaContents.flatMap((m) => {
        const r = rec(m)
        return r && typeof r.key === 'number' ? [{ key: r.key, value: String(r.value ?? '') }] : []
      })
    }
    const emc = strOf(c.embeddedMachineConfiguration)
    if (emc) cust.embeddedMachineConfiguration = emc
    out.customization = cust
  }
  const o = rec(d.output)
  const io = rec(o?.imageOptions)
  if (io) {
    const f: { diskSectorSize?: number; bootloader?: BootloaderKind; sdBootEnrollKeys?: SDBootEnrollKeys } = {}
    if (typeof io.diskSectorSize === 'number') f.diskSectorSize = io.diskSectorSize
    const b = bootloaderOf(io.bootloader)
    if (b) f.bootloader = b
    const k = enrollOf(io.sdBootEnrollKeys)
    if (k) f.sdBootEnrollKeys = k
    out.imageOptions = f
  }
  const iso = rec(o?.isoOptions)
  if (iso) {
    const f: { sdBootEnrollKeys?: SDBootEnrollKeys; bootloader?: BootloaderKind } = {}
    const b = bootloaderOf(iso.bootloader)
    if (b) f.bootloader = b
    const k = enrollOf(iso.sdBootEnrollKeys)
    if (k) f.sdBootEnrollKeys = k
    out.isoOptions = f
  }
  return out
}
