/**
 * YAML scalar resolution and character classes as the reference YAML library (go-yaml v4) applies
 * them. Shared by the strict schematic parser (which must type scalars exactly like the reference
 * decoder) and the go-yaml emitter in ./emitter.ts (which quotes a string exactly when the
 * reference would, and that depends on how the string would resolve if written plain).
 *
 * Everything here is written from the behaviour described in factory-spec §4 and observed in the
 * reference library; no code is copied.
 */

/** Short tags used by the resolver. */
export const STR = '!!str'
export const INT = '!!int'
export const FLOAT = '!!float'
export const BOOL = '!!bool'
export const NULL = '!!null'
export const TIMESTAMP = '!!timestamp'
export const MERGE = '!!merge'
export const BINARY = '!!binary'
export const SEQ = '!!seq'
export const MAP = '!!map'

/**
 * A timestamp as the reference keeps it (a Go time.Time): wall-clock fields plus the UTC offset it
 * was written with. `text` is the RFC 3339 (nanosecond) rendering the reference emits for it.
 */
export interface GoTime {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  nanos: number
  /** Offset east of UTC in seconds. */
  offset: number
  text: string
}

/** A resolved scalar value, typed like the Go value the reference decoder would produce. */
export type Resolved =
  | { t: 'null' }
  | { t: 'bool'; v: boolean }
  /** A Go int (fits int64). */
  | { t: 'int'; v: bigint }
  /** A Go uint64 above the int64 range. */
  | { t: 'uint'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'timestamp'; v: GoTime }
  | { t: 'merge' }

/** Thrown when an explicit tag cannot be honoured (`!!int abc`); a fatal load error in the reference. */
export class ResolveError extends Error {}

export const INT64_MAX = (1n << 63n) - 1n
const INT64_MIN = -(1n << 63n)
const UINT64_MAX = (1n << 64n) - 1n

const MAP_TABLE: ReadonlyMap<string, Resolved> = new Map<string, Resolved>([
  ['true', { t: 'bool', v: true }],
  ['True', { t: 'bool', v: true }],
  ['TRUE', { t: 'bool', v: true }],
  ['false', { t: 'bool', v: false }],
  ['False', { t: 'bool', v: false }],
  ['FALSE', { t: 'bool', v: false }],
  ['', { t: 'null' }],
  ['~', { t: 'null' }],
  ['null', { t: 'null' }],
  ['Null', { t: 'null' }],
  ['NULL', { t: 'null' }],
  ['.nan', { t: 'float', v: Number.NaN }],
  ['.NaN', { t: 'float', v: Number.NaN }],
  ['.NAN', { t: 'float', v: Number.NaN }],
  ['.inf', { t: 'float', v: Number.POSITIVE_INFINITY }],
  ['.Inf', { t: 'float', v: Number.POSITIVE_INFINITY }],
  ['.INF', { t: 'float', v: Number.POSITIVE_INFINITY }],
  ['+.inf', { t: 'float', v: Number.POSITIVE_INFINITY }],
  ['+.Inf', { t: 'float', v: Number.POSITIVE_INFINITY }],
  ['+.INF', { t: 'float', v: Number.POSITIVE_INFINITY }],
  ['-.inf', { t: 'float', v: Number.NEGATIVE_INFINITY }],
  ['-.Inf', { t: 'float', v: Number.NEGATIVE_INFINITY }],
  ['-.INF', { t: 'float', v: Number.NEGATIVE_INFINITY }],
  ['-0', { t: 'float', v: -0 }],
  ['-0.0', { t: 'float', v: -0 }],
  ['<<', { t: 'merge' }],
])

/** First-character hint: which resolution path a plain scalar may take. */
function hintOf(s: string): 'N' | 'M' | 'S' | 'D' | '.' | '' {
  if (s === '') return 'N'
  const c = s.charCodeAt(0)
  if (c === 0x2b || c === 0x2d) return 'S' // + -
  if (c >= 0x30 && c <= 0x39) return 'D'
  if (c === 0x2e) return '.'
  if ('yYnNtTfFoO~<'.includes(s[0] as string)) return 'M'
  return ''
}

function tagOfResolved(r: Resolved): string {
  switch (r.t) {
    case 'null':
      return NULL
    case 'bool':
      return BOOL
    case 'int':
    case 'uint':
      return INT
    case 'float':
      return FLOAT
    case 'str':
      return STR
    case 'timestamp':
      return TIMESTAMP
    case 'merge':
      return MERGE
  }
}

