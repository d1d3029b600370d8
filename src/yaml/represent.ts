/**
 * Representer for free-form values (`YamlValue`: what the reference decodes into Go `any`): the
 * node tree go-yaml v4 builds when it marshals the equivalent Go value, including its map-key
 * order (keys sorted "naturally", keys of different types by Go kind).
 */
import { formatGoFloat, INT64_MAX } from './resolve.ts'
import { intNode, plainScalar, strNode, type Node } from './emitter.ts'
import { codePoints } from './scalar-analysis.ts'
import { YamlAnyMap, YamlFloat, YamlTimestamp, type YamlValue } from '../schematic/types.ts'

// ------------------------------------------------------------------------------------------------
// Map key order (the reference sorts map keys with a "natural" order before emitting them).

const LETTER = /\p{L}/u
const DIGIT = /\p{Nd}/u
const C_OTHER = 0
const C_LETTER = 1
const C_DIGIT = 2

/** A string prepared once for many comparisons: its code points and their letter/digit class. */
export interface NaturalKey {
  readonly cps: readonly number[]
  readonly cls: Uint8Array
}

export function naturalKey(s: string): NaturalKey {
  const cps = codePoints(s)
  const cls = new Uint8Array(cps.length)
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] as number
    if (cp < 0x80) {
      cls[i] = (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? C_LETTER : cp >= 0x30 && cp <= 0x39 ? C_DIGIT : C_OTHER
    } else {
      const ch = String.fromCodePoint(cp)
      cls[i] = LETTER.test(ch) ? C_LETTER : DIGIT.test(ch) ? C_DIGIT : C_OTHER
    }
  }
  return { cps, cls }
}

/** Below this a run of digits is summed exactly in a double; above, in 64-bit wrapping BigInt. */
const SAFE_ACC = 1e14
const CHUNK = 9

/**
 * The value of the digit run starting at `i` as the reference computes it: `acc*10 + (rune-'0')`
 * in a wrapping int64, starting from `init`. Returns the value and the index after the run.
 */
function digitRun(k: NaturalKey, i: number, init: number): [number | bigint, number] {
  let acc = init
  let j = i
  for (; j < k.cps.length && k.cls[j] === C_DIGIT && acc < SAFE_ACC; j++) acc = acc * 10 + ((k.cps[j] as number) - 0x30)
  if (j >= k.cps.length || k.cls[j] !== C_DIGIT) return [acc, j]
  // Long runs: whole chunks of digits per BigInt step (wrapping is a ring homomorphism mod 2^64).
  let big = BigInt(acc)
  while (j < k.cps.length && k.cls[j] === C_DIGIT) {
    let chunk = 0
    let n = 0
    for (; n < CHUNK && j < k.cps.length && k.cls[j] === C_DIGIT; n++, j++) chunk = chunk * 10 + ((k.cps[j] as number) - 0x30)
    big = BigInt.asIntN(64, big * 10n ** BigInt(n) + BigInt(chunk))
  }
  return [big, j]
}

/** Natural string order: runs of digits compare numerically; letters vs non-letters by context. */
export function naturalKeyLess(a: NaturalKey, b: NaturalKey): boolean {
  const ar = a.cps
  const br = b.cps
  let digits = false
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const ac = ar[i] as number
    const bc = br[i] as number
    if (ac === bc) {
      digits = a.cls[i] === C_DIGIT
      continue
    }
    const al = a.cls[i] === C_LETTER
    const bl = b.cls[i] === C_LETTER
    if (al && bl) return ac < bc
    if (al || bl) return digits ? al : bl
    let init = 0
    if (ac === 0x30 || bc === 0x30) {
      for (let j = i - 1; j >= 0 && a.cls[j] === C_DIGIT; j--) {
        if (ar[j] !== 0x30) {
          init = 1
          break
        }
      }
    }
    const [an, ai] = digitRun(a, i, init)
    const [bn, bi] = digitRun(b, i, init)
    if (typeof an === 'bigint' || typeof bn === 'bigint') {
      const x = BigInt(an)
      const y = BigInt(bn)
      if (x !== y) return x < y
    } else if (an !== bn) {
      return an < bn
    }
    if (ai !== bi) return ai < bi
    return ac < bc
  }
  return ar.length < br.length
}

export function naturalLess(a: string, b: string): boolean {
  return naturalKeyLess(naturalKey(a), naturalKey(b))
}

