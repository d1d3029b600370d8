/**
 * Strict schematic decoding (factory-spec §4.2–4.3) with the reference's semantics: the reference
 * decodes the first YAML document into its Go struct with go-yaml v4 (known fields only, unique
 * keys, YAML 1.1-flavoured scalar resolution). The `yaml` library is used only for the syntax (node
 * tree, positions); tag resolution, typing and every error text are re-implemented here to match
 * the reference, because the canonical form (and so the schematic ID) depends on them.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml'
import { InvalidInputError } from '../errors.ts'
import {
  BINARY,
  BOOL,
  FLOAT,
  formatGoFloat,
  INT,
  MAP,
  MERGE,
  NULL,
  OLD_BOOL_FALSE,
  OLD_BOOL_TRUE,
  resolve,
  ResolveError,
  SEQ,
  STR,
  TIMESTAMP,
} from './resolve.ts'
import type { Resolved } from './resolve.ts'
import { YamlAnyMap, YamlFloat, YamlTimestamp } from './types.ts'
import type { BootloaderKind, Customization, MetaValue, Overlay, Schematic, YamlValue } from './types.ts'

/** Deepest collection nesting accepted (the reference allows 10000; nothing legitimate comes close). */
export const MAX_DEPTH = 1000
/** Upper bound on constructed nodes, alias expansion included. */
const MAX_CONSTRUCTS = 2_000_000
/** Construct errors reported at most (the reference reports all of them). */
const MAX_ERRORS = 50

// ------------------------------------------------------------------------------------------------
// Node tree (after composition and tag resolution, like the reference's yaml.Node)

interface YNode {
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

/** A load error that aborts decoding (the reference panics with these rather than collecting them). */
class FatalLoad extends Error {}

function fatal(stage: string, line: number, col: number, message: string): FatalLoad {
  const where = line > 0 ? (col > 0 ? `L${line}.C${col}` : `L${line}`) : '<unknown position>'
  return new FatalLoad(`go-yaml load error in ${stage} at ${where}: ${message}`)
}

function shortTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? '!!' + tag.slice('tag:yaml.org,2002:'.length) : tag
}

// ------------------------------------------------------------------------------------------------
// Stage 1: text → node tree

function decodeBody(body: string | Uint8Array): string {
  let text: string
  if (typeof body === 'string') {
    text = body
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body)
    } catch {
      throw new InvalidInputError('go-yaml load error in reader at <unknown position>: invalid UTF-8 input')
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  // The reference's reader rejects C0 controls (other than tab, LF, CR), U+FFFE/U+FFFF and
  // unpaired surrogates anywhere in the input.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
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
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== '\\') continue
    const kind = raw[i + 1]
    const len = kind === 'u' ? 4 : kind === 'U' ? 8 : 0
    if (len > 0) {
      const cp = Number.parseInt(raw.slice(i + 2, i + 2 + len), 16)
      if (cp >= 0xd800 && cp <= 0xdfff) return true
    }
    i++
  }
  return false
}

function hasLoneSurrogate(s: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)
}

const TAG_TOKEN = /^!(?:<[^>]*>|[^\s,[\]{}]*)$/
const ANCHOR_TOKEN = /^&[^\s,[\]{}]+$/

class Composer {
  private readonly anchors = new Map<string, YNode>()

  constructor(
    private readonly lc: LineCounter,
    private readonly src: string,
  ) {}

  /**
   * Position of a node as the reference reports it: where its properties (tag, anchor) start when
   * it has any, else where its content starts.
   */
  private pos(node: { range?: readonly number[] | null; tag?: string; anchor?: string }, fallback: { line: number; col: number }): { line: number; col: number } {
    let off = node.range?.[0]
    if (off === undefined) return fallback
    if (node.tag || node.anchor) off = this.propsStart(off)
    return this.lc.linePos(off)
  }

  private propsStart(off: number): number {
    let start = off
    for (let props = 0; props < 2; props++) {
      let i = start
      while (i > 0 && /\s/.test(this.src[i - 1] as string)) i--
      let j = i
      while (j > 0 && !/\s/.test(this.src[j - 1] as string)) j--
      const word = this.src.slice(j, i)
      if (!TAG_TOKEN.test(word) && !ANCHOR_TOKEN.test(word)) break
      start = j
    }
    return start
  }