/** Tags the resolver knows how to resolve a value for. */
export function resolvableTag(tag: string): boolean {
  return tag === '' || tag === STR || tag === BOOL || tag === INT || tag === FLOAT || tag === NULL || tag === TIMESTAMP
}

/**
 * Resolve a scalar: `tag` is '' for an untagged plain scalar or an explicit short tag. Returns the
 * resolved tag and value. Throws ResolveError when an explicit tag contradicts the value.
 */
export function resolve(tag: string, value: string): { tag: string; value: Resolved } {
  if (!resolvableTag(tag)) return { tag, value: { t: 'str', v: value } }
  const r = resolveImplicit(value, tag)
  const rtag = tagOfResolved(r)
  if (tag === '' || tag === rtag || tag === STR || tag === BINARY) return { tag: rtag, value: r }
  if (tag === FLOAT && r.t === 'int') return { tag: FLOAT, value: { t: 'float', v: Number(r.v) } }
  throw new ResolveError(`cannot construct ${rtag} \`${value}\` as a ${tag}`)
}

/** Tag a plain (untagged) scalar would resolve to. */
export function plainTag(value: string): string {
  return tagOfResolved(resolveImplicit(value, ''))
}

function resolveImplicit(s: string, tag: string): Resolved {
  const hint = hintOf(s)
  if (hint === '' || tag === STR || tag === BINARY) return { t: 'str', v: s }
  const hit = MAP_TABLE.get(s)
  if (hit) return hit
  switch (hint) {
    case 'M':
    case 'N':
      break
    case '.': {
      const f = parseDotFloat(s)
      if (f !== undefined) return { t: 'float', v: f }
      break
    }
    case 'D':
    case 'S': {
      if (tag === '' || tag === TIMESTAMP) {
        const ts = parseTimestamp(s)
        if (ts) return { t: 'timestamp', v: ts }
      }
      const plain = s.replaceAll('_', '')
      const i = parseGoInt(plain)
      if (i !== undefined) return { t: 'int', v: i }
      const u = parseGoUint(plain)
      if (u !== undefined) return { t: 'uint', v: u }
      if (YAML_STYLE_FLOAT.test(plain)) {
        const f = Number(plain)
        if (Number.isFinite(f)) return { t: 'float', v: f }
      }
      break
    }
  }
  return { t: 'str', v: s }
}

const YAML_STYLE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/

/** Go strconv.ParseFloat on a string starting with '.', decimal only (no sign, no hex possible). */
function parseDotFloat(s: string): number | undefined {
  const m = /^\.([0-9_]*)(?:[eE]([-+]?)([0-9_]*))?$/.exec(s)
  if (!m) return undefined
  const mant = (m[1] ?? '').replaceAll('_', '')
  if (mant === '') return undefined
  if (m[2] !== undefined || m[3] !== undefined) {
    const exp = m[3] ?? ''
    if (exp === '' || !(exp.charCodeAt(0) >= 0x30 && exp.charCodeAt(0) <= 0x39)) return undefined
  }
  if (s.includes('_') && !underscoreOK(s)) return undefined
  const f = Number(s.replaceAll('_', ''))
  return Number.isFinite(f) ? f : undefined
}

/** Go's rule for where digit separators may appear (only between digits). */
function underscoreOK(s: string): boolean {
  let saw = '^'
  let i = 0
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1)
  let hex = false
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1] as string)) {
    i = 2
    saw = '0'
    hex = s[1] === 'x' || s[1] === 'X'
  }
  for (; i < s.length; i++) {
    const c = s[i] as string
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0'
      continue
    }
    if (c === '_') {
      if (saw !== '0') return false
      saw = '_'
      continue
    }
    if (saw === '_') return false
    saw = '!'
  }
  return saw !== '_'
}

/** Go strconv.ParseUint(s, 0, 64) without underscores: base prefixes 0x/0o/0b and leading-0 octal. */
export function parseGoUint(s: string): bigint | undefined {
  if (s === '') return undefined
  let base = 10
  let digits = s
  if (s[0] === '0') {
    const p = s[1]
    if (s.length >= 3 && (p === 'b' || p === 'B')) {
      base = 2
      digits = s.slice(2)
    } else if (s.length >= 3 && (p === 'o' || p === 'O')) {
      base = 8
      digits = s.slice(2)
    } else if (s.length >= 3 && (p === 'x' || p === 'X')) {
      base = 16
      digits = s.slice(2)
    } else {
      base = 8
      digits = s.slice(1)
    }
  }
  // Validate first (one pass), then convert at most 64 significant digits: more cannot fit in 64
  // bits in any base, and converting a huge digit string would be the slow part.
  let first = -1
  for (let i = 0; i < digits.length; i++) {
    const d = digitValue(digits.charCodeAt(i))
    if (d < 0 || d >= base) return undefined
    if (first < 0 && d !== 0) first = i
  }
  if (first < 0) return 0n
  const significant = digits.slice(first)
  if (significant.length > 64) return undefined
  const prefix = base === 2 ? '0b' : base === 8 ? '0o' : base === 16 ? '0x' : ''
  const n = BigInt(prefix + significant)
  return n > UINT64_MAX ? undefined : n
}

