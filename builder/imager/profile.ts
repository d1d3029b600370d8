/**
 * The imager profile (imager-spec §2.1), parsed the way the reference decodes it from stdin
 * (go-yaml, unknown fields ignored), with the imager's own defaulting (§1.2 `Input.FillDefaults`,
 * §2.5 `Output.FillDefaults`) and validation (§2.2) applied, so every output builder receives a
 * complete, checked profile and never re-derives defaults itself.
 *
 * Our documented extensions of the schema:
 * - `input.systemExtensions[].tarballPath` may name a directory holding an extracted extension
 *   (`manifest.yaml` + `rootfs/`), not only a plain tar;
 * - `input.systemExtensions[].digest` (optional): a content digest the caller vouches for (e.g. the
 *   extension image's manifest digest); it replaces the directory fingerprint in the cache key;
 * - container inputs (`baseInstaller`, `overlayInstaller`, `overlay.image`) are local: `ociPath`
 *   (an OCI layout) or `tarballPath` (a tar or an extracted directory); the native imager never
 *   pulls (the builder materialises images before it runs).
 */
import YAML, { isMap, isScalar, isSeq } from 'yaml'
import { InvalidInputError } from '../../src/errors.ts'
import type { BootloaderKind, MetaValue } from '../../src/schematic/types.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { MiB } from '../../src/talos/platforms.ts'
import { ImagerUnsupportedError } from './errors.ts'
import { bool, field, list, parseYamlDoc, present, str, uint, type YNode } from './yaml-read.ts'

export const OUTPUT_KINDS = ['iso', 'image', 'installer', 'kernel', 'initramfs', 'uki', 'cmdline'] as const
export type OutputKind = (typeof OUTPUT_KINDS)[number]

export const OUT_FORMATS = ['raw', '.tar.gz', '.xz', '.gz', '.zst'] as const
export type OutFormat = (typeof OUT_FORMATS)[number]

export const DISK_FORMATS = ['raw', 'qcow2', 'vhd', 'ova'] as const
export type DiskFormat = (typeof DISK_FORMATS)[number]

export const ENROLL_KEYS = ['if-safe', 'manual', 'force', 'off'] as const
export type EnrollKeys = (typeof ENROLL_KEYS)[number]

const BOOTLOADERS: readonly BootloaderKind[] = ['none', 'dual-boot', 'sd-boot', 'grub']

export interface ExtensionInput {
  /** Plain tar of the extension filesystem, or (our extension) a directory with it extracted. */
  readonly tarballPath: string
  /** Optional caller-supplied content digest used as the cache identity. */
  readonly digest?: string
  /** The image the input was pulled from, when the caller names it (used in messages only). */
  readonly imageRef?: string
}

/** A container image input that the builder already put on disk. */
export interface ContainerInput {
  /** Reference the image was pulled from (metadata only, e.g. the installer's RepoTags). */
  readonly imageRef: string
  /** OCI image layout directory. */
  readonly ociPath?: string
  /** Plain tar of the image filesystem, or a directory holding it extracted. */
  readonly tarballPath?: string
}

/** Secure Boot key material (file signers only; paths to PEM files, keys in PKCS#1 or PKCS#8). */
export interface SecureBootInput {
  readonly signingKeyPath: string
  readonly signingCertPath: string
  readonly pcrKeyPath: string
  /** Pre-built enrolment files; all three or none (otherwise generated from the signing cert). */
  readonly platformKeyPath?: string
  readonly keyExchangeKeyPath?: string
  readonly signatureKeyPath?: string
  readonly includeWellKnownCerts: boolean
}

export interface ImageOptions {
  /** bytes, after the boot-partition adjustment of `Output.FillDefaults` */
  readonly diskSize: number
  readonly diskFormat: DiskFormat
  /** qemu-img `-o` options, verbatim */
  readonly diskFormatOptions: string
  /** 512 or 4096 */
  readonly diskSectorSize: number
  /** never `none` after defaulting */
  readonly bootloader: Exclude<BootloaderKind, 'none'>
  readonly sdBootEnrollKeys: EnrollKeys
}

