/**
 * The schematic model (factory-spec §4.1). Field order here mirrors the canonical key order, which
 * is part of the ID contract. Absent optional fields mean "empty" in the reference's omitempty sense.
 */

/**
 * Free-form YAML value allowed inside `overlay.options`, typed the way the reference decodes YAML
 * into Go `any` (the emitter re-creates the reference's output from these distinctions):
 * - `number`: a safe integer is a YAML int; any other number is a float;
 * - `bigint`: an int (used by the parser when outside the safe-integer range);
 * - `YamlFloat`: a float whose value happens to be integral (`1.0`, `1e6`, `-0`), which a plain
 *   JS number cannot tell apart from an int;
 * - `YamlTimestamp`: an unquoted YAML timestamp (`2024-01-01`);
 * - plain objects: mappings whose keys are all strings (Go `map[string]any`);
 * - `YamlAnyMap`: a nested mapping with non-string keys (Go `map[any]any`), keys keep their type.
 * Mapping objects created by the parser have a null prototype.
 */
export type YamlValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | YamlFloat
  | YamlTimestamp
  | YamlAnyMap
  | YamlValue[]
  | { [key: string]: YamlValue }

/** A YAML float with an integral value (see YamlValue). */
export class YamlFloat {
  constructor(readonly value: number) {}
}

/** A YAML timestamp; `text` is its RFC 3339 rendering as the reference re-emits it. */
export class YamlTimestamp {
  constructor(readonly text: string) {}
}

/** A mapping with (some) non-string scalar keys; entries in source order, keys unique. */
export class YamlAnyMap {
  constructor(readonly entries: [YamlValue, YamlValue][]) {}
}

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
