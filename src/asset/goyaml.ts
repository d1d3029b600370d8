/**
 * Ordered ("struct field order") documents for go.yaml.in/yaml/v4 `Marshal` output: the imager
 * profile (whose bytes are the asset cache key) and the imager's own YAML files. Free-form
 * subtrees may come pre-emitted (`y.block`).
 *
 * A thin builder over the project's shared go-yaml emitter (src/yaml/emitter.ts): struct fields
 * become mapping pairs in the given order, strings get go-yaml's representer rules, numbers,
 * bools and null are written plain.
 */
import { emitDocument, intNode, plainScalar, strNode, type Node } from '../yaml/emitter.ts'

/** A YAML node (the shared emitter's node). */
export type YamlNode = Node

export const y = {
  str: (v: string): YamlNode => strNode(v),
  int: (v: number | bigint): YamlNode => intNode(v),
  bool: (v: boolean): YamlNode => plainScalar(v ? 'true' : 'false'),
  null: (): YamlNode => plainScalar('null'),
  /** A mapping in the given (struct field) order. */
  map: (entries: ReadonlyArray<readonly [string, YamlNode]>): YamlNode => ({ k: 'map', pairs: entries.map(([k, v]) => [strNode(k), v] as const) }),
  seq: (items: readonly YamlNode[]): YamlNode => ({ k: 'seq', items }),
  /** a non-empty block collection already emitted as a document (e.g. by `emitYamlValue`) */
  block: (text: string): YamlNode => ({ k: 'block', text }),
}

/** Emit one YAML document (no `---`), ending with a single newline. */
export const emitYaml: (root: YamlNode) => string = emitDocument
