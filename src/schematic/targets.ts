/**
 * The Go types the reference decodes a schematic into (pkg/schematic), as construction targets:
 * field names, Go type names (they appear in error messages) and the free-form `any` values of
 * overlay options.
 */

export type Target =
  | { k: 'struct'; name: string; fields: ReadonlyMap<string, Target> }
  | { k: 'string' }
  | { k: 'uint8' }
  | { k: 'uint' }
  | { k: 'bool' }
  | { k: 'slice'; name: string; elem: Target }
  | { k: 'bootloader' }
  | { k: 'mapStrAny' }
  /** An existing general map that a merge (`<<`) adds to. */
  | { k: 'generalMap' }
  | { k: 'any' }

export const T_STRING: Target = { k: 'string' }
export const T_ANY: Target = { k: 'any' }
export const T_STRINGS: Target = { k: 'slice', name: '[]string', elem: T_STRING }

export const T_OVERLAY: Target = {
  k: 'struct',
  name: 'schematic.Overlay',
  fields: new Map<string, Target>([
    ['image', T_STRING],
    ['name', T_STRING],
    ['options', { k: 'mapStrAny' }],
  ]),
}
export const T_META: Target = {
  k: 'struct',
  name: 'schematic.MetaValue',
  fields: new Map<string, Target>([
    ['key', { k: 'uint8' }],
    ['value', T_STRING],
  ]),
}
export const T_CUSTOMIZATION: Target = {
  k: 'struct',
  name: 'schematic.Customization',
  fields: new Map<string, Target>([
    ['embeddedMachineConfiguration', T_STRING],
    ['extraKernelArgs', T_STRINGS],
    ['meta', { k: 'slice', name: '[]schematic.MetaValue', elem: T_META }],
    ['systemExtensions', { k: 'struct', name: 'schematic.SystemExtensions', fields: new Map([['officialExtensions', T_STRINGS]]) }],
    ['bootloader', { k: 'bootloader' }],
    [
      'secureboot',
      {
        k: 'struct',
        name: 'schematic.SecureBootCustomization',
        fields: new Map<string, Target>([
          ['enrollKeys', T_STRING],
          ['includeWellKnownCertificates', { k: 'bool' }],
        ]),
      },
    ],
    ['diskImage', { k: 'struct', name: 'schematic.DiskImageCustomization', fields: new Map<string, Target>([['sectorSize', { k: 'uint' }]]) }],
  ]),
}
export const T_SCHEMATIC: Target = {
  k: 'struct',
  name: 'schematic.Schematic',
  fields: new Map<string, Target>([
    ['owner', T_STRING],
    ['overlay', T_OVERLAY],
    ['customization', T_CUSTOMIZATION],
  ]),
}

export function typeName(t: Target): string {
  switch (t.k) {
    case 'struct':
    case 'slice':
      return t.name
    case 'string':
    case 'uint8':
    case 'uint':
    case 'bool':
      return t.k
    case 'bootloader':
      return 'imageropts.BootloaderKind'
    case 'mapStrAny':
      return 'map[string]interface {}'
    case 'generalMap':
      return 'map[interface {}]interface {}'
    case 'any':
      return 'interface {}'
  }
}