  compose(n: unknown, depth: number, fallback: { line: number; col: number }): YNode {
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
    if (depth > MAX_DEPTH) {
      const p = this.pos({ range: (n as { range?: number[] }).range }, fallback)
      throw fatal('parser', p.line, p.col, `exceeded max depth of ${MAX_DEPTH}`)
    }
    if (isScalar(n)) {
      const p = this.pos(n, fallback)
      const value = typeof n.source === 'string' ? n.source : typeof n.value === 'string' ? n.value : ''
      const raw = n.type === 'QUOTE_DOUBLE' && n.range ? this.src.slice(n.range[0], n.range[1]) : ''
      if (hasLoneSurrogate(value) || hasSurrogateEscape(raw)) throw fatal('scanner', p.line, p.col, 'found invalid Unicode character escape code')
      const quoted = n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE' || n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED'
      const node: YNode = { kind: 'scalar', tag: n.tag ? shortTag(n.tag) : '', quoted, value, line: p.line, col: p.col, content: [] }
      if (n.anchor) this.anchors.set(n.anchor, node)
      return node
    }
    if (isSeq(n)) {
      const p = this.pos(n, fallback)
      const node: YNode = { kind: 'seq', tag: n.tag ? shortTag(n.tag) : '', quoted: false, value: '', line: p.line, col: p.col, content: [] }
      if (n.anchor) this.anchors.set(n.anchor, node)
      for (const item of n.items) node.content.push(this.compose(item, depth + 1, p))
      return node
    }
    if (isMap(n)) {
      const p = this.pos(n, fallback)
      const node: YNode = { kind: 'map', tag: n.tag ? shortTag(n.tag) : '', quoted: false, value: '', line: p.line, col: p.col, content: [] }
      if (n.anchor) this.anchors.set(n.anchor, node)
      for (const pair of n.items) {
        if (!isPair(pair)) continue
        const k = this.compose(pair.key, depth + 1, p)
        node.content.push(k)
        node.content.push(this.compose(pair.value, depth + 1, { line: k.line, col: k.col }))
      }
      return node
    }
    throw fatal('composer', fallback.line, fallback.col, 'unsupported YAML node')
  }
}

/** Assigns default tags like the reference resolver (plain scalars get their implicit type). */
function resolveTags(n: YNode, depth = 0): void {
  if (n.kind === 'scalar') {
    if (n.tag === '') n.tag = n.quoted ? STR : resolve('', n.value).tag
    return
  }
  if (n.kind === 'seq' && n.tag === '') n.tag = SEQ
  if (n.kind === 'map' && n.tag === '') n.tag = MAP
  for (const c of n.content) resolveTags(c, depth + 1)
}

function firstDocument(text: string): YNode | undefined {
  const lc = new LineCounter()
  let docs: ReturnType<typeof parseAllDocuments>
  try {
    docs = parseAllDocuments(text, { schema: 'failsafe', resolveKnownTags: false, lineCounter: lc, uniqueKeys: false, prettyErrors: false })
  } catch (err) {
    throw new InvalidInputError(`go-yaml load error in parser at <unknown position>: ${oneLine(err instanceof Error ? err.message : String(err))}`)
  }
  if (!Array.isArray(docs) || docs.length === 0) return undefined
  const doc = docs[0]
  if (!doc) return undefined
  const err = doc.errors[0]
  if (err) {
    const p = err.linePos?.[0] ?? (err.pos?.[0] !== undefined ? lc.linePos(err.pos[0]) : undefined)
    const where = p ? `L${p.line}.C${p.col}` : '<unknown position>'
    throw new InvalidInputError(`go-yaml load error in parser at ${where}: ${oneLine(err.message)}`)
  }
  const root = new Composer(lc, text).compose(doc.contents, 0, { line: 1, col: 1 })
  resolveTags(root)
  return root
}

function oneLine(msg: string): string {
  const first = (msg.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '').trim()
  return first.replace(/[\u0000-\u001f\u007f]/g, ' ')
}

// ------------------------------------------------------------------------------------------------
// Stage 2: node tree → typed values (the reference's constructor, for the schematic's Go types)

type Target =
  | { k: 'struct'; name: string; fields: ReadonlyMap<string, Target> }
  | { k: 'string' }
  | { k: 'uint8' }
  | { k: 'uint' }
  | { k: 'bool' }
  | { k: 'slice'; name: string; elem: Target }
  | { k: 'bootloader' }
  | { k: 'mapStrAny' }
  /** An existing general map that a merge (`<<`) adds to. */
  | { k: 'generalMap' }
  | { k: 'any' }

