/**
 * A small block-style YAML emitter that reproduces go.yaml.in/yaml/v4 `Marshal` output for
 * the shapes the imager profile uses (mappings in struct order, sequences, strings, ints, bools,
 * null); free-form subtrees come pre-emitted from the schematic emitter.
 *
 * Why not a YAML library: the asset cache key is sha256 of these bytes, so indentation (4 spaces,
 * sequences indented under their key), scalar style choice (plain / single / double / literal)
 * and map-key order must match go-yaml exactly. Generic JS emitters differ in all three.
 */

/** A YAML node: scalars carry their Go kind so numbers/bools/null render plain. */
export type YamlNode =
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'int'; readonly v: number | bigint }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'null' }
  | { readonly t: 'map'; readonly entries: ReadonlyArray<readonly [string, YamlNode]> }
  | { readonly t: 'seq'; readonly items: readonly YamlNode[] }
  /** a non-empty block collection already emitted as a document (e.g. by the schematic emitter) */
  | { readonly t: 'block'; readonly text: string }

export const y = {
  str: (v: string): YamlNode => ({ t: 'str', v }),
  int: (v: number | bigint): YamlNode => ({ t: 'int', v }),
  bool: (v: boolean): YamlNode => ({ t: 'bool', v }),
  null: (): YamlNode => ({ t: 'null' }),
  map: (entries: ReadonlyArray<readonly [string, YamlNode]>): YamlNode => ({ t: 'map', entries }),
  seq: (items: readonly YamlNode[]): YamlNode => ({ t: 'seq', items }),
  block: (text: string): YamlNode => ({ t: 'block', text }),
}

const INDENT = 4

// ---------------------------------------------------------------------------------------------
// Scalar resolution (would the plain text read back as something other than a string?)
// ---------------------------------------------------------------------------------------------

const OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'])
const BASE60 = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/
const SPECIAL_NON_STR = new Set([
  'true', 'True', 'TRUE', 'false', 'False', 'FALSE',
  '', '~', 'null', 'Null', 'NULL',
  '.nan', '.NaN', '.NAN', '.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF',
  '<<',
])
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/
const GO_PREFIXED_INT = /^([-+]?)0([xXoObB])([0-9a-fA-F]+)$/
const GO_PLAIN_INT = /^[-+]?(0[0-7]*|[1-9][0-9]*)$/
const INT64_MIN = -(2n ** 63n)
const UINT64_MAX = 2n ** 64n - 1n

/** Go `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` would succeed. */
function isGoInt(plain: string): boolean {
  let sign = ''
  let digits = plain
  let base = 10
  const m = GO_PREFIXED_INT.exec(plain)
  if (m) {
    sign = m[1]!
    base = { x: 16, o: 8, b: 2 }[m[2]!.toLowerCase() as 'x' | 'o' | 'b']
    digits = m[3]!
    if (!{ 16: /^[0-9a-fA-F]+$/, 8: /^[0-7]+$/, 2: /^[01]+$/ }[base as 16 | 8 | 2].test(digits)) return false
  } else if (GO_PLAIN_INT.test(plain)) {
    sign = plain[0] === '-' || plain[0] === '+' ? plain[0] : ''
    digits = sign ? plain.slice(1) : plain
    if (digits.length > 1 && digits[0] === '0') base = 8
  } else {
    return false
  }
  const prefix = base === 16 ? '0x' : base === 8 ? '0o' : base === 2 ? '0b' : ''
  const n = BigInt(prefix + (base === 8 && !m ? digits.slice(1) || '0' : digits))
  const v = sign === '-' ? -n : n
  return v >= INT64_MIN && (sign === '' ? v <= UINT64_MAX : v < 2n ** 63n)
}
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/

function daysInMonth(y: number, m: number): number {
  return [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0
}

/** go-yaml timestamp forms: `YYYY-M-D`, with `T`/`t` + time + zone, or space + time (no zone). */
function isTimestamp(s: string): boolean {
  const m = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:([Tt])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})|( )([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.[0-9]+)?)?$/.exec(s)
  if (!m) return false
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false
  const hh = Number(m[5] ?? m[10] ?? 0)
  const mm = Number(m[6] ?? m[11] ?? 0)
  const ss = Number(m[7] ?? m[12] ?? 0)
  return hh < 24 && mm < 60 && ss < 60
}