/** Go strconv.ParseInt(s, 0, 64) without underscores. */
export function parseGoInt(s: string): bigint | undefined {
  if (s === '') return undefined
  let neg = false
  let rest = s
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-'
    rest = s.slice(1)
  }
  const u = parseGoUint(rest)
  if (u === undefined) return undefined
  const v = neg ? -u : u
  if (v > INT64_MAX || v < INT64_MIN) return undefined
  return v
}

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 10
  return -1
}

// ------------------------------------------------------------------------------------------------
// Timestamps: the four layouts the reference resolver tries, with Go time.Parse semantics.

type Layout = readonly (string | 'YEAR' | 'MONTH' | 'DAY' | 'HOUR' | 'MIN' | 'SEC' | 'FRAC' | 'TZ')[]
const LAYOUTS: readonly Layout[] = [
  ['YEAR', '-', 'MONTH', '-', 'DAY', 'T', 'HOUR', ':', 'MIN', ':', 'SEC', 'FRAC', 'TZ'],
  ['YEAR', '-', 'MONTH', '-', 'DAY', 't', 'HOUR', ':', 'MIN', ':', 'SEC', 'FRAC', 'TZ'],
  ['YEAR', '-', 'MONTH', '-', 'DAY', ' ', 'HOUR', ':', 'MIN', ':', 'SEC', 'FRAC'],
  ['YEAR', '-', 'MONTH', '-', 'DAY'],
]

const isDigitAt = (s: string, i: number): boolean => i < s.length && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39

/** One or two digits (Go getnum with fixed=false). */
function getnum(s: string): [number, string] | undefined {
  if (!isDigitAt(s, 0)) return undefined
  if (!isDigitAt(s, 1)) return [Number(s[0]), s.slice(1)]
  return [Number(s.slice(0, 2)), s.slice(2)]
}

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

function tryLayout(layout: Layout, input: string): GoTime | undefined {
  let v = input
  let year = 0
  let month = 1
  let day = 1
  let hour = 0
  let minute = 0
  let second = 0
  let nanos = 0
  let offset = 0
  for (let li = 0; li < layout.length; li++) {
    const el = layout[li] as string
    switch (el) {
      case 'YEAR': {
        if (v.length < 4 || !/^[0-9]{4}/.test(v)) return undefined
        year = Number(v.slice(0, 4))
        v = v.slice(4)
        break
      }
      case 'MONTH': {
        const r = getnum(v)
        if (!r) return undefined
        ;[month, v] = r
        if (month <= 0 || month > 12) return undefined
        break
      }
      case 'DAY': {
        const r = getnum(v)
        if (!r) return undefined
        ;[day, v] = r
        break
      }
      case 'HOUR': {
        const r = getnum(v)
        if (!r) return undefined
        ;[hour, v] = r
        if (hour >= 24) return undefined
        break
      }
      case 'MIN': {
        const r = getnum(v)
        if (!r) return undefined
        ;[minute, v] = r
        if (minute >= 60) return undefined
        break
      }
      case 'SEC': {
        const r = getnum(v)
        if (!r) return undefined
        ;[second, v] = r
        if (second >= 60) return undefined
        break
      }
      case 'FRAC': {
        // Optional: separator '.' or ',' followed by any number of digits (only 9 are kept).
        if (v.length < 2 || (v[0] !== '.' && v[0] !== ',') || !isDigitAt(v, 1)) break
        let n = 1
        while (isDigitAt(v, n)) n++
        const digits = v.slice(1, Math.min(n, 10))
        nanos = Number(digits.padEnd(9, '0'))
        v = v.slice(n)
        break
      }
      case 'TZ': {
        if (v[0] === 'Z') {
          v = v.slice(1)
          offset = 0
          break
        }
        if (v.length < 6 || v[3] !== ':') return undefined
        const sign = v[0]
        const hh = v.slice(1, 3)
        const mm = v.slice(4, 6)
        if (!/^[0-9]{2}$/.test(hh) || !/^[0-9]{2}$/.test(mm)) return undefined
        const hr = Number(hh)
        const mi = Number(mm)
        if (hr > 24 || mi > 60) return undefined
        offset = (hr * 60 + mi) * 60
        if (sign === '-') offset = -offset
        else if (sign !== '+') return undefined
        v = v.slice(6)
        break
      }
      case ' ':
        // Go's layout matching treats a space as "one or more spaces".
        if (v[0] !== ' ') return undefined
        v = v.replace(/^ +/, '')
        break
      default:
        if (!v.startsWith(el)) return undefined
        v = v.slice(el.length)
    }
  }
  if (v.length > 0) return undefined
  if (day < 1 || day > daysIn(month, year)) return undefined
  return { year, month, day, hour, minute, second, nanos, offset, text: formatRFC3339Nano(year, month, day, hour, minute, second, nanos, offset) }
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0')
}

