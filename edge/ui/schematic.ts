/**
 * Wizard choices → schematic, with the reference UI's rules (factory-spec §3.12): kernel args are
 * the cmdline split on single spaces, extensions are sorted (the UI sorts, the API does not), the
 * overlay comes from the board (SBC, Talos ≥ 1.7) with the options YAML, the bootloader is set
 * unless `auto`, the machine configuration is embedded when given. And back: a stored schematic
 * as defaults for the steps (`schematic-id`).
 */
import { InvalidInputError } from '../../src/errors.ts'
import { emitCanonical, emitYamlValue, parseYamlValue, YamlAnyMap, YamlFloat, YamlTimestamp, type Customization, type Schematic, type YamlValue } from '../../src/schematic/index.ts'
import { SBCS } from '../../src/talos/platforms.ts'
import { boardInfo, NO_EXTENSIONS, overlayOptionsOffered, UI_BOOTLOADERS, type Target, type UiBootloader, type WizardParams } from './params.ts'

function overlayOptions(text: string): Record<string, YamlValue> | undefined {
  if (text === '') return undefined
  const value = parseYamlValue(text)
  if (value === null) return undefined
  const isMapping =
    typeof value === 'object' && !Array.isArray(value) && !(value instanceof YamlAnyMap) && !(value instanceof YamlFloat) && !(value instanceof YamlTimestamp)
  if (!isMapping) throw new InvalidInputError('overlay-options must be a YAML mapping of option names to values')
  return value as Record<string, YamlValue>
}

export function wizardSchematic(p: WizardParams): Schematic {
  const customization: Customization = {}
  if (p.embeddedConfig !== '') customization.embeddedMachineConfiguration = p.embeddedConfig
  if (p.cmdline !== '') customization.extraKernelArgs = p.cmdline.split(' ')
  const extensions = p.extensions.filter((e) => e !== NO_EXTENSIONS).sort()
  if (extensions.length > 0) customization.systemExtensions = { officialExtensions: extensions }
  if (p.bootloader && p.bootloader !== 'auto') customization.bootloader = p.bootloader
  const schematic: Schematic = { customization }
  if (overlayOptionsOffered(p)) {
    const board = boardInfo(p)
    if (!board) throw new InvalidInputError('choose a board first')
    const options = overlayOptions(p.overlayOptions)
    schematic.overlay = { image: board.overlayImage, name: board.overlayName, ...(options ? { options } : {}) }
  }
  return schematic
}

/** The YAML POST /schematics would get for these choices (it re-parses and validates it). */
export function wizardSchematicYaml(p: WizardParams): string {
  return emitCanonical(wizardSchematic(p))
}

/** What a stored schematic pre-fills in the steps. */
export interface Prefill {
  target?: Target
  board?: string
  extensions: string[]
  cmdline: string
  bootloader?: UiBootloader
  overlayOptions: string
  embeddedConfig: string
}

export const EMPTY_PREFILL: Prefill = { extensions: [], cmdline: '', overlayOptions: '', embeddedConfig: '' }

export function prefillFrom(s: Schematic): Prefill {
  const c = s.customization
  const bootloader = (UI_BOOTLOADERS as readonly string[]).includes(c.bootloader ?? '') ? (c.bootloader as UiBootloader) : undefined
  const board = s.overlay ? SBCS.find((b) => b.overlayName === s.overlay?.name)?.name : undefined
  return {
    target: s.overlay ? 'sbc' : undefined,
    board,
    extensions: [...(c.systemExtensions?.officialExtensions ?? [])],
    cmdline: (c.extraKernelArgs ?? []).join(' '),
    bootloader,
    overlayOptions: s.overlay?.options && Object.keys(s.overlay.options).length > 0 ? emitYamlValue(s.overlay.options).trimEnd() : '',
    embeddedConfig: c.embeddedMachineConfiguration ?? '',
  }
}
