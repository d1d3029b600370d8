/**
 * Which partitions a disk image has (imager-spec §7.2 layouts, factory-spec §6.9), by bootloader
 * and target version:
 *
 *   sd-boot     EFI (100+1+BOOT MiB, vfat), META
 *   dual-boot   EFI (100+1+BOOT MiB, vfat: sd-boot), BIOS (1 MiB), BOOT (xfs: GRUB), META
 *   grub        EFI (100 MiB, vfat: GRUB),           BIOS (1 MiB), BOOT (xfs),       META
 *   + before Talos 1.8: STATE (100 MiB) and EPHEMERAL (the rest), both unformatted
 *
 * BOOT is partition 3 in both GRUB layouts: GRUB's prefix is `(hd0,gpt3)/grub`.
 */
import type { BootloaderKind, MetaValue } from '../../src/schematic/types.ts'
import { META_KEYS } from '../../src/talos/meta.ts'
import { Quirks } from '../../src/talos/quirks.ts'
import { ATTR_LEGACY_BIOS_BOOTABLE, PARTITION_TYPE, type PartitionSpec } from './gpt.ts'

export type PartitionContent = 'vfat' | 'xfs' | 'zeroes' | 'none'

export interface DiskPartitionSpec extends PartitionSpec {
  readonly content: PartitionContent
}

export type DiskBootloader = Exclude<BootloaderKind, 'none'>

export function diskPartitions(version: string, bootloader: DiskBootloader): DiskPartitionSpec[] {
  const q = new Quirks(version)
  const s = q.partitionSizes()
  const efi = (size: number): DiskPartitionSpec => ({ label: 'EFI', size, type: PARTITION_TYPE.efi, content: 'vfat' })
  const grubParts: DiskPartitionSpec[] = [
    { label: 'BIOS', size: s.biosSize, type: PARTITION_TYPE.biosBoot, attributes: ATTR_LEGACY_BIOS_BOOTABLE, content: 'zeroes' },
    { label: 'BOOT', size: s.bootSize, type: PARTITION_TYPE.linux, content: 'xfs' },
  ]
  const parts: DiskPartitionSpec[] =
    bootloader === 'sd-boot' ? [efi(s.ukiEFISize)] : bootloader === 'dual-boot' ? [efi(s.ukiEFISize), ...grubParts] : [efi(s.grubEFISize), ...grubParts]
  parts.push({ label: 'META', size: s.metaSize, type: PARTITION_TYPE.linux, content: 'zeroes' })
  if (!q.skipDataPartitions()) {
    parts.push({ label: 'STATE', size: s.stateSize, type: PARTITION_TYPE.linux, content: 'none' })
    parts.push({ label: 'EPHEMERAL', size: 0, type: PARTITION_TYPE.linux, content: 'none' })
  }
  return parts
}

/**
 * META values written into the image: the profile's, then the dual-boot marker (key 0x11) for
 * dual-boot images of Talos ≥ 1.10 (amd64 without Secure Boot; dual-boot implies both).
 */
export function diskMetaValues(values: readonly MetaValue[], version: string, bootloader: DiskBootloader, arch: string, secureboot: boolean): MetaValue[] {
  const out = values.map((v) => ({ key: v.key, value: v.value }))
  if (arch === 'amd64' && !secureboot && new Quirks(version).useSDBootForUEFI() && bootloader === 'dual-boot') {
    out.push({ key: META_KEYS.diskImageBootloader, value: 'dual-boot' })
  }
  return out
}
