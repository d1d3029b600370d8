/**
 * Canonical schematic serialization (factory-spec §4.4): reproduces, byte for byte, what the
 * reference's YAML library (go-yaml v4 `Marshal`, i.e. 4-space indent, unlimited line width,
 * non-compact sequences, legacy quoting) writes for the schematic struct.
 *
 * The pipeline mirrors the reference's stages, re-implemented for the value kinds a schematic can
 * hold: a representer turns values into nodes with a requested scalar style (including the
 * "would this plain string resolve to another type" check), and an emitter writes nodes with the
 * reference emitter's scalar analysis, style fallbacks, indentation and key rules.
 */
import {
  formatGoFloat,
  isBase60Float,
  isBlank,
  isBreak,
  isOldBool,
  isPrintable,
  plainTag,
  STR,
} from './resolve.ts'
import { YamlAnyMap, YamlFloat, YamlTimestamp } from './types.ts'
import type { Customization, Overlay, Schematic, YamlValue } from './types.ts'

// ------------------------------------------------------------------------------------------------
// Nodes

type Style = 'plain' | 'single' | 'double' | 'literal'

type ENode =
  | { k: 'scalar'; value: string; style: Style }
  | { k: 'seq'; items: ENode[] }
  | { k: 'map'; pairs: [ENode, ENode][] }

const plain = (value: string): ENode => ({ k: 'scalar', value, style: 'plain' })

/** Go's unicode.IsSpace. */
function isGoSpace(cp: number): boolean {
  switch (cp) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true
  }
  return cp >= 0x2000 && cp <= 0x200a
}

/** Code points of a string; lone surrogates become U+FFFD (as they would when UTF-8 encoded). */
function codePoints(s: string): number[] {
  const out: number[] = []
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0xfffd
    out.push(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp)
  }
  return out
}

function utf8Length(cps: readonly number[]): number {
  let n = 0
  for (const cp of cps) n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
  return n
}

/** Representer + tag elision for a Go string (no explicit tag). */
function strNode(s: string): ENode {
  if (s.includes('\n')) {
    const cps = codePoints(s)
    const literal = utf8Length(cps) >= 2 && cps.some((cp) => !isGoSpace(cp))
    return { k: 'scalar', value: s, style: literal ? 'literal' : 'double' }
  }
  if (isBase60Float(s) || isOldBool(s) || s === '<<') return { k: 'scalar', value: s, style: 'single' }
  // A plain string that would read back as another type is double-quoted (legacy quote preference).
  return { k: 'scalar', value: s, style: plainTag(s) === STR ? 'plain' : 'double' }
}

function intNode(v: bigint | number): ENode {
  return plain(typeof v === 'bigint' ? v.toString() : BigInt(v).toString())
}

function floatNode(f: number): ENode {
  return plain(formatGoFloat(f))
}

// ------------------------------------------------------------------------------------------------
// Map key order (the reference sorts map keys with a "natural" order before emitting them).

const LETTER = /\p{L}/u
const DIGIT = /\p{Nd}/u
const isLetter = (cp: number): boolean => LETTER.test(String.fromCodePoint(cp))
const isDigit = (cp: number): boolean => DIGIT.test(String.fromCodePoint(cp))

/** Natural string order: runs of digits compare numerically; letters vs non-letters by context. */
export function naturalLess(a: string, b: string): boolean {
  const ar = codePoints(a)
  const br = codePoints(b)
  let digits = false
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const ac = ar[i] as number
    const bc = br[i] as number
    if (ac === bc) {
      digits = isDigit(ac)
      continue
    }
    const al = isLetter(ac)
    const bl = isLetter(bc)
    if (al && bl) return ac < bc
    if (al || bl) return digits ? al : bl
    let an = 0n
    let bn = 0n
    if (ac === 0x30 || bc === 0x30) {
      for (let j = i - 1; j >= 0 && isDigit(ar[j] as number); j--) {
        if (ar[j] !== 0x30) {
          an = 1n
          bn = 1n
          break
        }
      }
    }
    let ai = i
    for (; ai < ar.length && isDigit(ar[ai] as number); ai++) an = BigInt.asIntN(64, an * 10n + BigInt((ar[ai] as number) - 0x30))
    let bi = i
    for (; bi < br.length && isDigit(br[bi] as number); bi++) bn = BigInt.asIntN(64, bn * 10n + BigInt((br[bi] as number) - 0x30))
    if (an !== bn) return an < bn
    if (ai !== bi) return ai < bi
    return ac < bc
  }
  return ar.length < br.length
}

