/**
 * Stage 1 of decoding: text → node tree with the reference's positions and resolved tags (like
 * go-yaml's yaml.Node). The `yaml` library provides the syntax only; it is driven token by token
 * (lexer → CST parser → composer) so the limits are checked on its own tokens before its parser
 * builds anything from them, and only the first document is read, as the reference does.
 */
import { Composer, CST, isAlias, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, Parser } from 'yaml'
import type { Document } from 'yaml'
import { InvalidInputError } from '../errors.ts'
import { countError, depthError, type Mark, type ParseLimits } from './limits.ts'
import { fatal, oneLine } from './load-error.ts'
import { MAP, MERGE, resolve, SEQ, STR } from './resolve.ts'

export interface YNode {
  kind: 'scalar' | 'seq' | 'map' | 'alias'
  /** Resolved short tag ('!!str', '!!int', …, '!!seq', '!!map'), an explicit custom tag, or '!'. */
  tag: string
  /** Scalar written quoted or as a block scalar. */
  quoted: boolean
  /** Scalar text; anchor name for aliases; '' for collections. */
  value: string
  line: number
  col: number
  /** Sequence items, or mapping keys and values interleaved. */
  content: YNode[]
  alias?: YNode
}

function shortTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? '!!' + tag.slice('tag:yaml.org,2002:'.length) : tag
}

