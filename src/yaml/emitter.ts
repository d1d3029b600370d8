/**
 * The project's one go-yaml v4 (`Marshal`) emitter: 4-space indent, unlimited line width,
 * non-compact sequences (indented under their key), legacy quoting. It is used for every byte
 * string that must equal what the reference writes: the canonical schematic (whose SHA-256 is the
 * schematic ID), the imager profile (whose bytes are the asset cache key) and the imager's own
 * YAML files.
 *
 * The pipeline mirrors the reference's stages: a representer turns values into nodes with a
 * requested scalar style (`strNode` for Go strings, including the "would this plain string resolve
 * to another type" check; `plainScalar` for numbers, bools and null), and the emitter writes nodes
 * with the reference emitter's scalar analysis, style fallbacks, indentation and key rules (the
 * libyaml state machine reduced to block context: column, indent stack, whitespace/indention).
 * Collections are only ever written in flow style when empty (`[]`, `{}`).
 *
 * Written from the behaviour described in factory-spec §4.4 and observed in the reference
 * library; no code is copied.
 */
import { isBase60Float, isBreak, isOldBool, isPrintable, plainTag, STR } from './resolve.ts'
import { analyzeScalar, codePoints, doubleEscape, isGoSpace, utf8Length, type Analysis } from './scalar-analysis.ts'

export { codePoints } from './scalar-analysis.ts'

// ------------------------------------------------------------------------------------------------
// Nodes

export type Style = 'plain' | 'single' | 'double' | 'literal'

export type Node =
  /** `style` is the representer's request; the emitter may fall back to a quoted style. */
  | { readonly k: 'scalar'; readonly value: string; readonly style: Style }
  | { readonly k: 'seq'; readonly items: readonly Node[] }
  /** Pairs in emission order (struct field order, or map keys already sorted). */
  | { readonly k: 'map'; readonly pairs: ReadonlyArray<readonly [Node, Node]> }
  /**
   * A non-empty block collection already emitted as a document (by this emitter), spliced in as
   * a map value: block layout is shift-invariant in steps of 4, so the document re-indents by
   * prefixing each non-empty line.
   */
  | { readonly k: 'block'; readonly text: string }

/** A scalar written plain (numbers, bools, null, timestamps: text the resolver types as intended). */
export const plainScalar = (value: string): Node => ({ k: 'scalar', value, style: 'plain' })

/** A Go integer (`String` of a safe integer equals its decimal Go rendering). */
export const intNode = (v: bigint | number): Node => plainScalar(String(v))

// ------------------------------------------------------------------------------------------------
// Representer for a Go string (no explicit tag)

/**
 * Text with a newline is literal (when at least 2 bytes and not only white space) or double
 * quoted; YAML 1.1 booleans, sexagesimal numbers and `<<` are single quoted; a string that would
 * read back as another type when plain is double quoted (legacy quote preference); else plain.
 */
export function strNode(s: string): Node {
  if (s.includes('\n')) {
    const cps = codePoints(s)
    const literal = utf8Length(s.toWellFormed()) >= 2 && cps.some((cp) => !isGoSpace(cp))
    return { k: 'scalar', value: s, style: literal ? 'literal' : 'double' }
  }
  if (isBase60Float(s) || isOldBool(s) || s === '<<') return { k: 'scalar', value: s, style: 'single' }
  return { k: 'scalar', value: s, style: plainTag(s) === STR ? 'plain' : 'double' }
}

// ------------------------------------------------------------------------------------------------
// Emitter

/** Thrown when the output would exceed the size the caller allows. */
export class OutputLimitError extends Error {
  constructor(readonly limit: number) {
    super(`YAML output exceeds ${limit} characters`)
    this.name = 'OutputLimitError'
  }
}

class Emitter {
  /** Output so far (JavaScript strings concatenate as ropes; written in runs, not characters). */
  private out = ''
  private column = 0
  private indent = -1
  private readonly indents: number[] = []
  private whitespace = true
  private indention = true
  /** Flow context only ever holds empty collections here, so it is never entered. */
  private readonly flowLevel = 0
  private readonly bestIndent = 4

  constructor(private readonly maxLength: number) {}

  result(): string {
    return this.out
  }

  document(root: Node): void {
    this.node(root, false, false)
    // Document end: terminate the last line.
    this.writeIndent()
  }

  // -- low-level writers -------------------------------------------------------------------------

  /** Appends text of `width` columns (code points) that holds no line break. */
  private write(text: string, width: number): void {
    this.out += text
    this.column += width
    if (this.out.length > this.maxLength) throw new OutputLimitError(this.maxLength)
  }

  private put(s: string): void {
    this.write(s, 1)
  }

  private putBreak(): void {
    this.out += '\n'
    this.column = 0
    this.indention = true
  }

  private writeCp(cp: number): void {
    this.write(String.fromCodePoint(cp), 1)
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
    if (this.column < indent) this.write(' '.repeat(indent - this.column), indent - this.column)
    this.whitespace = true
  }

  private writeIndicator(indicator: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ')
    this.write(indicator, indicator.length)
    this.whitespace = isWhitespace
    this.indention = this.indention && isIndention
  }