/** Go reflect.Kind numbers, used to order keys of different types. */
const KIND_BOOL = 1
const KIND_INT = 2
const KIND_UINT64 = 11
const KIND_FLOAT64 = 14
const KIND_INTERFACE = 20
const KIND_STRING = 24
const KIND_STRUCT = 25
const INT64_MAX = (1n << 63n) - 1n

interface KeyInfo {
  kind: number
  /** Numeric view (bools as 0/1) when the key is a number or bool. */
  num?: number
  exact?: bigint | number | boolean
  str?: string
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
  if (typeof k === 'string') return { kind: KIND_STRING, str: k }
  if (k instanceof YamlTimestamp) return { kind: KIND_STRUCT }
  throw new TypeError('a collection cannot be a map key')
}

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
  return naturalLess(a.str ?? '', b.str ?? '')
}

function sortByLess<T>(items: T[], less: (a: T, b: T) => boolean): T[] {
  return items.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0))
}

// ------------------------------------------------------------------------------------------------
// Representer for free-form values (overlay options)

function isPlainObject(v: YamlValue): v is { [key: string]: YamlValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof YamlFloat) && !(v instanceof YamlTimestamp) && !(v instanceof YamlAnyMap)
}

function represent(v: YamlValue, depth: number): ENode {
  if (depth > MAX_EMIT_DEPTH) throw new RangeError('value nested too deeply to emit')
  if (v === null) return plain('null')
  if (typeof v === 'boolean') return plain(v ? 'true' : 'false')
  if (typeof v === 'bigint') return intNode(v)
  if (typeof v === 'number') return Number.isSafeInteger(v) ? intNode(v) : floatNode(v)
  if (typeof v === 'string') return strNode(v)
  if (v instanceof YamlFloat) return floatNode(v.value)
  if (v instanceof YamlTimestamp) return plain(v.text)
  if (Array.isArray(v)) return { k: 'seq', items: v.map((x) => represent(x, depth + 1)) }
  if (v instanceof YamlAnyMap) {
    const entries = sortByLess(
      v.entries.map(([k, val]) => ({ info: keyInfo(k), k, val })),
      (a, b) => keyLess(a.info, b.info),
    )
    return { k: 'map', pairs: entries.map((e) => [represent(e.k, depth + 1), represent(e.val, depth + 1)]) }
  }
  if (isPlainObject(v)) return representStringMap(v, depth)
  throw new TypeError('unsupported value in overlay options')
}

function representStringMap(m: { [key: string]: YamlValue }, depth: number): ENode {
  const keys = sortByLess(Object.keys(m), naturalLess)
  return { k: 'map', pairs: keys.map((key) => [strNode(key), represent(m[key] as YamlValue, depth + 1)]) }
}

const MAX_EMIT_DEPTH = 2000

// ------------------------------------------------------------------------------------------------
// Emitter

interface Analysis {
  multiline: boolean
  flowPlain: boolean
  blockPlain: boolean
  singleQuoted: boolean
  block: boolean
}

