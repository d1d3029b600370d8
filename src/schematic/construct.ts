/**
 * Stage 2 of decoding: node tree → Go-typed values, as the reference's decoder constructs the
 * schematic struct (strict fields, unique keys, YAML 1.1-flavoured scalars, merges, aliases) and
 * collects its construct errors.
 */
import { indicatedString, isMerge, isStringMap, shortTagOf, type YNode } from './compose.ts'
import { abbreviate, goQuote, goSharpV, isStringMapObject } from './go-text.ts'
import { decodeBase64, keyIdentity, toYamlScalar } from './go-values.ts'
import type { ParseLimits } from './limits.ts'
import { fatal, FatalLoad } from './load-error.ts'
import { BINARY, BOOL, FLOAT, INT, MAP, MERGE, NULL, OLD_BOOL_FALSE, OLD_BOOL_TRUE, resolve, ResolveError, SEQ, STR, TIMESTAMP } from './resolve.ts'
import type { Resolved } from './resolve.ts'
import { T_ANY, T_STRING, typeName, type Target } from './targets.ts'
import { YamlAnyMap } from './types.ts'
import type { BootloaderKind, YamlValue } from './types.ts'

/** Construct errors reported at most (the reference reports all of them). */
const MAX_ERRORS = 50

/** Struct values under construction: field name → value. */
export type StructValue = Map<string, Constructed>
/** Go-typed results of construction. */
export type Constructed = string | bigint | boolean | BootloaderKind | StructValue | Constructed[] | YamlValue | undefined

export type Result = { ok: true; v: Constructed } | { ok: false }
const FAIL: Result = { ok: false }
const ok = (v: Constructed): Result => ({ ok: true, v })

const BOOTLOADERS: ReadonlySet<string> = new Set(['none', 'dual-boot', 'sd-boot', 'grub'])
const UINT8_MAX = 255n
const UINT64_MAX = (1n << 64n) - 1n


export class Constructor {
  private readonly maxExpanded: number
  private readonly errors: string[] = []
  private constructCount = 0
  private aliasCount = 0
  private aliasDepth = 0
  private readonly activeAliases = new Set<YNode>()
  /** Keys already taken while merging (`<<`), or undefined outside a merge. */
  private mergedFields: Set<string> | undefined
  /** Key identity → entry index of each general map under construction. */
  private readonly anyMapIndex = new WeakMap<YamlAnyMap, Map<string, number>>()

  constructor(limits: Pick<ParseLimits, 'maxExpandedNodes'>) {
    this.maxExpanded = limits.maxExpandedNodes
  }

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
    if (this.constructCount > this.maxExpanded) {
      throw fatal('constructor', n.line, n.col, `document contains excessive aliasing (more than ${this.maxExpanded} nodes after expanding aliases)`)
    }
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
    // One pass without allocation per key finds the usual case, no duplicate at all.
    const scalars = new Set<string>()
    const others = new Set<string>()
    let duplicate = false
    for (let i = 0; i < n.content.length && !duplicate; i += 2) {
      const k = n.content[i] as YNode
      const seen = k.kind === 'scalar' ? scalars : others
      const id = k.kind === 'scalar' ? k.value : `${k.kind}\u0000${k.value}`
      if (seen.has(id)) duplicate = true
      else seen.add(id)
    }
    return duplicate ? this.reportDuplicateKeys(n) : true
  }

  /** The reference's errors: for each key, every later key equal to it. */
  private reportDuplicateKeys(n: YNode): boolean {
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
    // Kept per map: every merged mapping adds to the same map, and rebuilding the index for each
    // one made `<<: [*a, *a, …]` into a large map quadratic.
    let index = this.anyMapIndex.get(out)
    if (!index) {
      const fresh = new Map<string, number>()
      out.entries.forEach(([k], i) => fresh.set(keyIdentity(k), i))
      this.anyMapIndex.set(out, fresh)
      index = fresh
    }
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