export interface IsoOptions {
  readonly sdBootEnrollKeys: EnrollKeys
  /** null before 1.12 (the ISO layout then follows the version alone, imager-spec §6) */
  readonly bootloader: Exclude<BootloaderKind, 'none'> | null
}

export interface OverlayInput {
  /** installer name inside the overlay image (`installers/<name>`) */
  readonly name: string
  /** the overlay image for the host architecture (its installer binary runs) */
  readonly image: ContainerInput
  /** free-form `overlay.options` (plain JSON-compatible data), passed to the overlay installer */
  readonly options: Record<string, unknown>
}

export interface ImagerProfile {
  readonly arch: 'amd64' | 'arm64'
  readonly platform: string
  readonly secureboot: boolean
  readonly name: string
  readonly version: string
  readonly customization: {
    readonly extraKernelArgs: readonly string[]
    readonly metaContents: readonly MetaValue[]
    readonly embeddedMachineConfiguration: string
  }
  readonly input: {
    readonly kernel: string
    readonly initramfs: string
    readonly sdStub: string
    readonly sdBoot: string
    readonly systemExtensions: readonly ExtensionInput[]
    readonly baseInstaller: ContainerInput | null
    /** overlay image for the *target* arch (its artifacts go into installer images) */
    readonly overlayInstaller: ContainerInput | null
    /** only when `secureboot` */
    readonly secureboot: SecureBootInput | null
  }
  readonly overlay: OverlayInput | null
  /** True when the profile names an overlay. */
  readonly hasOverlay: boolean
  readonly output: {
    readonly kind: OutputKind
    readonly outFormat: OutFormat
    /** only for `image` */
    readonly imageOptions: ImageOptions | null
    /** only for `iso` */
    readonly isoOptions: IsoOptions | null
  }
}

function oneOf<T extends string>(value: string, choices: readonly T[], what: string): T {
  const v = (choices as readonly string[]).includes(value) ? value : value.toLowerCase()
  if ((choices as readonly string[]).includes(v)) return v as T
  throw new InvalidInputError(`profile is invalid: ${value} does not belong to ${what} values`)
}

function parseExtensionInput(n: YNode, path: string): ExtensionInput {
  const imageRef = str(field(n, 'imageRef', path), `${path}.imageRef`)
  const tarballPath = str(field(n, 'tarballPath', path), `${path}.tarballPath`)
  const ociPath = str(field(n, 'ociPath', path), `${path}.ociPath`)
  const digest = str(field(n, 'digest', path), `${path}.digest`)
  if (tarballPath === '') {
    if (ociPath !== '') throw new ImagerUnsupportedError(`${path}: ociPath inputs are not supported by the native imager; pass a tarballPath`)
    if (imageRef !== '') throw new ImagerUnsupportedError(`${path}: pulling ${imageRef} is not supported by the native imager; pass a tarballPath`)
    throw new InvalidInputError(`${path}: tarballPath is required`)
  }
  return { tarballPath, ...(digest !== '' ? { digest } : {}), ...(imageRef !== '' ? { imageRef } : {}) }
}

/** A local container input, or null when the field is absent/zero. */
function parseContainerInput(n: YNode, path: string): ContainerInput | null {
  if (!present(n)) return null
  const imageRef = str(field(n, 'imageRef', path), `${path}.imageRef`)
  const ociPath = str(field(n, 'ociPath', path), `${path}.ociPath`)
  const tarballPath = str(field(n, 'tarballPath', path), `${path}.tarballPath`)
  if (ociPath === '' && tarballPath === '') {
    if (imageRef === '') return null
    throw new ImagerUnsupportedError(`${path}: pulling ${imageRef} is not supported by the native imager; pass an ociPath or tarballPath`)
  }
  return { imageRef, ...(ociPath !== '' ? { ociPath } : {}), ...(tarballPath !== '' ? { tarballPath } : {}) }
}

