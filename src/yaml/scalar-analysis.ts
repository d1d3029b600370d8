/**
 * What the reference emitter decides from a scalar's characters alone (libyaml's
 * `analyze_scalar`): which styles a value allows, its width in columns and UTF-8 bytes, and the
 * escapes of double-quoted text. Split from ./emitter.ts, which applies it.
 *
 * Written from the behaviour described in factory-spec §4.4 and observed in the reference
 * library; no code is copied.
 */
import { isBlank, isBreak, isPrintable } from './resolve.ts'

// ------------------------------------------------------------------------------------------------
// Code points

/** Go's unicode.IsSpace. */
export function isGoSpace(cp: number): boolean {
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
export function codePoints(s: string): number[] {
  const out: number[] = []
  for (const ch of s.toWellFormed()) out.push(ch.codePointAt(0) ?? 0xfffd)
  return out
}

// ------------------------------------------------------------------------------------------------
// Scalar analysis (what the reference's `analyze_scalar` allows for a value)

export interface Analysis {
  multiline: boolean
  flowPlain: boolean
  blockPlain: boolean
  singleQuoted: boolean
  block: boolean
  /** Code points in the value (the emitter's column counts them). */
  length: number
  /** UTF-8 length (a simple key is at most 128 bytes). */
  bytes: number
  /** The value has no line break, no surrogate and no character the emitter escapes or folds. */
  simple: boolean
}

/** The emitter's blank-or-break-or-end test (NUL counts as the end of the value). */
const isBlankZ = (cp: number): boolean => cp === -1 || cp === 0 || isBlank(cp) || isBreak(cp)

/** UTF-8 length of a well-formed string. */
export function utf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** Block (b) and flow (f) indicator classes of ASCII characters at the start / inside a value. */
const FIRST_BOTH = new Set('#,[]{}&*!|>\'"%@`'.split('').map((c) => c.charCodeAt(0)))
const INNER_FLOW = new Set(',?[]{}'.split('').map((c) => c.charCodeAt(0)))

/**
 * What the reference's `analyze_scalar` allows for a (well-formed) value: one pass over its code
 * points, looking one ahead.
 */
export function analyzeScalar(s: string): Analysis {
  if (s.length === 0) return { multiline: false, flowPlain: false, blockPlain: true, singleQuoted: true, block: false, length: 0, bytes: 0, simple: true }
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
  let simple = true

  if (s.startsWith('---') || s.startsWith('...')) {
    blockIndicators = true
    flowIndicators = true
  }

  let precededByWhitespace = true
  let length = 0
  let bytes = 0
  const n = s.length
  let i = 0
  let c = s.codePointAt(0) as number
  while (c !== -1) {
    const w = c > 0xffff ? 2 : 1
    const next = i + w < n ? (s.codePointAt(i + w) as number) : -1
    const first = i === 0
    const last = next === -1
    const followedByWhitespace = isBlankZ(next)
    length++
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4
    if (first) {
      if (FIRST_BOTH.has(c)) {
        flowIndicators = true
        blockIndicators = true
      } else if (c === 0x3f || c === 0x3a) {
        flowIndicators = true
        if (followedByWhitespace) blockIndicators = true
      } else if (c === 0x2d) {
        if (followedByWhitespace) {
          flowIndicators = true
          blockIndicators = true
        }
      }
    } else {
      if (INNER_FLOW.has(c)) {
        flowIndicators = true
      } else if (c === 0x3a) {
        flowIndicators = true
        if (followedByWhitespace) blockIndicators = true
      } else if (c === 0x23) {
        if (precededByWhitespace) {
          flowIndicators = true
          blockIndicators = true
        }
      }
    }

    if (c === 0x09) tabCharacters = true
    else if (!isPrintable(c)) specialCharacters = true
    if (c > 0x7e || c < 0x20) simple = false

    if (c === 0x20) {
      if (first) leadingSpace = true
      if (last) trailingSpace = true
      if (previousBreak) breakSpace = true
      previousSpace = true
      previousBreak = false
    } else if (isBreak(c)) {
      lineBreaks = true
      if (first) leadingBreak = true
      if (last) trailingBreak = true
      if (previousSpace) spaceBreak = true
      previousSpace = false
      previousBreak = true
    } else {
      previousSpace = false
      previousBreak = false
    }
    precededByWhitespace = isBlankZ(c)
    i += w
    c = next
  }

  const a: Analysis = { multiline: lineBreaks, flowPlain: true, blockPlain: true, singleQuoted: true, block: true, length, bytes, simple }
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

/** The escape letter of a double-quoted character, or its hex escape. */
export function doubleEscape(cp: number): string {
  switch (cp) {
    case 0x00:
      return '0'
    case 0x07:
      return 'a'
    case 0x08:
      return 'b'
    case 0x09:
      return 't'
    case 0x0a:
      return 'n'
    case 0x0b:
      return 'v'
    case 0x0c:
      return 'f'
    case 0x0d:
      return 'r'
    case 0x1b:
      return 'e'
    case 0x22:
      return '"'
    case 0x5c:
      return '\\'
    case 0x85:
      return 'N'
    case 0xa0:
      return '_'
    case 0x2028:
      return 'L'
    case 0x2029:
      return 'P'
  }
  const hex = cp.toString(16).toUpperCase()
  if (cp <= 0xff) return 'x' + hex.padStart(2, '0')
  if (cp <= 0xffff) return 'u' + hex.padStart(4, '0')
  return 'U' + hex.padStart(8, '0')
}
