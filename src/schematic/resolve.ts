/**
 * YAML scalar resolution now lives in the shared go-yaml module (src/yaml/resolve.ts); this module
 * keeps the schematic parser's import path.
 */
export * from '../yaml/resolve.ts'