function analyzeScalar(cps: readonly number[]): Analysis {
  if (cps.length === 0) return { multiline: false, flowPlain: false, blockPlain: true, singleQuoted: true, block: false }
  let blockIndicators = false
  let flowIndicators = false
  let lineBreaks = false
  let specialCharacters = false
  let tabCharacters = false
  let leadingSpace = false
  let leadingBreak = false
  let trailingSpace = false
  let trailingBreak = false
  let breakSpace = false
  let spaceBreak = false
  let previousSpace = false
  let previousBreak = false

  const c0 = cps[0]
  if (cps.length >= 3 && ((c0 === 0x2d && cps[1] === 0x2d && cps[2] === 0x2d) || (c0 === 0x2e && cps[1] === 0x2e && cps[2] === 0x2e))) {
    blockIndicators = true
    flowIndicators = true
  }

  let precededByWhitespace = true
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i] as number
    const followedByWhitespace = i + 1 >= cps.length || isBlank(cps[i + 1] as number)
    const ch = String.fromCodePoint(c)
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true
        blockIndicators = true
      } else if (ch === '?' || ch === ':') {
        flowIndicators = true
        if (followedByWhitespace) blockIndicators = true
      } else if (ch === '-') {
        if (followedByWhitespace) {
          flowIndicators = true
          blockIndicators = true
        }
      }
    } else {
      if (',?[]{}'.includes(ch)) {
        flowIndicators = true
      } else if (ch === ':') {
        flowIndicators = true
        if (followedByWhitespace) blockIndicators = true
      } else if (ch === '#') {
        if (precededByWhitespace) {
          flowIndicators = true
          blockIndicators = true
        }
      }
    }

    if (c === 0x09) tabCharacters = true
    else if (!isPrintable(c)) specialCharacters = true

    if (c === 0x20) {
      if (i === 0) leadingSpace = true
      if (i === cps.length - 1) trailingSpace = true
      if (previousBreak) breakSpace = true
      previousSpace = true
      previousBreak = false
    } else if (isBreak(c)) {
      lineBreaks = true
      if (i === 0) leadingBreak = true
      if (i === cps.length - 1) trailingBreak = true
      if (previousSpace) spaceBreak = true
      previousSpace = false
      previousBreak = true
    } else {
      previousSpace = false
      previousBreak = false
    }
    precededByWhitespace = isBlank(c) || isBreak(c) || c === 0
  }

  const a: Analysis = { multiline: lineBreaks, flowPlain: true, blockPlain: true, singleQuoted: true, block: true }
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    a.flowPlain = false
    a.blockPlain = false
  }
  if (trailingSpace) a.block = false
  if (breakSpace) {
    a.flowPlain = false
    a.blockPlain = false
    a.singleQuoted = false
  }
  if (spaceBreak || tabCharacters || specialCharacters) {
    a.flowPlain = false
    a.blockPlain = false
    a.singleQuoted = false
  }
  if (spaceBreak || specialCharacters) a.block = false
  if (lineBreaks) {
    a.flowPlain = false
    a.blockPlain = false
  }
  if (flowIndicators) a.flowPlain = false
  if (blockIndicators) a.blockPlain = false
  return a
}

const hex = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0')

class Emitter {
  private readonly out: string[] = []
  private column = 0
  private indent = -1
  private readonly indents: number[] = []
  private whitespace = true
  private indention = true
  /** Flow context only ever holds empty collections here, so it is never entered. */
  private readonly flowLevel = 0
  private readonly bestIndent = 4

  result(): string {
    return this.out.join('')
  }

  document(root: ENode): void {
    this.node(root, false, false)
    // Document end: terminate the last line.
    this.writeIndent()
  }

  // -- low-level writers -------------------------------------------------------------------------

  private put(s: string): void {
    this.out.push(s)
    this.column++
  }

  private putBreak(): void {
    this.out.push('\n')
    this.column = 0
    this.indention = true
  }

  private writeCp(cp: number): void {
    this.out.push(String.fromCodePoint(cp))
    this.column++
  }

