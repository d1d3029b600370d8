/**
 * The schematic model: strict parsing, validation, canonical serialization and ID.
 */
import { emitCanonical } from './emit.ts'
import { schematicId } from './id.ts'
import { parseSchematic } from './parse.ts'
import { withDefaults, type ParseLimits } from './limits.ts'
import type { Schematic } from './types.ts'
import { validateSchematic } from './validate.ts'

export { emitCanonical, emitYamlValue } from './emit.ts'
export { schematicId } from './id.ts'
export { parseSchematic, parseYamlValue } from './parse.ts'
export { validateSchematic } from './validate.ts'
export { DEFAULT_PARSE_LIMITS, type ParseLimits } from './limits.ts'
export * from './types.ts'

export interface CanonicalSchematic {
  schematic: Schematic
  /** The canonical YAML: exactly the bytes that are hashed and stored. */
  canonical: string
  /** 64 lowercase hex characters. */
  id: string
}

/**
 * parse → validate → canonical form → ID, synchronously (the edge runs this in its parser workers,
 * ./worker-pool.ts). Throws InvalidInputError on bad input, including input over `limits`.
 */
export function canonicalize(body: string | Uint8Array, limits?: Partial<ParseLimits>): CanonicalSchematic {
  const l = withDefaults(limits)
  const schematic = parseSchematic(body, l)
  validateSchematic(schematic)
  const canonical = emitCanonical(schematic, l.maxCanonicalBytes)
  return { schematic, canonical, id: schematicId(canonical) }
}