const T_STRING: Target = { k: 'string' }
const T_ANY: Target = { k: 'any' }
const T_STRINGS: Target = { k: 'slice', name: '[]string', elem: T_STRING }

const T_OVERLAY: Target = {
  k: 'struct',
  name: 'schematic.Overlay',
  fields: new Map<string, Target>([
    ['image', T_STRING],
    ['name', T_STRING],
    ['options', { k: 'mapStrAny' }],
  ]),
}
const T_META: Target = {
  k: 'struct',
  name: 'schematic.MetaValue',
  fields: new Map<string, Target>([
    ['key', { k: 'uint8' }],
    ['value', T_STRING],
  ]),
}
const T_CUSTOMIZATION: Target = {
  k: 'struct',
  name: 'schematic.Customization',
  fields: new Map<string, Target>([
    ['embeddedMachineConfiguration', T_STRING],
    ['extraKernelArgs', T_STRINGS],
    ['meta', { k: 'slice', name: '[]schematic.MetaValue', elem: T_META }],
    ['systemExtensions', { k: 'struct', name: 'schematic.SystemExtensions', fields: new Map([['officialExtensions', T_STRINGS]]) }],
    ['bootloader', { k: 'bootloader' }],
    [
      'secureboot',
      {
        k: 'struct',
        name: 'schematic.SecureBootCustomization',
        fields: new Map<string, Target>([
          ['enrollKeys', T_STRING],
          ['includeWellKnownCertificates', { k: 'bool' }],
        ]),
      },
    ],
    ['diskImage', { k: 'struct', name: 'schematic.DiskImageCustomization', fields: new Map<string, Target>([['sectorSize', { k: 'uint' }]]) }],
  ]),
}
const T_SCHEMATIC: Target = {
  k: 'struct',
  name: 'schematic.Schematic',
  fields: new Map<string, Target>([
    ['owner', T_STRING],
    ['overlay', T_OVERLAY],
    ['customization', T_CUSTOMIZATION],
  ]),
}

function typeName(t: Target): string {
  switch (t.k) {
    case 'struct':
    case 'slice':
      return t.name
    case 'string':
    case 'uint8':
    case 'uint':
    case 'bool':
      return t.k
    case 'bootloader':
      return 'imageropts.BootloaderKind'
    case 'mapStrAny':
      return 'map[string]interface {}'
    case 'generalMap':
      return 'map[interface {}]interface {}'
    case 'any':
      return 'interface {}'
  }
}

/** Struct values under construction: field name → value. */
type StructValue = Map<string, Constructed>
/** Go-typed results of construction. */
type Constructed = string | bigint | boolean | BootloaderKind | StructValue | Constructed[] | YamlValue | undefined

type Result = { ok: true; v: Constructed } | { ok: false }
const FAIL: Result = { ok: false }
const ok = (v: Constructed): Result => ({ ok: true, v })

const BOOTLOADERS: ReadonlySet<string> = new Set(['none', 'dual-boot', 'sd-boot', 'grub'])
const UINT8_MAX = 255n
const UINT64_MAX = (1n << 64n) - 1n

/** Go strconv.Quote (used by the duplicate-key message). */
function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0
    switch (ch) {
      case '"':
        out += '\\"'
        continue
      case '\\':
        out += '\\\\'
        continue
      case '\x07':
        out += '\\a'
        continue
      case '\b':
        out += '\\b'
        continue
      case '\f':
        out += '\\f'
        continue
      case '\n':
        out += '\\n'
        continue
      case '\r':
        out += '\\r'
        continue
      case '\t':
        out += '\\t'
        continue
      case '\v':
        out += '\\v'
        continue
    }
    if (ch === ' ' || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch
    else if (cp < 0x80) out += '\\x' + cp.toString(16).padStart(2, '0')
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0')
    else out += '\\U' + cp.toString(16).padStart(8, '0')
  }
  return out + '"'
}

/** First 7 bytes of a long value, as the reference abbreviates values in type errors. */
function abbreviate(value: string): string {
  const bytes = new TextEncoder().encode(value)
  if (bytes.length <= 10) return value
  return new TextDecoder().decode(bytes.slice(0, 7)) + '...'
}