  private writeLineBreak(cp: number): void {
    if (cp === 0x0a) {
      this.putBreak()
      return
    }
    this.writeCp(cp)
    this.column = 0
    this.indention = true
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0)
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak()
    while (this.column < indent) this.put(' ')
    this.whitespace = true
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ')
    for (const ch of indicator) this.put(ch)
    this.whitespace = isWhitespace
    this.indention = this.indention && isIndention
  }

  private increaseIndent(flow: boolean, parentIsSeqItem: boolean): void {
    this.indents.push(this.indent)
    if (this.indent < 0) {
      this.indent = flow ? this.bestIndent : 0
    } else if (parentIsSeqItem) {
      this.indent += 2
    } else {
      this.indent = this.bestIndent * Math.floor((this.indent + this.bestIndent) / this.bestIndent)
    }
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? -1
  }

  // -- nodes -------------------------------------------------------------------------------------

  /** `parentIsSeqItem`: the node is an item of a block sequence (its indentation skips the "- "). */
  private node(n: ENode, simpleKey: boolean, parentIsSeqItem: boolean): void {
    switch (n.k) {
      case 'scalar':
        this.scalar(n.value, n.style, simpleKey, parentIsSeqItem)
        return
      case 'seq':
        if (this.flowLevel > 0 || n.items.length === 0) {
          this.emptyFlow('[', ']', n.items.length, parentIsSeqItem)
          return
        }
        this.increaseIndent(false, parentIsSeqItem)
        for (const item of n.items) {
          this.writeIndent()
          this.writeIndicator('-', true, false, true)
          this.node(item, false, true)
        }
        this.popIndent()
        return
      case 'map':
        if (this.flowLevel > 0 || n.pairs.length === 0) {
          this.emptyFlow('{', '}', n.pairs.length, parentIsSeqItem)
          return
        }
        this.increaseIndent(false, parentIsSeqItem)
        for (const [k, v] of n.pairs) {
          this.writeIndent()
          if (this.isSimpleKey(k)) {
            this.node(k, true, false)
            this.writeIndicator(':', false, false, false)
          } else {
            this.writeIndicator('?', true, false, true)
            this.node(k, false, false)
            this.writeIndent()
            this.writeIndicator(':', true, false, true)
          }
          this.node(v, false, false)
        }
        this.popIndent()
        return
    }
  }

  /** Collections are only ever written in flow style when empty (`[]`, `{}`). */
  private emptyFlow(open: string, close: string, size: number, parentIsSeqItem: boolean): void {
    if (size !== 0) throw new Error('non-empty flow collections are never produced')
    this.writeIndicator(open, true, true, false)
    this.increaseIndent(true, parentIsSeqItem)
    this.popIndent()
    this.writeIndicator(close, false, false, false)
  }

  private isSimpleKey(k: ENode): boolean {
    if (k.k === 'seq') return k.items.length === 0
    if (k.k === 'map') return k.pairs.length === 0
    const cps = codePoints(k.value)
    if (analyzeScalar(cps).multiline) return false
    return utf8Length(cps) <= 128
  }

  private scalar(value: string, requested: Style, simpleKey: boolean, parentIsSeqItem: boolean): void {
    const cps = codePoints(value)
    const a = analyzeScalar(cps)
    let style = requested
    if (simpleKey && a.multiline) style = 'double'
    if (style === 'plain') {
      if ((this.flowLevel > 0 && !a.flowPlain) || (this.flowLevel === 0 && !a.blockPlain)) style = 'single'
      if (cps.length === 0 && (this.flowLevel > 0 || simpleKey)) style = 'single'
    }
    if (style === 'single' && !a.singleQuoted) style = 'double'
    if (style === 'literal' && (!a.block || this.flowLevel > 0 || simpleKey)) style = 'double'

    this.increaseIndent(true, parentIsSeqItem)
    switch (style) {
      case 'plain':
        this.writePlain(cps)
        break
      case 'single':
        this.writeSingle(cps)
        break
      case 'double':
        this.writeDouble(cps)
        break
      case 'literal':
        this.writeLiteral(cps)
        break
    }
    this.popIndent()
  }

  private writePlain(cps: readonly number[]): void {
    if (cps.length > 0 && !this.whitespace) this.put(' ')
    let breaks = false
    for (const cp of cps) {
      if (cp === 0x20) {
        this.writeCp(cp)
      } else if (isBreak(cp)) {
        if (!breaks && cp === 0x0a) this.putBreak()
        this.writeLineBreak(cp)
        breaks = true
      } else {
        if (breaks) this.writeIndent()
        this.writeCp(cp)
        this.indention = false
        breaks = false
      }
    }
    if (cps.length > 0) this.whitespace = false
    this.indention = false
  }

  private writeSingle(cps: readonly number[]): void {
    this.writeIndicator("'", true, false, false)
    let breaks = false
    for (const cp of cps) {
      if (cp === 0x20) {
        this.writeCp(cp)
      } else if (isBreak(cp)) {
        if (!breaks && cp === 0x0a) this.putBreak()
        this.writeLineBreak(cp)
        breaks = true
      } else {
        if (breaks) this.writeIndent()
        if (cp === 0x27) this.put("'")
        this.writeCp(cp)
        this.indention = false
        breaks = false
      }
    }
    this.writeIndicator("'", false, false, false)
    this.whitespace = false
    this.indention = false
  }

  private writeDouble(cps: readonly number[]): void {
    this.writeIndicator('"', true, false, false)
    // The reference's byte-order-mark test looks at the start of the value, not the current
    // character: a value starting with U+FEFF has every character escaped.
    const startsWithBom = cps[0] === 0xfeff
    for (const cp of cps) {
      if (!isPrintable(cp) || startsWithBom || isBreak(cp) || cp === 0x22 || cp === 0x5c) {
        this.put('\\')
        switch (cp) {
          case 0x00:
            this.put('0')
            break
          case 0x07:
            this.put('a')
            break
          case 0x08:
            this.put('b')
            break
          case 0x09:
            this.put('t')
            break
          case 0x0a:
            this.put('n')
            break
          case 0x0b:
            this.put('v')
            break
          case 0x0c:
            this.put('f')
            break
          case 0x0d:
            this.put('r')
            break
          case 0x1b:
            this.put('e')
            break
          case 0x22:
            this.put('"')
            break
          case 0x5c:
            this.put('\\')
            break
          case 0x85:
            this.put('N')
            break
          case 0xa0:
            this.put('_')
            break
          case 0x2028:
            this.put('L')
            break
          case 0x2029:
            this.put('P')
            break
          default:
            if (cp <= 0xff) this.writeAscii('x' + hex(cp, 2))
            else if (cp <= 0xffff) this.writeAscii('u' + hex(cp, 4))
            else this.writeAscii('U' + hex(cp, 8))
        }
      } else {
        this.writeCp(cp)
      }
    }
    this.writeIndicator('"', false, false, false)
    this.whitespace = false
    this.indention = false
  }

  private writeAscii(s: string): void {
    for (const ch of s) this.put(ch)
  }

  private writeLiteral(cps: readonly number[]): void {
    this.writeIndicator('|', true, false, false)
    if (cps[0] === 0x20) this.writeIndicator(String(this.bestIndent), false, false, false)
    let chomp = ''
    if (cps.length === 0) {
      chomp = '-'
    } else {
      const last = cps[cps.length - 1] as number
      if (!isBreak(last)) chomp = '-'
      else if (cps.length === 1) chomp = '+'
      else if (isBreak(cps[cps.length - 2] as number)) chomp = '+'
    }
    if (chomp) this.writeIndicator(chomp, false, false, false)
    this.putBreak()
    this.whitespace = true
    let breaks = true
    for (const cp of cps) {
      if (isBreak(cp)) {
        this.writeLineBreak(cp)
        breaks = true
      } else {
        if (breaks) this.writeIndent()
        this.writeCp(cp)
        this.indention = false
        breaks = false
      }
    }
  }
}

