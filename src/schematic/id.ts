/** Schematic ID (factory-spec §4.5): lowercase hex SHA-256 of the canonical YAML bytes, no salt. */
export function schematicId(canonical: string): string {
  return new Bun.CryptoHasher('sha256').update(canonical).digest('hex')
}