function decodeBase64(value: string): string | undefined {
  const s = value.replace(/[\r\n]/g, '')
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined
  let bytes: Uint8Array
  try {
    bytes = Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
  } catch {
    return undefined
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new InvalidInputError('!!binary data that is not valid UTF-8 text is not supported')
  }
}

/** Canonical identity of a Go map key, for merge bookkeeping. */
let nanCounter = 0
function keyIdentity(v: YamlValue): string {
  if (v === null) return 'n'
  if (typeof v === 'boolean') return `b:${v}`
  if (typeof v === 'string') return `s:${v}`
  if (typeof v === 'bigint') return `i:${v}`
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return `i:${v}`
    if (Number.isNaN(v)) return `nan:${nanCounter++}`
    return `f:${v}`
  }
  if (v instanceof YamlFloat) return `f:${Object.is(v.value, -0) ? '-0' : v.value}`
  if (v instanceof YamlTimestamp) return `t:${v.text}`
  return `o:${nanCounter++}`
}

function toYamlScalar(r: Resolved): YamlValue {
  switch (r.t) {
    case 'null':
    case 'merge':
      return null
    case 'bool':
      return r.v
    case 'int':
      return r.v >= BigInt(Number.MIN_SAFE_INTEGER) && r.v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.v) : r.v
    case 'uint':
      return r.v
    case 'float':
      return Number.isInteger(r.v) ? new YamlFloat(r.v) : r.v
    case 'str':
      return r.v
    case 'timestamp':
      return new YamlTimestamp(r.v.text)
  }
}

class Constructor {
  private readonly errors: string[] = []
  private constructCount = 0
  private aliasCount = 0
  private aliasDepth = 0
  private readonly activeAliases = new Set<YNode>()
  /** Keys already taken while merging (`<<`), or undefined outside a merge. */
  private mergedFields: Set<string> | undefined

  errorList(): string[] {
    return this.errors
  }

  private typeError(n: YNode, message: string): void {
    if (this.errors.length >= MAX_ERRORS) return
    this.errors.push(n.line > 0 ? `line ${n.line}: ${message}` : `<unknown position>: ${message}`)
  }

  private tagError(n: YNode, tag: string, t: Target): void {
    if (n.tag !== '') tag = n.tag
    const value = tag !== SEQ && tag !== MAP ? ` \`${abbreviate(n.value)}\`` : ''
    this.typeError(n, `cannot construct ${tag}${value} into ${typeName(t)}`)
  }

  private checkAliasing(n: YNode): void {
    this.constructCount++
    if (this.aliasDepth > 0) this.aliasCount++
    if (this.constructCount > MAX_CONSTRUCTS) throw fatal('constructor', n.line, n.col, 'document is too large')
    const a = this.aliasCount
    const c = this.constructCount
    if (a <= 100 || c <= 1000) return
    let allowed: number
    if (c <= 400_000) allowed = 0.99
    else if (c >= 4_000_000) allowed = 0.1
    else allowed = 0.99 - 0.89 * ((c - 400_000) / 3_600_000)
    if (a / c > allowed) throw fatal('constructor', n.line, n.col, 'document contains excessive aliasing')
  }

  construct(n: YNode, t: Target, into?: Constructed): Result {
    this.checkAliasing(n)
    if (n.kind === 'alias') {
      if (this.activeAliases.has(n)) throw fatal('composer', n.line, n.col, `anchor '${n.value}' value contains itself`)
      const target = n.alias
      if (!target) throw fatal('composer', n.line, n.col, `unknown anchor '${n.value}' referenced`)
      this.activeAliases.add(n)
      this.aliasDepth++
      try {
        return this.construct(target, t, into)
      } finally {
        this.aliasDepth--
        this.activeAliases.delete(n)
      }
    }
    if (t.k === 'bootloader' && n.kind !== 'scalar') {
      this.typeError(n, `cannot construct ${n.tag} into imageropts.BootloaderKind (TextUnmarshaler)`)
      return FAIL
    }
    switch (n.kind) {
      case 'scalar':
        return this.scalar(n, t)
      case 'seq':
        return this.sequence(n, t)
      case 'map':
        return this.mapping(n, t, into)
    }
  }