/** Emit any node tree as a single YAML document the way the reference library marshals it. */
function emitDocument(root: ENode): string {
  const e = new Emitter()
  e.document(root)
  return e.result()
}

/**
 * Marshal a free-form value (e.g. overlay options) exactly as the reference YAML library would
 * marshal the equivalent Go value (`map[string]any`, `[]any`, scalars) as a whole document.
 * Exposed for other components that must reproduce reference YAML (profile hashing, overlay
 * `extra-options`).
 */
export function emitYamlValue(v: YamlValue): string {
  return emitDocument(represent(v, 0))
}

// ------------------------------------------------------------------------------------------------
// The schematic struct (field order and omitempty rules of factory-spec §4.1)

function isEmptyOptions(o: Overlay['options']): boolean {
  return o === undefined || Object.keys(o).length === 0
}

function overlayNode(o: Overlay | undefined): ENode | undefined {
  if (!o) return undefined
  const image = o.image ?? ''
  const name = o.name ?? ''
  if (image === '' && name === '' && isEmptyOptions(o.options)) return undefined
  const pairs: [ENode, ENode][] = [
    [strNode('image'), strNode(image)],
    [strNode('name'), strNode(name)],
  ]
  if (o.options && !isEmptyOptions(o.options)) pairs.push([strNode('options'), representStringMap(o.options, 1)])
  return { k: 'map', pairs }
}

