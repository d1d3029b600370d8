/**
 * The schematic model: strict parsing, validation, canonical serialization and ID.
 */
import { emitCanonical } from './emit.ts'
import { schematicId } from './id.ts'
import { parseSchematic } from './parse.ts'
import type { Schematic } from './types.ts'
import { validateSchematic } from './validate.ts'

export { emitCanonical, emitYamlValue } from './emit.ts'
export { schematicId } from './id.ts'
export { parseSchematic, parseYamlValue } from './parse.ts'
export { validateSchematic } from './validate.ts'
export * from './types.ts'

export interface CanonicalSchematic {
  schematic: Schematic
  /** The canonical YAML: exactly the bytes that are hashed and stored. */
  canonical: string
  /** 64 lowercase hex characters. */
  id: string
}

/** parse → validate → canonical form → ID. Throws InvalidInputError on bad input. */
export function canonicalize(body: string | Uint8Array): CanonicalSchematic {
  const schematic = parseSchematic(body)
  validateSchematic(schematic)
  const canonical = emitCanonical(schematic)
  return { schematic, canonical, id: schematicId(canonical) }
}