  private null(t: Target): Result {
    switch (t.k) {
      case 'any':
        return ok(null)
      case 'slice':
      case 'mapStrAny':
      case 'generalMap':
        return ok(undefined)
      default:
        return FAIL
    }
  }

  private scalar(n: YNode, t: Target): Result {
    let tag: string
    let r: Resolved
    if (indicatedString(n)) {
      tag = STR
      r = { t: 'str', v: n.value }
    } else {
      try {
        const res = resolve(n.tag, n.value)
        tag = res.tag
        r = res.value
      } catch (err) {
        if (err instanceof ResolveError) throw fatal('resolver', 0, 0, err.message)
        throw err
      }
      if (tag === BINARY) {
        const decoded = decodeBase64(r.t === 'str' ? r.v : n.value)
        if (decoded === undefined) throw fatal('constructor', n.line, n.col, '!!binary value contains invalid base64 data')
        r = { t: 'str', v: decoded }
      }
    }
    if (r.t === 'null') return this.null(t)

    // Fast path: the resolved Go value already has the target type.
    if (t.k === 'string' && r.t === 'str') return ok(r.v)
    if (t.k === 'string' && r.t === 'merge') return ok('<<')
    if (t.k === 'bool' && r.t === 'bool') return ok(r.v)

    if (t.k === 'bootloader') {
      const text = tag === BINARY && r.t === 'str' ? r.v : n.value
      const kind = BOOTLOADERS.has(text) ? text : text.toLowerCase()
      if (!BOOTLOADERS.has(kind)) {
        this.typeError(n, `${text} does not belong to BootloaderKind values`)
        return FAIL
      }
      return ok(kind)
    }

    switch (tag) {
      case STR:
        if (t.k === 'string') return ok(n.value)
        if (t.k === 'bool') {
          if (OLD_BOOL_TRUE.has(n.value)) return ok(true)
          if (OLD_BOOL_FALSE.has(n.value)) return ok(false)
        }
        if (t.k === 'any') return ok(toYamlScalar(r))
        break
      case INT:
        if ((t.k === 'uint8' || t.k === 'uint') && (r.t === 'int' || r.t === 'uint')) {
          const max = t.k === 'uint8' ? UINT8_MAX : UINT64_MAX
          if (r.v >= 0n && r.v <= max) return ok(r.v)
        }
        if (t.k === 'string') return ok(n.value)
        if (t.k === 'any') return ok(toYamlScalar(r))
        break
      case BOOL:
        if (t.k === 'string') return ok(n.value)
        if (t.k === 'any') return ok(toYamlScalar(r))
        break
      case FLOAT:
        if ((t.k === 'uint8' || t.k === 'uint') && r.t === 'float') {
          const max = t.k === 'uint8' ? 255 : 2 ** 64
          if (r.v >= 0 && r.v < max && Number.isInteger(r.v)) return ok(BigInt(r.v))
        }
        if (t.k === 'string') return ok(n.value)
        if (t.k === 'any') return ok(toYamlScalar(r))
        break
      case NULL:
        return this.null(t)
      case TIMESTAMP:
        if (t.k === 'any') return ok(toYamlScalar(r))
        break
      case BINARY:
        if (t.k === 'string' || t.k === 'any') return ok(r.t === 'str' ? r.v : n.value)
        break
      case MERGE:
        // A merge key used as a value constructs into nothing, silently.
        return FAIL
      default:
        // Unknown (custom) tag: only a free-form target takes the text.
        if (t.k === 'any') return ok(n.value)
    }
    this.tagError(n, tag, t)
    return FAIL
  }

  private sequence(n: YNode, t: Target): Result {
    if (t.k === 'slice') {
      const items: Constructed[] = []
      for (const c of n.content) {
        const r = this.construct(c, t.elem)
        if (r.ok) items.push(r.v)
      }
      return ok(items)
    }
    if (t.k === 'any') {
      const items: YamlValue[] = []
      for (const c of n.content) {
        const r = this.construct(c, T_ANY)
        if (r.ok) items.push(r.v as YamlValue)
      }
      return ok(items)
    }
    this.tagError(n, SEQ, t)
    return FAIL
  }