  /** Nested blocks step to the next multiple of 4; a sequence item's content adds 2 (for "- "). */
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
  private node(n: Node, simpleKey: boolean, parentIsSeqItem: boolean, analysis?: Analysis): void {
    switch (n.k) {
      case 'scalar':
        this.scalar(n.value, n.style, simpleKey, parentIsSeqItem, analysis)
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
          // A scalar key is analysed once, for the simple-key test and for writing it.
          const ka = k.k === 'scalar' ? analyzeScalar(k.value.toWellFormed()) : undefined
          if (this.isSimpleKey(k, ka)) {
            this.node(k, true, false, ka)
            this.writeIndicator(':', false, false, false)
          } else {
            this.writeIndicator('?', true, false, true)
            this.node(k, false, false, ka)
            this.writeIndent()
            this.writeIndicator(':', true, false, true)
          }
          this.node(v, false, false)
        }
        this.popIndent()
        return
      case 'block':
        this.preEmitted(n.text, parentIsSeqItem)
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

  /** A pre-emitted block document, re-indented to where its collection would start. */
  private preEmitted(text: string, parentIsSeqItem: boolean): void {
    this.increaseIndent(false, parentIsSeqItem)
    const pad = ' '.repeat(Math.max(this.indent, 0))
    const lines = text.replace(/\n$/, '').split('\n')
    this.putBreak()
    this.out += lines.map((l) => (l === '' ? '' : pad + l)).join('\n')
    if (this.out.length > this.maxLength) throw new OutputLimitError(this.maxLength)
    this.column = pad.length + (lines[lines.length - 1] as string).length
    this.whitespace = false
    this.indention = false
    this.popIndent()
  }

  private isSimpleKey(k: Node, a: Analysis | undefined): boolean {
    if (k.k === 'seq') return k.items.length === 0
    if (k.k === 'map') return k.pairs.length === 0
    if (k.k === 'block' || !a) return false
    if (a.multiline) return false
    return a.bytes <= 128
  }

  private scalar(raw: string, requested: Style, simpleKey: boolean, parentIsSeqItem: boolean, analysis?: Analysis): void {
    // Lone surrogates are written as U+FFFD, as they would be UTF-8 encoded.
    const value = raw.toWellFormed()
    const a = analysis ?? analyzeScalar(value)
    let style = requested
    if (simpleKey && a.multiline) style = 'double'
    if (style === 'plain') {
      if ((this.flowLevel > 0 && !a.flowPlain) || (this.flowLevel === 0 && !a.blockPlain)) style = 'single'
      if (a.length === 0 && (this.flowLevel > 0 || simpleKey)) style = 'single'
    }
    if (style === 'single' && !a.singleQuoted) style = 'double'
    if (style === 'literal' && (!a.block || this.flowLevel > 0 || simpleKey)) style = 'double'

    this.increaseIndent(true, parentIsSeqItem)
    switch (style) {
      case 'plain':
        if (a.length > 0 && !this.whitespace) this.put(' ')
        this.writeFlowText(value, a, false)
        if (a.length > 0) this.whitespace = false
        this.indention = false
        break
      case 'single':
        this.writeIndicator("'", true, false, false)
        this.writeFlowText(value, a, true)
        this.writeIndicator("'", false, false, false)
        break
      case 'double':
        this.writeDouble(value)
        break
      case 'literal':
        this.writeLiteral(value)
        break
    }
    this.popIndent()
  }

  /**
   * The text of a plain or single-quoted scalar (written alike; a single quote is doubled when
   * quoted). Line width is unlimited, so spaces never fold; only line breaks need care.
   */
  private writeFlowText(value: string, a: Analysis, quoted: boolean): void {
    if (!a.multiline) {
      if (a.length === 0) return
      this.write(quoted ? value.replaceAll("'", "''") : value, a.length + (quoted ? countQuotes(value) : 0))
      this.indention = false
      return
    }
    let breaks = false
    for (const ch of value) {
      const cp = ch.codePointAt(0) as number
      if (cp === 0x20) {
        this.writeCp(cp)
      } else if (isBreak(cp)) {
        if (!breaks && cp === 0x0a) this.putBreak()
        this.writeLineBreak(cp)
        breaks = true
      } else {
        if (breaks) this.writeIndent()
        if (quoted && cp === 0x27) this.put("'")
        this.writeCp(cp)
        this.indention = false
        breaks = false
      }
    }
  }

  private writeDouble(value: string): void {
    this.writeIndicator('"', true, false, false)
    // The reference's byte-order-mark test looks at the start of the value, not the current
    // character: a value starting with U+FEFF has every character escaped.
    const startsWithBom = value.charCodeAt(0) === 0xfeff
    let text = ''
    let width = 0
    for (const ch of value) {
      const cp = ch.codePointAt(0) as number
      if (!isPrintable(cp) || startsWithBom || isBreak(cp) || cp === 0x22 || cp === 0x5c) {
        const esc = '\\' + doubleEscape(cp)
        text += esc
        width += esc.length
      } else {
        // printable code points are all in the BMP: one column, one UTF-16 unit
        text += ch
        width++
      }
    }
    this.write(text, width)
    this.writeIndicator('"', false, false, false)
  }

  private writeLiteral(value: string): void {
    const cps = codePoints(value)
    this.writeIndicator('|', true, false, false)
    // The indentation indicator only for a leading space (not for a leading break).
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

function countQuotes(s: string): number {
  let n = 0
  for (let i = s.indexOf("'"); i >= 0; i = s.indexOf("'", i + 1)) n++
  return n
}

/**
 * Emit a node tree as one YAML document (no `---`), ending with a single newline. Throws
 * OutputLimitError as soon as the output would be longer than `maxLength` characters.
 */
export function emitDocument(root: Node, maxLength = Number.POSITIVE_INFINITY): string {
  const e = new Emitter(maxLength)
  e.document(root)
  return e.result()
}