function formatRFC3339Nano(y: number, mo: number, d: number, h: number, mi: number, s: number, ns: number, off: number): string {
  let out = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}`
  if (ns > 0) out += '.' + pad(ns, 9).replace(/0+$/, '')
  if (off === 0) return out + 'Z'
  let zone = Math.trunc(off / 60)
  let sign = '+'
  if (zone < 0) {
    sign = '-'
    zone = -zone
  }
  return `${out}${sign}${pad(Math.trunc(zone / 60), 2)}:${pad(zone % 60, 2)}`
}

/** The reference resolver's timestamp recognition (YYYY- prefix, then four accepted layouts). */
export function parseTimestamp(s: string): GoTime | undefined {
  let i = 0
  while (i < s.length && isDigitAt(s, i)) i++
  if (i !== 4 || i === s.length || s[i] !== '-') return undefined
  for (const layout of LAYOUTS) {
    const t = tryLayout(layout, s)
    if (t) return t
  }
  return undefined
}

// ------------------------------------------------------------------------------------------------
// Number formatting as Go's strconv does it.

/** strconv.FormatFloat(f, 'g', -1, 64) plus the YAML spellings of the special values. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return '.nan'
  if (f === Number.POSITIVE_INFINITY) return '.inf'
  if (f === Number.NEGATIVE_INFINITY) return '-.inf'
  if (f === 0) return Object.is(f, -0) ? '-0' : '0'
  const neg = f < 0
  // Shortest round-trip digits, as "d.ddde±x".
  const exp = Math.abs(f).toExponential()
  const m = /^(\d)(?:\.(\d+))?e([-+]\d+)$/.exec(exp)
  if (!m) throw new Error(`unexpected float rendering ${exp}`)
  const digits = (m[1] ?? '') + (m[2] ?? '')
  const x = Number(m[3])
  let body: string
  if (x < -4 || x >= 6) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
    const ax = Math.abs(x)
    body = `${mant}e${x < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`
  } else if (x < 0) {
    body = '0.' + '0'.repeat(-x - 1) + digits
  } else if (digits.length <= x + 1) {
    body = digits + '0'.repeat(x + 1 - digits.length)
  } else {
    body = `${digits.slice(0, x + 1)}.${digits.slice(x + 1)}`
  }
  return neg ? '-' + body : body
}

// ------------------------------------------------------------------------------------------------
// Character classes of the reference emitter (code-point based).

/** Printable without escaping (unicode output enabled). */
export function isPrintable(cp: number): boolean {
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
  )
}

export function isBreak(cp: number): boolean {
  return cp === 0x0d || cp === 0x0a || cp === 0x85 || cp === 0x2028 || cp === 0x2029
}

export function isBlank(cp: number): boolean {
  return cp === 0x20 || cp === 0x09
}

/** YAML 1.1 booleans the reference quotes (and accepts as bools when decoding into a bool). */
export const OLD_BOOL_TRUE: ReadonlySet<string> = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'])
export const OLD_BOOL_FALSE: ReadonlySet<string> = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'])

export function isOldBool(s: string): boolean {
  return OLD_BOOL_TRUE.has(s) || OLD_BOOL_FALSE.has(s)
}

const BASE60 = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/

/** YAML 1.1 sexagesimal numbers (`1:20`), quoted for the benefit of YAML 1.1 readers. */
export function isBase60Float(s: string): boolean {
  if (s === '') return false
  const c = s[0] as string
  if (!(c === '+' || c === '-' || (c >= '0' && c <= '9')) || !s.includes(':')) return false
  return BASE60.test(s)
}
