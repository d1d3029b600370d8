/**
 * The imager profile (imager-spec §2.1) as far as the native imager reads it, parsed the way the
 * reference decodes it from stdin (go-yaml, unknown fields ignored), with input defaults
 * (§1.2) and validation (§2.2) applied.
 *
 * Our documented extensions of the schema:
 * - `input.systemExtensions[].tarballPath` may name a directory holding an extracted extension
 *   (`manifest.yaml` + `rootfs/`), not only a plain tar;
 * - `input.systemExtensions[].digest` (optional): a content digest the caller vouches for (e.g. the
 *   extension image's manifest digest); it replaces the directory fingerprint in the cache key.
 */
import { InvalidInputError } from '../../src/errors.ts'
import type { MetaValue } from '../../src/schematic/types.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { ImagerUnsupportedError } from './errors.ts'
import { bool, field, list, parseYamlDoc, present, str, uint, type YNode } from './yaml-read.ts'

export const OUTPUT_KINDS = ['iso', 'image', 'installer', 'kernel', 'initramfs', 'uki', 'cmdline'] as const
export type OutputKind = (typeof OUTPUT_KINDS)[number]

/** Kinds the native imager builds today. */
export const NATIVE_KINDS: ReadonlySet<OutputKind> = new Set<OutputKind>(['kernel', 'cmdline', 'initramfs'])

export interface ExtensionInput {
  /** Plain tar of the extension filesystem, or (our extension) a directory with it extracted. */
  readonly tarballPath: string
  /** Optional caller-supplied content digest used as the cache identity. */
  readonly digest?: string
  /** The image the input was pulled from, when the caller names it (used in messages only). */
  readonly imageRef?: string
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
    readonly systemExtensions: readonly ExtensionInput[]
  }
  /** True when the profile names an overlay (only the cmdline depends on it). */
  readonly hasOverlay: boolean
  readonly output: {
    readonly kind: OutputKind
    readonly outFormat: string
  }
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

/** Parses and validates a profile (YAML text). Throws InvalidInputError / ImagerUnsupportedError. */
export function parseProfile(text: string): ImagerProfile {
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
  const kernelPath = str(field(field(input, 'kernel', 'input'), 'path', 'input.kernel'), 'input.kernel.path')
  const initramfsPath = str(field(field(input, 'initramfs', 'input'), 'path', 'input.initramfs'), 'input.initramfs.path')
  const systemExtensions = list(field(input, 'systemExtensions', 'input'), 'input.systemExtensions').map((n, i) =>
    parseExtensionInput(n, `input.systemExtensions[${i}]`),
  )

  const overlay = field(root, 'overlay', 'profile')
  const hasOverlay =
    present(overlay) &&
    (str(field(overlay, 'name', 'overlay'), 'overlay.name') !== '' ||
      present(field(field(overlay, 'image', 'overlay'), 'imageRef', 'overlay.image')) ||
      present(field(field(overlay, 'image', 'overlay'), 'tarballPath', 'overlay.image')) ||
      present(field(field(overlay, 'image', 'overlay'), 'ociPath', 'overlay.image')))

  const output = field(root, 'output', 'profile')
  const kindText = str(field(output, 'kind', 'output'), 'output.kind')
  const outFormat = str(field(output, 'outFormat', 'output'), 'output.outFormat').toLowerCase() || 'raw'

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
  if (!['raw', '.tar.gz', '.xz', '.gz', '.zst'].includes(outFormat)) throw new InvalidInputError(`unknown output format: ${outFormat}`)

  return {
    arch,
    platform,
    secureboot,
    name,
    version,
    customization: { extraKernelArgs, metaContents, embeddedMachineConfiguration },
    input: {
      kernel: kernelPath || `/usr/install/${arch}/vmlinuz`,
      initramfs: initramfsPath || `/usr/install/${arch}/initramfs.xz`,
      systemExtensions,
    },
    hasOverlay,
    output: { kind, outFormat },
  }
}