/** True when the plain form of `s` resolves to !!str (go-yaml `resolve`). */
function resolvesToStr(s: string): boolean {
  if (SPECIAL_NON_STR.has(s)) return false
  const c = s[0]
  if (c === undefined) return false
  if (c === '.') return !DOT_FLOAT.test(s)
  if (c === '+' || c === '-' || (c >= '0' && c <= '9')) {
    if (isTimestamp(s)) return false
    const plain = s.replace(/_/g, '')
    if (isGoInt(plain) || YAML_FLOAT.test(plain)) return false
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// Scalar analysis (libyaml `yaml_emitter_analyze_scalar`)
// ---------------------------------------------------------------------------------------------

interface Analysis {
  blockPlainAllowed: boolean
  singleQuotedAllowed: boolean
  blockAllowed: boolean
  multiline: boolean
}

function isPrintable(cp: number): boolean {
  return cp === 0x0a || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
}
function isBreak(cp: number | undefined): boolean {
  return cp === 0x0d || cp === 0x0a || cp === 0x85 || cp === 0x2028 || cp === 0x2029
}
function isBlank(cp: number | undefined): boolean {
  return cp === 0x20 || cp === 0x09
}

function analyze(value: string): Analysis {
  if (value.length === 0) return { blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false, multiline: false }
  const cps = Array.from(value, (ch) => ch.codePointAt(0)!)
  // flow indicators only matter in flow context, which this emitter never uses
  let blockIndicators = value.startsWith('---') || value.startsWith('...')
  let precededByWhitespace = true
  let leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false
  let breakSpace = false, spaceBreak = false, previousSpace = false, previousBreak = false
  let lineBreaks = false, special = false, tabs = false
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!
    const ch = String.fromCodePoint(cp)
    const next = cps[i + 1]
    const followedByWhitespace = next === undefined || isBlank(next) || isBreak(next)
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) blockIndicators = true
      else if ((ch === '?' || ch === ':' || ch === '-') && followedByWhitespace) blockIndicators = true
    } else if (ch === ':' && followedByWhitespace) {
      blockIndicators = true
    } else if (ch === '#' && precededByWhitespace) {
      blockIndicators = true
    }
    if (cp === 0x09) tabs = true
    else if (!isPrintable(cp)) special = true
    if (cp === 0x20) {
      if (i === 0) leadingSpace = true
      if (i === cps.length - 1) trailingSpace = true
      if (previousBreak) breakSpace = true
      previousSpace = true
      previousBreak = false
    } else if (isBreak(cp)) {
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
    precededByWhitespace = isBlank(cp) || isBreak(cp)
  }
  let blockPlain = true, single = true, block = true
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlain = false
  if (trailingSpace) block = false
  if (breakSpace) blockPlain = single = false
  if (spaceBreak || tabs || special) blockPlain = single = false
  if (spaceBreak || special) block = false
  if (lineBreaks) blockPlain = false
  if (blockIndicators) blockPlain = false
  return { blockPlainAllowed: blockPlain, singleQuotedAllowed: single, blockAllowed: block, multiline: lineBreaks }
}

// ---------------------------------------------------------------------------------------------
// Scalar style selection (go-yaml v4 representer + libyaml `select_scalar_style`)
// ---------------------------------------------------------------------------------------------

type Style = 'plain' | 'single' | 'double' | 'literal'

/** Go `unicode.IsSpace`. */
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/

/** Literal style only for text with a newline, at least 2 bytes, not only white space. */
function shouldUseLiteral(s: string): boolean {
  return s.includes('\n') && s.length >= 2 && !GO_SPACE.test(s)
}