// ------------------------------------------------------------------------------------------------
// Reader

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** Bytes → text with the reference reader's checks (valid UTF-8, no control characters). */
export function decodeBody(body: string | Uint8Array): string {
  let text: string
  if (typeof body === 'string') {
    text = body
  } else {
    try {
      text = utf8.decode(body)
    } catch {
      throw new InvalidInputError('go-yaml load error in reader at <unknown position>: invalid UTF-8 input')
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  // The reference's reader rejects C0 controls (other than tab, LF, CR), U+FFFE/U+FFFF and
  // unpaired surrogates anywhere in the input.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x20 && c < 0xd800) continue
    let bad = (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
      else bad = true
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      bad = true
    }
    if (bad) throw new InvalidInputError(`go-yaml load error in reader at <unknown position>: control characters are not allowed (value: ${c})`)
  }
  return text
}

/**
 * The reference rejects `\u`/`\U` escapes of surrogate code points even when two of them would form
 * a pair (JSON style); the `yaml` library combines them, so look at the raw double-quoted text.
 */
function hasSurrogateEscape(raw: string): boolean {
  for (let i = raw.indexOf('\\'); i >= 0 && i < raw.length; i = raw.indexOf('\\', i)) {
    const kind = raw[i + 1]
    const len = kind === 'u' ? 4 : kind === 'U' ? 8 : 0
    if (len > 0) {
      const cp = Number.parseInt(raw.slice(i + 2, i + 2 + len), 16)
      if (cp >= 0xd800 && cp <= 0xdfff) return true
    }
    i += 2
  }
  return false
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

// ------------------------------------------------------------------------------------------------
// Library document → node tree

const TAG_TOKEN = /^!(?:<[^>]*>|[^\s,[\]{}]*)$/
const ANCHOR_TOKEN = /^&[^\s,[\]{}]+$/
const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

class TreeBuilder {
  private readonly anchors = new Map<string, YNode>()

  constructor(
    private readonly lc: LineCounter,
    private readonly src: string,
    private readonly maxDepth: number,
  ) {}

  /**
   * Position of a node as the reference reports it: where its properties (tag, anchor) start when
   * it has any, else where its content starts.
   */
  private pos(node: { range?: readonly number[] | null; tag?: string; anchor?: string }, fallback: Mark): Mark {
    let off = node.range?.[0]
    if (off === undefined) return fallback
    if (node.tag || node.anchor) off = this.propsStart(off)
    return this.lc.linePos(off)
  }

  private propsStart(off: number): number {
    let start = off
    for (let props = 0; props < 2; props++) {
      let i = start
      while (i > 0 && isSpace(this.src.charCodeAt(i - 1))) i--
      let j = i
      while (j > 0 && !isSpace(this.src.charCodeAt(j - 1))) j--
      const word = this.src.slice(j, i)
      if (!TAG_TOKEN.test(word) && !ANCHOR_TOKEN.test(word)) break
      start = j
    }
    return start
  }

  build(n: unknown, depth: number, fallback: Mark): YNode {
    if (n === null || n === undefined) {
      // An absent node (empty value or key) is an empty plain scalar, i.e. null.
      return { kind: 'scalar', tag: '', quoted: false, value: '', line: fallback.line, col: fallback.col, content: [] }
    }
    if (isAlias(n)) {
      const p = this.pos({ range: n.range }, fallback)
      const target = this.anchors.get(n.source)
      if (!target) throw fatal('composer', p.line, p.col, `unknown anchor '${n.source}' referenced`)
      return { kind: 'alias', tag: '', quoted: false, value: n.source, line: p.line, col: p.col, content: [], alias: target }
    }
    if (depth > this.maxDepth) {
      const p = this.pos({ range: (n as { range?: number[] }).range }, fallback)
      throw fatal('parser', p.line, p.col, `exceeded max depth of ${this.maxDepth}`)
    }
    if (isScalar(n)) {
      const p = this.pos(n, fallback)
      const value = typeof n.source === 'string' ? n.source : typeof n.value === 'string' ? n.value : ''
      const raw = n.type === 'QUOTE_DOUBLE' && n.range ? this.src.slice(n.range[0], n.range[1]) : ''
      if (LONE_SURROGATE.test(value) || hasSurrogateEscape(raw)) throw fatal('scanner', p.line, p.col, 'found invalid Unicode character escape code')
      const quoted = n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE' || n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED'
      // Plain scalars get their implicit type, like the reference resolver.
      const tag = n.tag ? shortTag(n.tag) : quoted ? STR : resolve('', value).tag
      const node: YNode = { kind: 'scalar', tag, quoted, value, line: p.line, col: p.col, content: [] }
      if (n.anchor) this.anchors.set(n.anchor, node)
      return node
    }
    if (isSeq(n)) {
      const p = this.pos(n, fallback)
      const node: YNode = { kind: 'seq', tag: n.tag ? shortTag(n.tag) : SEQ, quoted: false, value: '', line: p.line, col: p.col, content: [] }
      if (n.anchor) this.anchors.set(n.anchor, node)
      for (const item of n.items) node.content.push(this.build(item, depth + 1, p))
      return node
    }
    if (isMap(n)) {
      const p = this.pos(n, fallback)
      const node: YNode = { kind: 'map', tag: n.tag ? shortTag(n.tag) : MAP, quoted: false, value: '', line: p.line, col: p.col, content: [] }
      if (n.anchor) this.anchors.set(n.anchor, node)
      for (const pair of n.items) {
        if (!isPair(pair)) continue
        const k = this.build(pair.key, depth + 1, p)
        node.content.push(k)
        node.content.push(this.build(pair.value, depth + 1, { line: k.line, col: k.col }))
      }
      return node
    }
    throw fatal('composer', fallback.line, fallback.col, 'unsupported YAML node')
  }
}

// ------------------------------------------------------------------------------------------------
// Node predicates (the reference's view of a node's tag)

export function indicatedString(n: YNode): boolean {
  return n.kind === 'scalar' && (n.tag === STR || ((n.tag === '' || n.tag === '!') && n.quoted))
}

export function shortTagOf(n: YNode): string {
  if (indicatedString(n)) return STR
  if (n.tag === '' || n.tag === '!') {
    switch (n.kind) {
      case 'map':
        return MAP
      case 'seq':
        return SEQ
      case 'alias':
        return n.alias ? shortTagOf(n.alias) : ''
      case 'scalar':
        return STR
    }
  }
  return n.tag
}

export function isMerge(n: YNode): boolean {
  return n.kind === 'scalar' && n.tag === MERGE
}

export function isStringMap(n: YNode): boolean {
  for (let i = 0; i < n.content.length; i += 2) {
    const tag = shortTagOf(n.content[i] as YNode)
    if (tag !== STR && tag !== MERGE) return false
  }
  return true
}

// ------------------------------------------------------------------------------------------------
// Token stream with limits

/** Lexer tokens that may follow the first document without starting the next one. */
const TRIVIA: ReadonlySet<string | null> = new Set(['newline', 'space', 'comment', 'doc-end', 'doc-mode', 'byte-order-mark'])

/** Tokens that do not change what the next token means. */
const SKIPPED: ReadonlySet<string | null> = new Set(['newline', 'space', 'comment'])

/** Tokens that end a node: a `:` after one of them has a key. */
const ENDS_NODE: ReadonlySet<string> = new Set(['scalar-text', 'single-quoted-scalar', 'double-quoted-scalar', 'alias', 'flow-seq-end', 'flow-map-end'])

const at = (m: Mark): string => `L${m.line}.C${m.col}`

const COMPOSE_OPTIONS = { schema: 'failsafe', resolveKnownTags: false, uniqueKeys: false, prettyErrors: false } as const

/** Open collections looked at per key (a deeper document only gets a smaller lower bound). */
const INDENT_WINDOW = 64

/**
 * A lower bound of the indentation the canonical form gives the mapping key whose `:` is being
 * read: the canonical form is block style whatever the input's style, and a key k mappings deep
 * starts a line indented by at least 4·(k−1) columns (sequences only add to it; nested sequences
 * are written compactly, `- - x`, so they are not counted). Summed over all keys this bounds the
 * canonical size from below, so deep nesting repeated many times — megabytes of canonical
 * indentation from a small body — is refused before anything is built, not after emitting 4 MiB.
 */
function canonicalIndentOfKey(stack: readonly CST.Token[]): number {
  let maps = 0
  for (let i = stack.length - 1; i >= 0 && i >= stack.length - INDENT_WINDOW; i--) {
    const t = stack[i]!
    if (t.type === 'block-map' || (t.type === 'flow-collection' && t.start.source === '{')) maps++
  }
  return maps > 1 ? 4 * (maps - 1) : 0
}

/**
 * The first document of the stream, composed by the `yaml` library, with the token limits checked
 * as the lexer produces tokens: the parser never sees a token past a limit.
 */
function composeFirst(text: string, limits: ParseLimits, lc: LineCounter): Document.Parsed | undefined {
  const lexer = new Lexer()
  const parser = new Parser(lc.addNewLine)
  const composer = new Composer(COMPOSE_OPTIONS)
  let doc: Document.Parsed | undefined
  let documents = 0
  let nodes = 0
  let anchors = 0
  let aliases = 0
  /** a lower bound of the canonical form's size (canonicalIndentOfKey) */
  let indentation = 0
  let scalarText = false
  /** Type of the last token that is not white space or a comment. */
  let previous: string | null = null
  const mark = (): Mark => lc.linePos(parser.offset)
  const feed = (tokens: Generator<CST.Token>): void => {
    for (const token of tokens) {
      if (token.type === 'document') documents++
      for (const d of composer.next(token)) doc ??= d
    }
  }

  lc.addNewLine(0)
  let stopped = false
  for (const lexeme of lexer.lex(text, false)) {
    // The lexeme after a scalar marker is the scalar's text, whatever it looks like.
    const type: string | null = scalarText ? 'scalar-text' : CST.tokenType(lexeme)
    scalarText = type === 'scalar'
    if (documents > 0 && !TRIVIA.has(type)) {
      stopped = true
      break
    }
    switch (type) {
      case 'comma':
        // An empty flow entry is never valid YAML, and the library would build an error object for
        // each of a megabyte of commas before reporting the first.
        if (previous === 'comma' || previous === 'flow-seq-start' || previous === 'flow-map-start') {
          throw new InvalidInputError(`go-yaml load error in parser (while parsing a flow node) at ${at(mark())}: did not find expected node content`)
        }
        // `,` after `:`: an empty value
        nodes += previous === 'map-value-ind' ? 2 : 1
        if (nodes > limits.maxNodes) throw countError('nodes', limits.maxNodes, mark())
        break
      case 'map-value-ind':
        // `:` with no key before it: an empty key, and in a flow sequence a single-pair map, nodes
        // the lexer has no token for (`[: , : , …]` is a sequence of maps)
        nodes += previous !== null && ENDS_NODE.has(previous) ? 1 : 3
        if (nodes > limits.maxNodes) throw countError('nodes', limits.maxNodes, mark())
        indentation += canonicalIndentOfKey(parser.stack)
        if (indentation > limits.maxCanonicalBytes) {
          throw new InvalidInputError(`canonical schematic exceeds the size limit of ${limits.maxCanonicalBytes} bytes (its nesting alone would indent it beyond that, at ${at(mark())})`)
        }
        break
      case 'scalar':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case 'flow-map-start':
      case 'flow-seq-start':
      case 'seq-item-ind':
      case 'explicit-key-ind':
        if (++nodes > limits.maxNodes) throw countError('nodes', limits.maxNodes, mark())
        break
      case 'alias':
        if (++nodes > limits.maxNodes) throw countError('nodes', limits.maxNodes, mark())
        if (++aliases > limits.maxAliases) throw countError('aliases', limits.maxAliases, mark())
        break
      case 'anchor':
        if (++anchors > limits.maxAnchors) throw countError('anchors', limits.maxAnchors, mark())
        break
    }
    if (!SKIPPED.has(type)) previous = type
    feed(parser.next(lexeme))
    // The parser's stack holds the document, the open collections and at most one scalar.
    if (parser.stack.length > limits.maxDepth + 2) {
      const top = parser.stack[parser.stack.length - 1]
      throw depthError(limits, mark(), top?.type === 'flow-collection' ? 'flow' : 'indent')
    }
  }
  // Stopped at the next document: only a pending document end belongs to the first one.
  if (!stopped || parser.stack[parser.stack.length - 1]?.type === 'doc-end') feed(parser.end())
  for (const d of composer.end(false, text.length)) doc ??= d
  return doc
}

/** The first document as a node tree, or undefined for an empty stream. */
export function firstDocument(text: string, limits: ParseLimits): YNode | undefined {
  const lc = new LineCounter()
  let doc: Document.Parsed | undefined
  try {
    doc = composeFirst(text, limits, lc)
  } catch (err) {
    if (err instanceof InvalidInputError) throw err
    throw new InvalidInputError(`go-yaml load error in parser at <unknown position>: ${oneLine(err instanceof Error ? err.message : String(err))}`)
  }
  if (!doc) return undefined
  const err = doc.errors[0]
  if (err) {
    const p = err.linePos?.[0] ?? (err.pos?.[0] !== undefined ? lc.linePos(err.pos[0]) : undefined)
    const where = p ? `L${p.line}.C${p.col}` : '<unknown position>'
    throw new InvalidInputError(`go-yaml load error in parser at ${where}: ${oneLine(err.message)}`)
  }
  return new TreeBuilder(lc, text, limits.maxDepth).build(doc.contents, 0, { line: 1, col: 1 })
}
