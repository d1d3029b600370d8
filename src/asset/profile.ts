/**
 * Asset request + schematic + version → Talos imager profile (factory `EnhanceFromSchematic`,
 * factory-spec §6.4).
 *
 * Why here and pure: the profile is the contract between the edge, the builder and either imager
 * (native or the official container), and its YAML is what the cache key hashes. Everything that
 * needs I/O (extension catalogue, overlay catalogue and overlay profile fragments, SecureBoot key
 * locations) is injected, so the same inputs always give the same profile.
 *
 * The model, the imager's defaulting/validation, the YAML and overlay fragments live in their own
 * modules and are re-exported here.
 */
import { InvalidInputError } from '../errors.ts'
import type { Schematic } from '../schematic/types.ts'
import { buildCmdline } from '../talos/cmdline.ts'
import { isKnownPlatform, platformMinVersion, unknownPlatformError, type Arch } from '../talos/platforms.ts'
import { Quirks } from '../talos/quirks.ts'
import { compareSemver, semver, toVersionTag, tryParseSemver } from '../talos/semver.ts'
import type { AssetRequest } from './path.ts'
import { mergeOverlayProfile } from './overlay-profile.ts'
import { fillProfileDefaults, validateProfile } from './profile-defaults.ts'
import {
  appendCustomization,
  parseEnrollKeys,
  profileFromRequest,
  secureBootEnabled,
  type ContainerAsset,
  type OverlayProfileFragment,
  type Profile,
  type SecureBootAssets,
} from './profile-model.ts'

export * from './profile-model.ts'
export * from './profile-defaults.ts'
export * from './profile-yaml.ts'
export * from './overlay-profile.ts'
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


/** Find an official extension by name, retrying once through the alias table. */
export async function resolveOfficialExtension(name: string, resolve: ExtensionResolver): Promise<ResolvedImage | null> {
  const direct = await resolve(name)
  if (direct) return direct
  const alias = EXTENSION_ALIASES[name]
  return alias !== undefined && Object.hasOwn(EXTENSION_ALIASES, name) ? await resolve(alias) : null
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
      // shared, not copied: schematic YAML is immutable (and see cloneProfile)
      if (options && Object.keys(options).length > 0) p.overlay.options = options
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