  private checkUniqueKeys(n: YNode): boolean {
    const before = this.errors.length
    const groups = new Map<string, number[]>()
    const keys: YNode[] = []
    for (let i = 0; i < n.content.length; i += 2) keys.push(n.content[i] as YNode)
    keys.forEach((k, i) => {
      const id = `${k.kind}\u0000${k.value}`
      const g = groups.get(id)
      if (g) g.push(i)
      else groups.set(id, [i])
    })
    let found = false
    for (let i = 0; i < keys.length && this.errors.length < MAX_ERRORS; i++) {
      const ki = keys[i] as YNode
      const g = groups.get(`${ki.kind}\u0000${ki.value}`) ?? []
      if (g.length < 2) continue
      found = true
      for (const j of g) {
        if (j <= i) continue
        if (this.errors.length >= MAX_ERRORS) break
        const kj = keys[j] as YNode
        this.typeError(kj, `mapping key ${goQuote(kj.value)} already defined at line ${ki.line}`)
      }
    }
    return !found && this.errors.length === before
  }

  private mapping(n: YNode, t: Target, into: Constructed): Result {
    if (!this.checkUniqueKeys(n)) return FAIL
    switch (t.k) {
      case 'struct':
        return this.mappingStruct(n, t, into instanceof Map ? into : new Map())
      case 'mapStrAny':
        return this.mappingStringMap(n, isStringMapObject(into) ? into : Object.create(null), into === undefined)
      case 'any':
        return isStringMap(n) ? this.mappingStringMap(n, Object.create(null), false) : this.mappingAnyMap(n, new YamlAnyMap([]))
      case 'generalMap':
        return this.mappingAnyMap(n, into instanceof YamlAnyMap ? into : new YamlAnyMap([]))
      default:
        this.tagError(n, MAP, t)
        return FAIL
    }
  }

  private mappingStruct(n: YNode, t: Extract<Target, { k: 'struct' }>, out: StructValue): Result {
    const merged = this.mergedFields
    this.mergedFields = undefined
    let mergeNode: YNode | undefined
    const done = new Set<string>()
    for (let i = 0; i < n.content.length; i += 2) {
      const k = n.content[i] as YNode
      const v = n.content[i + 1] as YNode
      if (isMerge(k)) {
        mergeNode = v
        continue
      }
      const kr = this.construct(k, T_STRING)
      if (!kr.ok || typeof kr.v !== 'string') continue
      const name = kr.v
      if (merged) {
        if (merged.has(`s:${name}`)) continue
        merged.add(`s:${name}`)
      }
      const field = t.fields.get(name)
      if (field) {
        if (done.has(name)) {
          this.typeError(k, `field ${name} already set in type ${t.name}`)
          continue
        }
        done.add(name)
        const r = this.construct(v, field, out.get(name))
        if (r.ok) out.set(name, r.v)
      } else {
        this.typeError(k, `field ${name} not found in type ${t.name}`)
      }
    }
    this.mergedFields = merged
    if (mergeNode) this.merge(n, mergeNode, t, out)
    return ok(out)
  }

  private mappingStringMap(n: YNode, out: { [key: string]: YamlValue }, isNew: boolean): Result {
    const merged = this.mergedFields
    this.mergedFields = undefined
    let mergeNode: YNode | undefined
    for (let i = 0; i < n.content.length; i += 2) {
      const k = n.content[i] as YNode
      const v = n.content[i + 1] as YNode
      if (isMerge(k)) {
        mergeNode = v
        continue
      }
      const kr = this.construct(k, T_STRING)
      if (!kr.ok || typeof kr.v !== 'string') continue
      const key = kr.v
      if (merged) {
        if (merged.has(`s:${key}`)) continue
        merged.add(`s:${key}`)
      }
      const r = this.construct(v, T_ANY)
      if (r.ok) out[key] = r.v as YamlValue
      else if (shortTagOf(v) === NULL && (isNew || !Object.hasOwn(out, key))) out[key] = null
    }
    this.mergedFields = merged
    if (mergeNode) this.merge(n, mergeNode, { k: 'mapStrAny' }, out)
    return ok(out)
  }