function uintNode(v: number, field: string, max: number): ENode {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new RangeError(`${field} must be an integer between 0 and ${max}`)
  return intNode(v)
}

function stringList(items: readonly string[]): ENode {
  return { k: 'seq', items: items.map(strNode) }
}

function customizationNode(c: Customization | undefined): ENode {
  const pairs: [ENode, ENode][] = []
  const add = (key: string, value: ENode): void => {
    pairs.push([strNode(key), value])
  }
  if (c) {
    if (c.embeddedMachineConfiguration) add('embeddedMachineConfiguration', strNode(c.embeddedMachineConfiguration))
    if (c.extraKernelArgs && c.extraKernelArgs.length > 0) add('extraKernelArgs', stringList(c.extraKernelArgs))
    if (c.meta && c.meta.length > 0) {
      add('meta', {
        k: 'seq',
        items: c.meta.map((m) => ({
          k: 'map',
          pairs: [
            [strNode('key'), uintNode(m.key, 'meta key', 255)],
            [strNode('value'), strNode(m.value ?? '')],
          ],
        })),
      })
    }
    const ext = c.systemExtensions?.officialExtensions
    if (ext && ext.length > 0) add('systemExtensions', { k: 'map', pairs: [[strNode('officialExtensions'), stringList(ext)]] })
    if (c.bootloader && c.bootloader !== 'none') add('bootloader', strNode(c.bootloader))
    const sb = c.secureboot
    if (sb && (sb.enrollKeys || sb.includeWellKnownCertificates)) {
      const sbPairs: [ENode, ENode][] = []
      if (sb.enrollKeys) sbPairs.push([strNode('enrollKeys'), strNode(sb.enrollKeys)])
      if (sb.includeWellKnownCertificates) sbPairs.push([strNode('includeWellKnownCertificates'), plain('true')])
      add('secureboot', { k: 'map', pairs: sbPairs })
    }
    const sector = c.diskImage?.sectorSize
    if (sector) add('diskImage', { k: 'map', pairs: [[strNode('sectorSize'), uintNode(sector, 'sectorSize', Number.MAX_SAFE_INTEGER)]] })
  }
  return { k: 'map', pairs }
}

/** The canonical YAML of a schematic: the exact bytes whose SHA-256 is the schematic ID. */
export function emitCanonical(s: Schematic): string {
  const pairs: [ENode, ENode][] = []
  if (s.owner) pairs.push([strNode('owner'), strNode(s.owner)])
  const overlay = overlayNode(s.overlay)
  if (overlay) pairs.push([strNode('overlay'), overlay])
  pairs.push([strNode('customization'), customizationNode(s.customization)])
  return emitDocument({ k: 'map', pairs })
}
