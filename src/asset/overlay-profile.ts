/**
 * Overlay profile fragments: the customization-type part of an SBC overlay image's
 * `profiles/<name>.yaml`, read from its YAML and merged into a build profile (factory
 * `MergeOverlayProfile`, imager-spec §9).
 */
import type { BootloaderKind } from '../schematic/types.ts'
import { appendCustomization, parseEnrollKeys, type OverlayProfileFragment, type Profile, type ProfileCustomization, type SDBootEnrollKeys } from './profile-model.ts'
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