  private mappingAnyMap(n: YNode, out: YamlAnyMap): Result {
    const merged = this.mergedFields
    this.mergedFields = undefined
    let mergeNode: YNode | undefined
    const index = new Map<string, number>()
    out.entries.forEach(([k], i) => index.set(keyIdentity(k), i))
    for (let i = 0; i < n.content.length; i += 2) {
      const k = n.content[i] as YNode
      const v = n.content[i + 1] as YNode
      if (isMerge(k)) {
        mergeNode = v
        continue
      }
      const kr = this.construct(k, T_ANY)
      if (!kr.ok) continue
      const key = kr.v as YamlValue
      const id = keyIdentity(key)
      if (merged) {
        if (merged.has(id)) continue
        merged.add(id)
      }
      if (Array.isArray(key) || isStringMapObject(key) || key instanceof YamlAnyMap) {
        throw fatal('constructor', k.line, k.col, `cannot use '${goSharpV(key)}' as a map key; try decoding into yaml.Node`)
      }
      const r = this.construct(v, T_ANY)
      if (!r.ok) continue
      const at = index.get(id)
      if (at === undefined) {
        index.set(id, out.entries.length)
        out.entries.push([key, r.v as YamlValue])
      } else {
        out.entries[at] = [key, r.v as YamlValue]
      }
    }
    this.mergedFields = merged
    if (mergeNode) this.merge(n, mergeNode, { k: 'generalMap' }, out)
    return ok(out)
  }

  private merge(parent: YNode, mergeNode: YNode, t: Target, out: Constructed): void {
    const saved = this.mergedFields
    if (saved === undefined) {
      const taken = new Set<string>()
      for (let i = 0; i < parent.content.length; i += 2) {
        const r = this.construct(parent.content[i] as YNode, T_ANY)
        if (r.ok) taken.add(keyIdentity(r.v as YamlValue))
      }
      this.mergedFields = taken
    }
    const wantMap = (m: YNode): FatalLoad => fatal('constructor', m.line, m.col, 'map merge requires map or sequence of maps as the value')
    const into = (m: YNode): void => {
      this.construct(m, t, out)
    }
    switch (mergeNode.kind) {
      case 'map':
        into(mergeNode)
        break
      case 'alias':
        if (mergeNode.alias && mergeNode.alias.kind !== 'map') throw wantMap(mergeNode.alias)
        into(mergeNode)
        break
      case 'seq':
        for (const item of mergeNode.content) {
          if (item.kind === 'alias') {
            if (item.alias && item.alias.kind !== 'map') throw wantMap(item.alias)
          } else if (item.kind !== 'map') {
            throw wantMap(item)
          }
          into(item)
        }
        break
      default:
        throw wantMap(mergeNode)
    }
    this.mergedFields = saved
  }

}

/** Go's `%#v` rendering of a decoded value (used in one error message). */
function goSharpV(v: YamlValue, inInterface = false): string {
  if (v === null) return inInterface ? 'interface {}(nil)' : '<nil>'
  if (typeof v === 'string') return goQuote(v)
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : formatGoFloat(v)
  if (v instanceof YamlFloat) return formatGoFloat(v.value)
  if (v instanceof YamlTimestamp) return v.text
  if (Array.isArray(v)) return `[]interface {}{${v.map((x) => goSharpV(x, true)).join(', ')}}`
  if (v instanceof YamlAnyMap) return `map[interface {}]interface {}{${v.entries.map(([k, x]) => `${goSharpV(k, true)}:${goSharpV(x, true)}`).join(', ')}}`
  const keys = Object.keys(v).sort()
  return `map[string]interface {}{${keys.map((k) => `${goQuote(k)}:${goSharpV(v[k] as YamlValue, true)}`).join(', ')}}`
}

function isStringMapObject(v: unknown): v is { [key: string]: YamlValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof YamlAnyMap) && !(v instanceof YamlFloat) && !(v instanceof YamlTimestamp)
}

function indicatedString(n: YNode): boolean {
  return n.kind === 'scalar' && (n.tag === STR || ((n.tag === '' || n.tag === '!') && n.quoted))
}