function parseSecureBoot(n: YNode, prefixDefault: string): SecureBootInput {
  const p = 'input.secureboot'
  const signer = field(n, 'secureBootSigner', p)
  const pcr = field(n, 'pcrSigner', p)
  for (const [node, where, keys] of [
    [signer, `${p}.secureBootSigner`, ['azureVaultURL', 'azureCertificateID', 'awsKMSKeyID', 'awsCertPath', 'awsCertARN', 'signerAddress']],
    [pcr, `${p}.pcrSigner`, ['azureVaultURL', 'azureKeyID', 'awsKMSKeyID', 'signerAddress']],
  ] as const) {
    for (const k of keys) {
      if (str(field(node, k, where), `${where}.${k}`) !== '') throw new ImagerUnsupportedError(`${where}.${k}: only file signers are supported by the native imager`)
    }
  }
  const enrol = (key: string): string => str(field(n, key, p), `${p}.${key}`)
  const pk = enrol('platformKeyPath')
  const kek = enrol('keyExchangeKeyPath')
  const db = enrol('signatureKeyPath')
  const given = [pk, kek, db].filter((x) => x !== '').length
  if (given !== 0 && given !== 3) throw new InvalidInputError('profile is invalid: platformKeyPath, keyExchangeKeyPath and signatureKeyPath must be set together')
  return {
    signingKeyPath: str(field(signer, 'keyPath', `${p}.secureBootSigner`), `${p}.secureBootSigner.keyPath`) || `${prefixDefault}/uki-signing-key.pem`,
    signingCertPath: str(field(signer, 'certPath', `${p}.secureBootSigner`), `${p}.secureBootSigner.certPath`) || `${prefixDefault}/uki-signing-cert.pem`,
    pcrKeyPath: str(field(pcr, 'keyPath', `${p}.pcrSigner`), `${p}.pcrSigner.keyPath`) || `${prefixDefault}/pcr-signing-key.pem`,
    ...(given === 3 ? { platformKeyPath: pk, keyExchangeKeyPath: kek, signatureKeyPath: db } : {}),
    includeWellKnownCerts: bool(field(n, 'includeWellKnownCerts', p), `${p}.includeWellKnownCerts`) ?? false,
  }
}

/**
 * YAML node → plain data (for `overlay.options`), with scalars typed as go-yaml decodes them into
 * `any` (the profile is read with the failsafe schema, where everything is text): plain scalars
 * resolve by the core schema (`1` → 1, `true` → true, `~` → null), quoted ones stay strings. The
 * overlay installer decodes these options into typed Go structs.
 */
function plain(n: YNode): unknown {
  if (!present(n) || n === null) return null
  if (isMap(n)) return Object.fromEntries(n.items.map((it) => [String(plain(it.key as YNode)), plain(it.value as YNode)]))
  if (isSeq(n)) return n.items.map((it) => plain(it as YNode))
  if (isScalar(n)) {
    const text = String(n.value)
    if (n.type !== 'PLAIN' || n.tag === 'tag:yaml.org,2002:str') return text
    return YAML.parse(text) as unknown
  }
  return (n as { toJSON(): unknown }).toJSON()
}

