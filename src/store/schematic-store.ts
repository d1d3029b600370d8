/**
 * Where schematics live. Implementations store the canonical YAML bytes content-addressed by the
 * schematic ID (sha256 of those bytes) and must never expose a partially written schematic.
 */
export interface SchematicStore {
  /** Returns the canonical bytes, or null when the ID is unknown. */
  get(id: string): Promise<Uint8Array | null>
  /** True when the ID is stored. */
  has(id: string): Promise<boolean>
  /** Stores canonical bytes under their ID; storing an existing ID is a no-op. */
  put(id: string, canonical: Uint8Array): Promise<void>
}

/** A schematic ID is exactly 64 lowercase hex characters (factory-spec §3.2, §4.7). */
export const SCHEMATIC_ID_RE = /^[0-9a-f]{64}$/

export function isSchematicId(id: string): boolean {
  return SCHEMATIC_ID_RE.test(id)
}
