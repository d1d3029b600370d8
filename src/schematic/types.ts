/**
 * The schematic model (factory-spec §4.1). Field order here mirrors the canonical key order, which
 * is part of the ID contract. Absent optional fields mean "empty" in the reference's omitempty sense.
 */

/** Free-form YAML value allowed inside `overlay.options`. */
export type YamlValue = null | boolean | number | bigint | string | YamlValue[] | { [key: string]: YamlValue }

export interface Overlay {
  image: string
  name: string
  /** Free-form options; keys kept as given, sorted only when emitted. */
  options?: Record<string, YamlValue>
}

export interface MetaValue {
  /** 0..255 */
  key: number
  value: string
}

export type BootloaderKind = 'none' | 'dual-boot' | 'sd-boot' | 'grub'

export interface SecureBootCustomization {
  enrollKeys?: string
  includeWellKnownCertificates?: boolean
}

export interface Customization {
  embeddedMachineConfiguration?: string
  extraKernelArgs?: string[]
  meta?: MetaValue[]
  systemExtensions?: { officialExtensions?: string[] }
  bootloader?: BootloaderKind
  secureboot?: SecureBootCustomization
  diskImage?: { sectorSize?: number }
}

export interface Schematic {
  owner?: string
  overlay?: Overlay
  customization: Customization
}
