/**
 * Semantic versions as the reference parses them (github.com/blang/semver/v4 semantics).
 *
 * Why a dedicated module: version text flows in from URLs, registry tags and config, and the
 * reference uses two parsers with different leniency — strict `Parse` for request paths and
 * `ParseTolerant` for tags and quirks — plus two comparisons (full semver precedence for the
 * version list, major.minor.patch only for quirks). Mixing them up changes which versions are
 * listed and which features a build gets, so each flavour has its own named function here.
 */
import { InvalidInputError } from '../errors.ts'

export interface SemVer {
  readonly major: number
  readonly minor: number
  readonly patch: number
  /** Pre-release identifiers in order (`1.14.0-rc.1` → `['rc', '1']`); numeric ones have no leading zeroes. */
  readonly prerelease: readonly string[]
  /** Build metadata identifiers; never affect precedence or equality. */
  readonly build: readonly string[]
}

const DIGITS = /^[0-9]*$/
const ALNUM = /^[0-9A-Za-z-]*$/

function hasLeadingZeroes(s: string): boolean {
  return s.length > 1 && s[0] === '0'
}

function parseNumber(part: string, what: 'Major' | 'Minor' | 'Patch', lower: string): number {
  if (!DIGITS.test(part)) throw new InvalidInputError(`Invalid character(s) found in ${lower} number ${JSON.stringify(part)}`)
  if (hasLeadingZeroes(part)) throw new InvalidInputError(`${what} number must not contain leading zeroes ${JSON.stringify(part)}`)
  if (part === '') throw new InvalidInputError(`strconv.ParseUint: parsing "": invalid syntax`)
  const n = Number(part)
  if (!Number.isSafeInteger(n)) throw new InvalidInputError(`strconv.ParseUint: parsing ${JSON.stringify(part)}: value out of range`)
  return n
}

/** blang `Parse` on text that already lost its optional `v`. */
function parseCore(s: string): SemVer {
  if (s.length === 0) throw new InvalidInputError('Version string empty')
  const parts = splitN(s, '.', 3)
  if (parts.length !== 3) throw new InvalidInputError('No Major.Minor.Patch elements found')
  const major = parseNumber(parts[0]!, 'Major', 'major')
  const minor = parseNumber(parts[1]!, 'Minor', 'minor')

  let patchStr = parts[2]!
  let build: string[] = []
  let prerelease: string[] = []
  const plus = patchStr.indexOf('+')
  if (plus !== -1) {
    build = patchStr.slice(plus + 1).split('.')
    patchStr = patchStr.slice(0, plus)
  }
  const dash = patchStr.indexOf('-')
  if (dash !== -1) {
    prerelease = patchStr.slice(dash + 1).split('.')
    patchStr = patchStr.slice(0, dash)
  }
  const patch = parseNumber(patchStr, 'Patch', 'patch')

  for (const id of prerelease) {
    if (id.length === 0) throw new InvalidInputError('Prerelease is empty')
    if (DIGITS.test(id)) {
      if (hasLeadingZeroes(id)) throw new InvalidInputError(`Numeric PreRelease version must not contain leading zeroes ${JSON.stringify(id)}`)
    } else if (!ALNUM.test(id)) {
      throw new InvalidInputError(`Invalid character(s) found in prerelease ${JSON.stringify(id)}`)
    }
  }
  for (const id of build) {
    if (id.length === 0) throw new InvalidInputError('Build meta data is empty')
    if (!ALNUM.test(id)) throw new InvalidInputError(`Invalid character(s) found in build meta data ${JSON.stringify(id)}`)
  }
  return { major, minor, patch, prerelease, build }
}

/** Go `strings.SplitN`: at most n parts, the last one keeps the remaining separators. */
function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = []
  let rest = s
  while (out.length < n - 1) {
    const i = rest.indexOf(sep)
    if (i === -1) break
    out.push(rest.slice(0, i))
    rest = rest.slice(i + sep.length)
  }
  out.push(rest)
  return out
}

/**
 * Strict parse (`major.minor.patch[-pre][+build]`, no leading zeroes), accepting one optional
 * leading `v` the way the request handlers strip it. Throws InvalidInputError with blang's text.
 */
export function parseSemver(text: string): SemVer {
  return parseCore(text.startsWith('v') ? text.slice(1) : text)
}