/** Parses, defaults and validates a profile (YAML text). Throws InvalidInputError / ImagerUnsupportedError. */
export function parseProfile(text: string, opts: { secureBootPrefix?: string } = {}): ImagerProfile {
  const root = parseYamlDoc(text, 'profile')
  if (!present(root)) throw new InvalidInputError('profile is empty')

  if (str(field(root, 'baseProfileName', 'profile'), 'baseProfileName') !== '') {
    throw new ImagerUnsupportedError('baseProfileName is not supported by the native imager; send a complete profile')
  }
  const arch = str(field(root, 'arch', 'profile'), 'arch')
  const platform = str(field(root, 'platform', 'profile'), 'platform')
  const secureboot = bool(field(root, 'secureboot', 'profile'), 'secureboot') ?? false
  const name = str(field(root, 'name', 'profile'), 'name') || 'Talos'
  const version = str(field(root, 'version', 'profile'), 'version')

  const cust = field(root, 'customization', 'profile')
  const extraKernelArgs = list(field(cust, 'extraKernelArgs', 'customization'), 'customization.extraKernelArgs').map((n, i) =>
    str(n, `customization.extraKernelArgs[${i}]`),
  )
  const metaContents = list(field(cust, 'metaContents', 'customization'), 'customization.metaContents').map((n, i) => {
    const p = `customization.metaContents[${i}]`
    return { key: uint(field(n, 'key', p), `${p}.key`, 255), value: str(field(n, 'value', p), `${p}.value`) }
  })
  const embeddedMachineConfiguration = str(field(cust, 'embeddedMachineConfiguration', 'customization'), 'customization.embeddedMachineConfiguration')

  const input = field(root, 'input', 'profile')
  const filePath = (key: string): string => str(field(field(input, key, 'input'), 'path', `input.${key}`), `input.${key}.path`)
  const systemExtensions = list(field(input, 'systemExtensions', 'input'), 'input.systemExtensions').map((n, i) =>
    parseExtensionInput(n, `input.systemExtensions[${i}]`),
  )
  if (present(field(input, 'imageCache', 'input'))) throw new ImagerUnsupportedError('input.imageCache is not supported by the native imager yet')

  const overlayNode = field(root, 'overlay', 'profile')
  const overlayName = str(field(overlayNode, 'name', 'overlay'), 'overlay.name')
  const overlayImage = parseContainerInput(field(overlayNode, 'image', 'overlay'), 'overlay.image')
  const hasOverlay = present(overlayNode) && (overlayName !== '' || overlayImage !== null)
  const optionsValue = plain(field(overlayNode, 'options', 'overlay'))
  if (optionsValue !== null && (typeof optionsValue !== 'object' || Array.isArray(optionsValue))) {
    throw new InvalidInputError('overlay.options: cannot unmarshal a non-mapping into a mapping')
  }

  const output = field(root, 'output', 'profile')
  const kindText = str(field(output, 'kind', 'output'), 'output.kind')
  const outFormatText = str(field(output, 'outFormat', 'output'), 'output.outFormat').toLowerCase() || 'raw'
  const io = field(output, 'imageOptions', 'output')
  const iso = field(output, 'isoOptions', 'output')

  // Validate (imager-spec §2.2, reference messages)
  if (arch !== 'amd64' && arch !== 'arm64') throw new InvalidInputError(`profile is invalid: invalid arch ${JSON.stringify(arch)}`)
  if (platform === '') throw new InvalidInputError('profile is invalid: platform is required')
  if (version === '') throw new InvalidInputError('profile is invalid: version is required (the native imager has no default version)')
  const q = new Quirks(version)
  if (secureboot && !q.supportsUKI()) throw new ImagerUnsupportedError(`secureboot is not supported for Talos version ${JSON.stringify(version)}`)
  if (!(OUTPUT_KINDS as readonly string[]).includes(kindText)) throw new InvalidInputError(`profile is invalid: unknown output kind${kindText ? ` ${JSON.stringify(kindText)}` : ''}`)
  const kind = kindText as OutputKind
  if (kind === 'kernel' || kind === 'initramfs') {
    if (secureboot) throw new ImagerUnsupportedError(`secureboot is not supported for ${kind} output`)
    if (extraKernelArgs.length > 0) throw new ImagerUnsupportedError(`customization of kernel args is not supported for ${kind} output`)
    if (metaContents.length > 0) throw new ImagerUnsupportedError(`customization of meta partition is not supported for ${kind} output`)
  }
  if (kind === 'installer' && metaContents.length > 0) throw new ImagerUnsupportedError(`customization of meta partition is not supported for ${kind} output`)
  if (kind === 'uki' && !q.supportsUKI()) throw new ImagerUnsupportedError('UKI output is not supported in this Talos version')
  if (!(OUT_FORMATS as readonly string[]).includes(outFormatText)) throw new InvalidInputError(`unknown output format: ${outFormatText}`)

  // Output.FillDefaults: bootloader choice and the boot-partition size adjustment
  let imageOptions: ImageOptions | null = null
  if (kind === 'image') {
    if (!present(io)) throw new InvalidInputError('profile is invalid: image options are required for image output')
    const sizes = q.partitionSizes()
    const requested = oneOf(str(field(io, 'bootloader', 'output.imageOptions'), 'output.imageOptions.bootloader') || 'none', BOOTLOADERS, 'BootloaderKind')
    const bootloader = q.selectBootloader(requested, arch, secureboot)
    if (bootloader === 'none') throw new InvalidInputError("profile is invalid: bootloader cannot be 'none' for disk image output")
    if (bootloader === 'dual-boot' && arch === 'arm64') throw new InvalidInputError('profile is invalid: dual-boot bootloader is not supported on arm64')
    let diskSize = uint(field(io, 'diskSize', 'output.imageOptions'), 'output.imageOptions.diskSize', Number.MAX_SAFE_INTEGER)
    if (diskSize === 0) throw new InvalidInputError('profile is invalid: disk size is required for image output')
    diskSize += sizes.bootSize - 1000 * MiB
    if (bootloader === 'dual-boot') diskSize += sizes.biosSize + sizes.bootSize
    const sector = uint(field(io, 'diskSectorSize', 'output.imageOptions'), 'output.imageOptions.diskSectorSize', 65536) || 512
    if (sector !== 512 && sector !== 4096) throw new InvalidInputError(`profile is invalid: unsupported disk sector size ${sector}`)
    imageOptions = {
      diskSize,
      diskFormat: oneOf(str(field(io, 'diskFormat', 'output.imageOptions'), 'output.imageOptions.diskFormat') || 'raw', DISK_FORMATS, 'DiskFormat'),
      diskFormatOptions: str(field(io, 'diskFormatOptions', 'output.imageOptions'), 'output.imageOptions.diskFormatOptions'),
      diskSectorSize: sector,
      bootloader,
      sdBootEnrollKeys: oneOf(str(field(io, 'sdBootEnrollKeys', 'output.imageOptions'), 'output.imageOptions.sdBootEnrollKeys') || 'if-safe', ENROLL_KEYS, 'SDBootEnrollKeys'),
    }
  }
  let isoOptions: IsoOptions | null = null
  if (kind === 'iso') {
    const enroll = oneOf(str(field(iso, 'sdBootEnrollKeys', 'output.isoOptions'), 'output.isoOptions.sdBootEnrollKeys') || 'if-safe', ENROLL_KEYS, 'SDBootEnrollKeys')
    let bootloader: IsoOptions['bootloader'] = null
    if (q.isoSupportsSettingBootloader()) {
      const requested = oneOf(str(field(iso, 'bootloader', 'output.isoOptions'), 'output.isoOptions.bootloader') || 'none', BOOTLOADERS, 'BootloaderKind')
      const chosen = q.selectBootloader(requested, arch, secureboot)
      if (chosen === 'none') throw new InvalidInputError("profile is invalid: bootloader cannot be 'none' for ISO output")
      if (chosen === 'dual-boot' && arch === 'arm64') throw new InvalidInputError('profile is invalid: dual-boot bootloader is not supported on arm64')
      bootloader = chosen
    }
    isoOptions = { sdBootEnrollKeys: enroll, bootloader }
  }

  const sbPrefix = opts.secureBootPrefix ?? '/secureboot'
  return {
    arch,
    platform,
    secureboot,
    name,
    version,
    customization: { extraKernelArgs, metaContents, embeddedMachineConfiguration },
    input: {
      kernel: filePath('kernel') || `/usr/install/${arch}/vmlinuz`,
      initramfs: filePath('initramfs') || `/usr/install/${arch}/initramfs.xz`,
      sdStub: filePath('sdStub') || `/usr/install/${arch}/systemd-stub.efi`,
      sdBoot: filePath('sdBoot') || `/usr/install/${arch}/systemd-boot.efi`,
      systemExtensions,
      baseInstaller: parseContainerInput(field(input, 'baseInstaller', 'input'), 'input.baseInstaller'),
      overlayInstaller: parseContainerInput(field(input, 'overlayInstaller', 'input'), 'input.overlayInstaller'),
      secureboot: secureboot ? parseSecureBoot(field(input, 'secureboot', 'input'), sbPrefix) : null,
    },
    overlay: hasOverlay && overlayImage !== null ? { name: overlayName || 'default', image: overlayImage, options: (optionsValue ?? {}) as Record<string, unknown> } : null,
    hasOverlay,
    output: { kind, outFormat: outFormatText as OutFormat, imageOptions, isoOptions },
  }
}