/** Go reflect.Kind numbers, used to order keys of different types. */
const KIND_BOOL = 1
const KIND_INT = 2
const KIND_UINT64 = 11
const KIND_FLOAT64 = 14
const KIND_INTERFACE = 20
const KIND_STRING = 24
const KIND_STRUCT = 25

interface KeyInfo {
  kind: number
  nat?: NaturalKey
  /** Numeric view (bools as 0/1) when the key is a number or bool. */
  num?: number
  exact?: bigint | number | boolean
}

function keyInfo(k: YamlValue): KeyInfo {
  if (k === null) return { kind: KIND_INTERFACE }
  if (typeof k === 'boolean') return { kind: KIND_BOOL, num: k ? 1 : 0, exact: k }
  if (typeof k === 'bigint') return { kind: k > INT64_MAX ? KIND_UINT64 : KIND_INT, num: Number(k), exact: k }
  if (typeof k === 'number') {
    if (Number.isSafeInteger(k)) return { kind: KIND_INT, num: k, exact: BigInt(k) }
    return { kind: KIND_FLOAT64, num: k, exact: k }
  }
  if (k instanceof YamlFloat) return { kind: KIND_FLOAT64, num: k.value, exact: k.value }
  if (typeof k === 'string') return { kind: KIND_STRING, nat: naturalKey(k) }
  if (k instanceof YamlTimestamp) return { kind: KIND_STRUCT }
  throw new TypeError('a collection cannot be a map key')
}

const EMPTY_KEY: NaturalKey = naturalKey('')

function keyLess(a: KeyInfo, b: KeyInfo): boolean {
  if (a.num !== undefined && b.num !== undefined) {
    if (a.num !== b.num) return a.num < b.num
    if (a.kind !== b.kind) return a.kind < b.kind
    const x = a.exact
    const y = b.exact
    if (typeof x === 'boolean' && typeof y === 'boolean') return !x && y
    if (typeof x === 'bigint' && typeof y === 'bigint') return x < y
    return Number(x) < Number(y)
  }
  if (a.kind !== KIND_STRING || b.kind !== KIND_STRING) return a.kind < b.kind
  return naturalKeyLess(a.nat ?? EMPTY_KEY, b.nat ?? EMPTY_KEY)
}

function sortByLess<T>(items: T[], less: (a: T, b: T) => boolean): T[] {
  return items.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0))
}

// ------------------------------------------------------------------------------------------------
// Representer

const MAX_EMIT_DEPTH = 2000

function floatNode(f: number): Node {
  return plainScalar(formatGoFloat(f))
}

function isPlainObject(v: YamlValue): v is { [key: string]: YamlValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof YamlFloat) && !(v instanceof YamlTimestamp) && !(v instanceof YamlAnyMap)
}

/** The node go-yaml builds for a free-form value; `depth` guards against runaway nesting. */
export function represent(v: YamlValue, depth = 0): Node {
  if (depth > MAX_EMIT_DEPTH) throw new RangeError('value nested too deeply to emit')
  if (v === null) return plainScalar('null')
  if (typeof v === 'boolean') return plainScalar(v ? 'true' : 'false')
  if (typeof v === 'bigint') return intNode(v)
  if (typeof v === 'number') return Number.isSafeInteger(v) ? intNode(v) : floatNode(v)
  if (typeof v === 'string') return strNode(v)
  if (v instanceof YamlFloat) return floatNode(v.value)
  if (v instanceof YamlTimestamp) return plainScalar(v.text)
  if (Array.isArray(v)) return { k: 'seq', items: v.map((x) => represent(x, depth + 1)) }
  if (v instanceof YamlAnyMap) {
    const entries = sortByLess(
      v.entries.map(([k, val]) => ({ info: keyInfo(k), k, val })),
      (a, b) => keyLess(a.info, b.info),
    )
    return { k: 'map', pairs: entries.map((e) => [represent(e.k, depth + 1), represent(e.val, depth + 1)] as const) }
  }
  if (isPlainObject(v)) return representStringMap(v, depth)
  throw new TypeError('unsupported value in overlay options')
}

/** A Go `map[string]any`: keys in natural order (each key prepared once, not per comparison). */
export function representStringMap(m: { [key: string]: YamlValue }, depth = 0): Node {
  const keys = sortByLess(
    Object.keys(m).map((key) => ({ key, nat: naturalKey(key) })),
    (a, b) => naturalKeyLess(a.nat, b.nat),
  )
  return { k: 'map', pairs: keys.map(({ key }) => [strNode(key), represent(m[key] as YamlValue, depth + 1)] as const) }
}