/**
 * Tolerant parse (blang `ParseTolerant`): trims spaces, drops a leading `v`, strips leading
 * zeroes and pads a missing minor/patch with `.0` (`v1.2` → 1.2.0). Used for registry tags,
 * quirks and the UI.
 */
export function parseSemverTolerant(text: string): SemVer {
  let s = text.trim()
  if (s.startsWith('v')) s = s.slice(1)
  const parts = splitN(s, '.', 3).map((p) => {
    if (p.length <= 1) return p
    let q = p.replace(/^0+/, '')
    if (q.length === 0 || !/^[0-9]/.test(q)) q = '0' + q
    return q
  })
  if (parts.length < 3) {
    if (/[+-]/.test(parts[parts.length - 1]!)) {
      throw new InvalidInputError('Short version cannot contain PreRelease/Build meta data')
    }
    while (parts.length < 3) parts.push('0')
  }
  return parseCore(parts.join('.'))
}

/** Strict or tolerant parse that returns null instead of throwing. */
export function tryParseSemver(text: string, opts: { tolerant?: boolean } = {}): SemVer | null {
  try {
    return opts.tolerant ? parseSemverTolerant(text) : parseSemver(text)
  } catch {
    return null
  }
}

type Cmp = -1 | 0 | 1

function cmpNum(a: number, b: number): Cmp {
  return a < b ? -1 : a > b ? 1 : 0
}

function cmpIdentifier(a: string, b: string): Cmp {
  const an = DIGITS.test(a)
  const bn = DIGITS.test(b)
  if (an && bn) {
    // no leading zeroes, so length then lexical order is numeric order (and never overflows)
    if (a.length !== b.length) return a.length < b.length ? -1 : 1
    return a < b ? -1 : a > b ? 1 : 0
  }
  if (an) return -1
  if (bn) return 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** major.minor.patch only; pre-release and build are ignored (what the Talos quirks compare). */
export function coreCompare(a: SemVer, b: SemVer): Cmp {
  return cmpNum(a.major, b.major) || cmpNum(a.minor, b.minor) || cmpNum(a.patch, b.patch)
}

/** Full semver precedence: core, then pre-release (a release outranks its pre-releases); build ignored. */
export function compareSemver(a: SemVer, b: SemVer): Cmp {
  const core = coreCompare(a, b)
  if (core !== 0) return core
  const ap = a.prerelease
  const bp = b.prerelease
  if (ap.length === 0 && bp.length === 0) return 0
  if (ap.length === 0) return 1
  if (bp.length === 0) return -1
  for (let i = 0; i < ap.length && i < bp.length; i++) {
    const c = cmpIdentifier(ap[i]!, bp[i]!)
    if (c !== 0) return c
  }
  return cmpNum(ap.length, bp.length)
}

/** Semver equality (build metadata ignored) — the reference's "version is available" test. */
export function semverEquals(a: SemVer, b: SemVer): boolean {
  return compareSemver(a, b) === 0
}

export function isPrerelease(v: SemVer): boolean {
  return v.prerelease.length > 0
}

/** The version without pre-release and build (`1.11.0-alpha.3` → `1.11.0`), as quirks see it. */
export function coreOf(v: SemVer): SemVer {
  return { major: v.major, minor: v.minor, patch: v.patch, prerelease: [], build: [] }
}

/** blang `String()`: `1.2.3[-pre][+build]`, no `v`. */
export function formatSemver(v: SemVer): string {
  let s = `${v.major}.${v.minor}.${v.patch}`
  if (v.prerelease.length > 0) s += '-' + v.prerelease.join('.')
  if (v.build.length > 0) s += '+' + v.build.join('.')
  return s
}

/** `v` + formatSemver, the tag form used by images and profiles. */
export function formatVersionTag(v: SemVer): string {
  return 'v' + formatSemver(v)
}

/** The request handlers' `versionTag`: the path text with a `v` prefixed when missing (not normalised). */
export function toVersionTag(raw: string): string {
  return raw.startsWith('v') ? raw : 'v' + raw
}

/** Parse a literal that is known to be valid (constants); throws a plain Error otherwise. */
export function semver(text: string): SemVer {
  const v = tryParseSemver(text)
  if (v === null) throw new Error(`invalid semver constant ${JSON.stringify(text)}`)
  return v
}

/** Sort ascending by semver precedence (stable for equal versions). */
export function sortSemver<T extends SemVer>(versions: readonly T[]): T[] {
  return [...versions].sort(compareSemver)
}