function shortTagOf(n: YNode): string {
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

function isMerge(n: YNode): boolean {
  return n.kind === 'scalar' && n.tag === MERGE
}

function isStringMap(n: YNode): boolean {
  for (let i = 0; i < n.content.length; i += 2) {
    const tag = shortTagOf(n.content[i] as YNode)
    if (tag !== STR && tag !== MERGE) return false
  }
  return true
}

// ------------------------------------------------------------------------------------------------
// Stage 3: typed struct values → Schematic

function str(v: Constructed): string {
  return typeof v === 'string' ? v : ''
}

function struct(v: Constructed): StructValue {
  return v instanceof Map ? v : new Map()
}

function strings(v: Constructed): string[] {
  const out: string[] = []
  if (Array.isArray(v)) for (const x of v as readonly unknown[]) if (typeof x === 'string') out.push(x)
  return out
}

function toSchematic(root: StructValue): Schematic {
  const s: Schematic = { customization: {} }
  const owner = str(root.get('owner'))
  if (owner) s.owner = owner

  const ov = struct(root.get('overlay'))
  const overlay: Overlay = { image: str(ov.get('image')), name: str(ov.get('name')) }
  const options = ov.get('options')
  if (isStringMapObject(options) && Object.keys(options).length > 0) overlay.options = options
  if (overlay.image || overlay.name || overlay.options) s.overlay = overlay

  const c = struct(root.get('customization'))
  const cust: Customization = {}
  const emc = str(c.get('embeddedMachineConfiguration'))
  if (emc) cust.embeddedMachineConfiguration = emc
  const args = strings(c.get('extraKernelArgs'))
  if (args.length > 0) cust.extraKernelArgs = args
  const metaRaw = c.get('meta')
  if (Array.isArray(metaRaw) && metaRaw.length > 0) {
    cust.meta = metaRaw.map((m): MetaValue => {
      const mv = struct(m)
      const key = mv.get('key')
      return { key: typeof key === 'bigint' ? Number(key) : 0, value: str(mv.get('value')) }
    })
  }
  const ext = strings(struct(c.get('systemExtensions')).get('officialExtensions'))
  if (ext.length > 0) cust.systemExtensions = { officialExtensions: ext }
  const bl = c.get('bootloader')
  if (bl === 'dual-boot' || bl === 'sd-boot' || bl === 'grub') cust.bootloader = bl
  const sb = struct(c.get('secureboot'))
  const enrollKeys = str(sb.get('enrollKeys'))
  const wellKnown = sb.get('includeWellKnownCertificates') === true
  if (enrollKeys || wellKnown) {
    cust.secureboot = {}
    if (enrollKeys) cust.secureboot.enrollKeys = enrollKeys
    if (wellKnown) cust.secureboot.includeWellKnownCertificates = true
  }
  const sector = struct(c.get('diskImage')).get('sectorSize')
  if (typeof sector === 'bigint' && sector > 0n) {
    if (sector > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidInputError(`diskImage.sectorSize ${sector} is too large`)
    cust.diskImage = { sectorSize: Number(sector) }
  }
  s.customization = cust
  return s
}

/**
 * Decode a schematic body (YAML or JSON) strictly, with the reference's semantics and error texts.
 * Throws InvalidInputError with a one-line reason on any failure.
 */
export function parseSchematic(body: string | Uint8Array): Schematic {
  try {
    const root = firstDocument(decodeBody(body))
    if (!root) throw new InvalidInputError('EOF')
    const ctor = new Constructor()
    const r = ctor.construct(root, T_SCHEMATIC)
    const errors = ctor.errorList()
    if (errors.length > 0) throw new InvalidInputError(`yaml: construct errors: ${errors.join('; ')}`)
    return toSchematic(r.ok ? struct(r.v) : new Map())
  } catch (err) {
    if (err instanceof InvalidInputError) throw err
    if (err instanceof FatalLoad) throw new InvalidInputError(err.message)
    if (err instanceof RangeError) throw new InvalidInputError(`go-yaml load error in parser at <unknown position>: exceeded max depth of ${MAX_DEPTH}`)
    throw err
  }
}

/**
 * Decode a free-form YAML value (for example the wizard's overlay-options text) the way the
 * reference decodes YAML into Go `any`.
 */
export function parseYamlValue(body: string): YamlValue {
  try {
    const root = firstDocument(decodeBody(body))
    if (!root) return null
    const ctor = new Constructor()
    const r = ctor.construct(root, T_ANY)
    const errors = ctor.errorList()
    if (errors.length > 0) throw new InvalidInputError(`yaml: construct errors: ${errors.join('; ')}`)
    return r.ok ? (r.v as YamlValue) : null
  } catch (err) {
    if (err instanceof InvalidInputError) throw err
    if (err instanceof FatalLoad) throw new InvalidInputError(err.message)
    if (err instanceof RangeError) throw new InvalidInputError(`go-yaml load error in parser at <unknown position>: exceeded max depth of ${MAX_DEPTH}`)
    throw err
  }
}
