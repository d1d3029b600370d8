/**
 * Schematic validation at creation time (factory-spec §4.2). The community edition only rejects an
 * owner; everything else the reference accepts (unknown extension names, bogus enrollKeys, …) is
 * accepted here too. One addition of ours: kernel arguments must not contain control characters,
 * because they end up verbatim in generated iPXE scripts and kernel command lines.
 */
import { InvalidInputError } from '../errors.ts'
import type { Schematic } from './types.ts'

/** C0 controls, DEL and C1 controls (Unicode general category Cc). */
const CONTROL = /\p{Cc}/u

function describe(ch: string): string {
  return 'U+' + (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
}

export function validateSchematic(s: Schematic): void {
  if (s.owner) throw new InvalidInputError('owner field is only supported in Enterprise edition')
  const args = s.customization.extraKernelArgs ?? []
  args.forEach((arg, i) => {
    const m = CONTROL.exec(arg)
    if (m) throw new InvalidInputError(`extraKernelArgs[${i}] contains a control character (${describe(m[0])}), which is not allowed in a kernel argument`)
  })
}
