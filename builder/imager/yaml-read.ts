/**
 * Reading YAML into Go-struct-like fields the way go-yaml decodes them: scalars are taken as
 * written (so `version: 1.10` is the string "1.10", not a float), a null scalar leaves the field
 * at its zero value, unknown keys are ignored, and a type mismatch is an error naming the field.
 */
import { isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlAstNode } from 'yaml'
import { InvalidInputError } from '../../src/errors.ts'

export type YNode = YamlAstNode | null

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL'])
const TRUE = new Set(['true', 'True', 'TRUE', 'y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'])
const FALSE = new Set(['false', 'False', 'FALSE', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'])

/** Parses the first YAML document (failsafe schema: every scalar is text). Empty input → null. */
export function parseYamlDoc(text: string, what: string): YNode {
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: false })
  if (!Array.isArray(docs)) return null
  const doc = docs[0]
  if (doc === undefined) return null
  const err = doc.errors[0]
  if (err !== undefined) throw new InvalidInputError(`${what} is not valid YAML: ${err.message.split('\n')[0]}`)
  return (doc.contents as YamlAstNode | null) ?? null
}

function isNullScalar(n: YNode): boolean {
  if (n === null) return true
  if (!isScalar(n)) return false
  return n.type === 'PLAIN' && n.tag === undefined && NULLS.has(String(n.value))
}

function kindOf(n: YNode): string {
  if (n === null) return 'null'
  if (isMap(n)) return '!!map'
  if (isSeq(n)) return '!!seq'
  return '!!str'
}

/** The value of `key` in a mapping node (null when absent or when `n` is null). */
export function field(n: YNode, key: string, path: string): YNode {
  if (isNullScalar(n)) return null
  if (!isMap(n)) throw new InvalidInputError(`${path}: cannot unmarshal ${kindOf(n)} into a mapping`)
  for (const item of n.items) {
    const k = item.key as YNode
    if (isScalar(k) && String(k.value) === key) return (item.value as YNode) ?? null
  }
  return null
}

export function str(n: YNode, path: string): string {
  if (isNullScalar(n)) return ''
  if (!isScalar(n)) throw new InvalidInputError(`${path}: cannot unmarshal ${kindOf(n)} into string`)
  return String(n.value)
}

export function bool(n: YNode, path: string): boolean | null {
  if (isNullScalar(n)) return null
  const s = str(n, path)
  if (TRUE.has(s)) return true
  if (FALSE.has(s)) return false
  throw new InvalidInputError(`${path}: cannot unmarshal ${JSON.stringify(s)} into bool`)
}

/** Unsigned integer in Go's literal forms (decimal, 0x, 0o, 0b, leading-0 octal, `_` separators). */
export function uint(n: YNode, path: string, max: number): number {
  if (isNullScalar(n)) return 0
  const s = str(n, path).replaceAll('_', '')
  let v: number
  if (/^\+?0[xX][0-9a-fA-F]+$/.test(s)) v = parseInt(s.replace(/^\+?0[xX]/, ''), 16)
  else if (/^\+?0[oO][0-7]+$/.test(s)) v = parseInt(s.replace(/^\+?0[oO]/, ''), 8)
  else if (/^\+?0[bB][01]+$/.test(s)) v = parseInt(s.replace(/^\+?0[bB]/, ''), 2)
  else if (/^\+?0[0-7]+$/.test(s)) v = parseInt(s.replace(/^\+?0/, ''), 8)
  else if (/^\+?[0-9]+$/.test(s)) v = parseInt(s.replace(/^\+/, ''), 10)
  else throw new InvalidInputError(`${path}: cannot unmarshal ${JSON.stringify(s)} into an integer`)
  if (!Number.isSafeInteger(v) || v > max) throw new InvalidInputError(`${path}: ${s} is out of range (0..${max})`)
  return v
}

export function list(n: YNode, path: string): YNode[] {
  if (isNullScalar(n)) return []
  if (!isSeq(n)) throw new InvalidInputError(`${path}: cannot unmarshal ${kindOf(n)} into a sequence`)
  return n.items.map((i) => (i as YNode) ?? null)
}

export function present(n: YNode): boolean {
  return !isNullScalar(n)
}