function selectStyle(s: string, a: Analysis, simpleKey: boolean): Style {
  let style: Style
  if (s.includes('\n')) style = shouldUseLiteral(s) ? 'literal' : 'double'
  else if (OLD_BOOLS.has(s) || (BASE60.test(s) && /^[-+0-9]/.test(s)) || s === '<<') style = 'single'
  else style = resolvesToStr(s) ? 'plain' : 'double'
  if (simpleKey && a.multiline) return 'double'
  if (style === 'plain' && (!a.blockPlainAllowed || (s.length === 0 && simpleKey))) style = 'single'
  if (style === 'single' && !a.singleQuotedAllowed) style = 'double'
  if (style === 'literal' && (!a.blockAllowed || simpleKey)) style = 'double'
  return style
}

function escapeDouble(cp: number): string {
  switch (cp) {
    case 0x00: return '\\0'
    case 0x07: return '\\a'
    case 0x08: return '\\b'
    case 0x09: return '\\t'
    case 0x0a: return '\\n'
    case 0x0b: return '\\v'
    case 0x0c: return '\\f'
    case 0x0d: return '\\r'
    case 0x1b: return '\\e'
    case 0x22: return '\\"'
    case 0x5c: return '\\\\'
    case 0x85: return '\\N'
    case 0xa0: return '\\_'
    case 0x2028: return '\\L'
    case 0x2029: return '\\P'
  }
  if (cp <= 0xff) return '\\x' + cp.toString(16).toUpperCase().padStart(2, '0')
  if (cp <= 0xffff) return '\\u' + cp.toString(16).toUpperCase().padStart(4, '0')
  return '\\U' + cp.toString(16).toUpperCase().padStart(8, '0')
}

