/**
 * What one schematic body may cost. A body is at most FACTORY_MAX_BODY_BYTES long, but the work a
 * YAML document causes is not proportional to its size: nesting drives recursion, aliases expand,
 * and 4-space canonical indentation can turn a few bytes of nesting into megabytes of output. Each
 * limit is checked before the work it bounds is done (the pre-scan, then the token stream, then
 * construction, then emission), and a body over any of them is a 400 naming the limit.
 *
 * Nothing a real schematic does comes near these numbers: the largest known ones have a few hundred
 * nodes, a depth below 10 and no anchors.
 */
import { InvalidInputError } from '../errors.ts'

export interface ParseLimits {
  /**
   * Deepest collection nesting, flow and block together. The reference stops at 10000 with
   * "exceeded max depth of 10000"; we use the same words with a lower number.
   */
  maxDepth: number
  /**
   * Scalars, aliases, collections and collection entries in the first document. Entries are
   * counted by their indicators (`-`, `?`, `:`, `,`), and the empty keys and values YAML allows
   * (`[: , : ]`) count as nodes too: a block mapping entry `key: value` counts 3, a JSON member
   * `"key": "value",` 4.
   */
  maxNodes: number
  /** Anchors (`&a`) in the first document. */
  maxAnchors: number
  /** Aliases (`*a`) in the first document. */
  maxAliases: number
  /** Nodes visited while constructing values, each alias expansion counted again. */
  maxExpandedNodes: number
  /** Size of the canonical YAML (what is hashed and stored). */
  maxCanonicalBytes: number
}

export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxDepth: 1000,
  maxNodes: 200_000,
  maxAnchors: 1000,
  maxAliases: 1000,
  maxExpandedNodes: 400_000,
  maxCanonicalBytes: 4 * 1024 * 1024,
})

/**
 * For reading stored schematics back: canonical YAML written by a factory (this one, an older
 * version of it, or the reference sharing an OCI store) has no anchors and was bounded when it was
 * created, so only the nesting limit (which guards the recursion) still applies; the time budget
 * of the parser pool bounds the rest.
 */
export const STORED_PARSE_LIMITS: Readonly<Partial<ParseLimits>> = Object.freeze({
  maxNodes: Number.POSITIVE_INFINITY,
  maxAnchors: Number.POSITIVE_INFINITY,
  maxAliases: Number.POSITIVE_INFINITY,
  maxExpandedNodes: Number.POSITIVE_INFINITY,
  maxCanonicalBytes: Number.POSITIVE_INFINITY,
})

export function withDefaults(limits: Partial<ParseLimits> | undefined): ParseLimits {
  return { ...DEFAULT_PARSE_LIMITS, ...limits }
}

/** Where a limit was crossed, as the reference writes positions (1-based). */
export interface Mark {
  line: number
  col: number
}

const at = (m: Mark): string => `L${m.line}.C${m.col}`

/** The reference's words for a nesting limit (its scanner checks flow and indentation levels apart). */
export function depthError(limits: ParseLimits, m: Mark, kind: 'flow' | 'indent'): InvalidInputError {
  return new InvalidInputError(`go-yaml load error in scanner (while increasing ${kind} level) at ${at(m)}: exceeded max depth of ${limits.maxDepth}`)
}

export function countError(what: 'nodes' | 'anchors' | 'aliases', limit: number, m: Mark): InvalidInputError {
  return new InvalidInputError(`document exceeds the limit of ${limit} ${what} (at ${at(m)})`)
}