function scalarText(n: YamlNode): string | undefined {
  switch (n.t) {
    case 'int':
      return String(n.v)
    case 'bool':
      return n.v ? 'true' : 'false'
    case 'null':
      return 'null'
    default:
      return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Block emitter (libyaml state: column, indent stack, whitespace/indention flags)
// ---------------------------------------------------------------------------------------------

const utf8 = new TextEncoder()

class Emitter {
  private readonly out: string[] = []
  private column = 0
  private indent = -1
  private readonly indents: number[] = []
  private whitespace = true
  private indention = true

  result(): string {
    return this.out.join('')
  }

  document(root: YamlNode): void {
    this.node(root, false, false)
    this.writeIndent()
  }

  private put(s: string): void {
    this.out.push(s)
    this.column++
  }

  private putBreak(): void {
    this.out.push('\n')
    this.column = 0
    this.indention = true
  }

  private writeBreakChar(ch: string): void {
    if (ch === '\n') {
      this.putBreak()
      return
    }
    this.out.push(ch)
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

  /** go-yaml v4: nested blocks step to the next multiple of 4; a seq item's content adds 2 ("- "). */
  private increaseIndent(flow: boolean, parentIsSeqItem: boolean): void {
    this.indents.push(this.indent)
    if (this.indent < 0) this.indent = flow ? INDENT : 0
    else if (parentIsSeqItem) this.indent += 2
    else this.indent = INDENT * Math.floor((this.indent + INDENT) / INDENT)
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? -1
  }

  private node(n: YamlNode, simpleKey: boolean, parentIsSeqItem: boolean): void {
    if (n.t === 'seq' || n.t === 'map') {
      const size = n.t === 'seq' ? n.items.length : n.entries.length
      if (size === 0) {
        this.writeIndicator(n.t === 'seq' ? '[' : '{', true, true, false)
        this.writeIndicator(n.t === 'seq' ? ']' : '}', false, false, false)
        return
      }
      this.increaseIndent(false, parentIsSeqItem)
      if (n.t === 'seq') {
        for (const item of n.items) {
          this.writeIndent()
          this.writeIndicator('-', true, false, true)
          this.node(item, false, true)
        }
      } else {
        for (const [k, v] of n.entries) {
          this.writeIndent()
          const a = analyze(k)
          if (!a.multiline && utf8.encode(k).length <= 128) {
            this.scalar(k, true, false)
            this.writeIndicator(':', false, false, false)
          } else {
            this.writeIndicator('?', true, false, true)
            this.scalar(k, false, false)
            this.writeIndent()
            this.writeIndicator(':', true, false, true)
          }
          this.node(v, false, false)
        }
      }
      this.popIndent()
      return
    }
    if (n.t === 'block') {
      // block layout is shift-invariant in steps of 4, so a document re-indents cleanly
      this.increaseIndent(false, parentIsSeqItem)
      const pad = ' '.repeat(Math.max(this.indent, 0))
      const lines = n.text.replace(/\n$/, '').split('\n')
      this.putBreak()
      this.out.push(lines.map((l) => (l === '' ? '' : pad + l)).join('\n'))
      this.column = pad.length + lines[lines.length - 1]!.length
      this.whitespace = false
      this.indention = false
      this.popIndent()
      return
    }
    const text = scalarText(n)
    this.increaseIndent(true, parentIsSeqItem)
    if (text !== undefined) this.writePlain(text)
    else if (n.t === 'str') this.writeString(n.v, simpleKey)
    this.popIndent()
  }

  private scalar(s: string, simpleKey: boolean, parentIsSeqItem: boolean): void {
    this.increaseIndent(true, parentIsSeqItem)
    this.writeString(s, simpleKey)
    this.popIndent()
  }

  private writeString(s: string, simpleKey: boolean): void {
    const a = analyze(s)
    switch (selectStyle(s, a, simpleKey)) {
      case 'plain':
        return this.writePlain(s)
      case 'single':
        return this.writeSingle(s)
      case 'double':
        return this.writeDouble(s)
      case 'literal':
        return this.writeLiteral(s)
    }
  }

  private writePlain(s: string): void {
    if (!this.whitespace && s.length > 0) this.put(' ')
    this.out.push(s)
    this.column += s.length
    this.whitespace = false
    this.indention = false
  }

  private writeSingle(s: string): void {
    this.writeIndicator("'", true, false, false)
    let breaks = false
    for (const ch of s) {
      const cp = ch.codePointAt(0)!
      if (isBreak(cp)) {
        if (!breaks && ch === '\n') this.putBreak()
        this.writeBreakChar(ch)
        breaks = true
      } else {
        if (breaks) this.writeIndent()
        this.out.push(ch === "'" ? "''" : ch)
        this.column += ch === "'" ? 2 : 1
        this.indention = false
        breaks = false
      }
    }
    this.writeIndicator("'", false, false, false)
  }

  private writeDouble(s: string): void {
    this.writeIndicator('"', true, false, false)
    for (const ch of s) {
      const cp = ch.codePointAt(0)!
      const text = !isPrintable(cp) || cp === 0xfeff || isBreak(cp) || ch === '"' || ch === '\\' ? escapeDouble(cp) : ch
      this.out.push(text)
      this.column += text.length
    }
    this.writeIndicator('"', false, false, false)
  }

  private writeLiteral(s: string): void {
    this.writeIndicator('|', true, false, false)
    const cps = Array.from(s, (ch) => ch.codePointAt(0)!)
    // go-yaml v4 adds the indentation indicator only for a leading space (not a leading break)
    if (cps[0] === 0x20) this.writeIndicator(String(INDENT), false, false, false)
    const last = cps[cps.length - 1]
    if (!isBreak(last)) this.writeIndicator('-', false, false, false)
    else if (cps.length === 1 || isBreak(cps[cps.length - 2])) this.writeIndicator('+', false, false, false)
    this.putBreak()
    this.whitespace = true
    let breaks = true
    for (const ch of s) {
      if (isBreak(ch.codePointAt(0))) {
        this.writeBreakChar(ch)
        breaks = true
      } else {
        if (breaks) this.writeIndent()
        this.out.push(ch)
        this.column++
        this.indention = false
        breaks = false
      }
    }
  }
}

/** Emit one YAML document (no `---`), ending with a single newline. */
export function emitYaml(root: YamlNode): string {
  const e = new Emitter()
  e.document(root)
  return e.result()
}

