/**
 * Version ranges as extension manifests write them (`compatibility.talos.version`), with the
 * semantics of github.com/blang/semver/v4 `ParseRange` that Talos uses, plus Talos's own
 * pre-processing (a `v` directly before a digit is dropped, anywhere in the text).
 *
 * Grammar (blang): comparators separated by spaces are ANDed, groups separated by `||` are ORed;
 * a space right after `>`, `<` or `=` does not split (`>= 1.0.0` is one comparator); operators
 * `=`/`==`/none, `!=`/`!`, `>`, `>=`, `<`, `<=`; versions are strict `major.minor.patch[-pre]`;
 * `x` wildcards (`1.2.x`, `>1.x`) are expanded the way blang does. Comparison is full semver
 * precedence. Error texts follow blang's so messages match the reference imager.
 */
import { InvalidInputError } from '../../src/errors.ts'
import { compareSemver, parseSemver, type SemVer } from '../../src/talos/semver.ts'

export type RangePredicate = (v: SemVer) => boolean

type Op = '=' | '!=' | '>' | '>=' | '<' | '<='

/** Talos `trim`: removes a `v` that directly precedes a digit, anywhere in the constraint. */
export function stripVBeforeDigit(constraint: string): string {
  let s = constraint
  for (let i = 0; i < s.length; i++) {
    const next = s.charCodeAt(i + 1)
    if (s[i] === 'v' && next >= 0x30 && next <= 0x39) s = s.slice(0, i) + s.slice(i + 1)
  }
  return s
}

/** blang `splitAndTrim`: split on spaces that do not follow an operator character. */
function splitAndTrim(s: string): string[] {
  const result: string[] = []
  let last = 0
  let lastChar = ''
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === ' ' && lastChar !== '>' && lastChar !== '<' && lastChar !== '=') {
      if (last < i - 1) result.push(s.slice(last, i))
      last = i + 1
    } else if (c !== ' ') {
      lastChar = c
    }
  }
  // blang keeps the tail only when it is longer than one character (sic)
  if (last < s.length - 1) result.push(s.slice(last))
  return result.map((p) => p.replaceAll(' ', ''))
}

function splitOrParts(parts: string[]): string[][] {
  const out: string[][] = []
  let last = 0
  parts.forEach((p, i) => {
    if (p === '||') {
      if (i === 0) throw new InvalidInputError("First element in range is '||'")
      out.push(parts.slice(last, i))
      last = i + 1
    }
  })
  if (last === parts.length) throw new InvalidInputError("Last element in range is '||'")
  out.push(parts.slice(last))
  return out
}

/** blang `splitComparatorVersion`: the operator is everything before the first digit. */
function splitComparatorVersion(s: string): [string, string] {
  const i = s.search(/\p{Nd}/u)
  if (i === -1) throw new InvalidInputError(`Could not get version from string: ${JSON.stringify(s)}`)
  return [s.slice(0, i).trim(), s.slice(i)]
}

function incrementPart(v: string, index: 0 | 1): string {
  const parts = v.split('.')
  const text = parts[index] ?? ''
  if (!/^[+-]?[0-9]+$/.test(text)) throw new InvalidInputError(`strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`)
  parts[index] = String(Number(text) + 1)
  return parts.join('.')
}

/** blang `expandWildcardVersion` for one comparator containing a lowercase `x`. */
function expandWildcard(ap: string): string[] {
  const [op, vStr] = splitComparatorVersion(ap)
  const parts = vStr.split('.')
  const type = parts[parts.length - 1] === 'x' ? (parts.length === 1 ? 'major' : parts.length === 2 ? 'minor' : parts.length === 3 ? 'patch' : 'none') : 'none'
  let flat = vStr.replace('.x.x', '.x').replace('.x', '.0')
  if (flat.split('.').length === 2) flat += '.0'
  const extra: string[] = []
  let resultOp = ''
  let increment = false
  switch (op) {
    case '>':
      resultOp = '>='
      increment = true
      break
    case '>=':
      resultOp = '>='
      break
    case '<':
      resultOp = '<'
      break
    case '<=':
      resultOp = '<'
      increment = true
      break
    case '':
    case '=':
    case '==':
      extra.push('>=' + flat)
      resultOp = '<'
      increment = true
      break
    case '!=':
    case '!':
      extra.push('<' + flat)
      resultOp = '>='
      increment = true
      break
  }
  let resultVersion = ''
  if (increment) {
    // blang ignores the increment error (leaving an empty version that fails to parse later)
    try {
      if (type === 'patch') resultVersion = incrementPart(flat, 1)
      else if (type === 'minor') resultVersion = incrementPart(flat, 0)
    } catch {
      resultVersion = ''
    }
  } else {
    resultVersion = flat
  }
  return [...extra, resultOp + resultVersion]
}

function parseOp(s: string): Op | null {
  switch (s) {
    case '':
    case '=':
    case '==':
      return '='
    case '!':
    case '!=':
      return '!='
    case '>':
    case '>=':
    case '<':
    case '<=':
      return s
    default:
      return null
  }
}

function comparator(op: Op, bound: SemVer): RangePredicate {
  switch (op) {
    case '=':
      return (v) => compareSemver(v, bound) === 0
    case '!=':
      return (v) => compareSemver(v, bound) !== 0
    case '>':
      return (v) => compareSemver(v, bound) > 0
    case '>=':
      return (v) => compareSemver(v, bound) >= 0
    case '<':
      return (v) => compareSemver(v, bound) < 0
    case '<=':
      return (v) => compareSemver(v, bound) <= 0
  }
}

/**
 * blang `ParseRange` (no `v` handling: apply {@link stripVBeforeDigit} first, as Talos does).
 * Throws InvalidInputError with blang's message when the range is malformed.
 */
export function parseRange(text: string): RangePredicate {
  const orParts = splitOrParts(splitAndTrim(text)).map((group) => group.flatMap((ap) => (ap.includes('x') ? expandWildcard(ap) : [ap])))
  const groups = orParts.map((group) =>
    group.map((ap) => {
      const [opStr, vStr] = splitComparatorVersion(ap)
      const op = parseOp(opStr)
      if (op === null) throw new InvalidInputError(`Could not parse Range ${JSON.stringify(ap)}: Could not parse comparator ${JSON.stringify(opStr)} in ${JSON.stringify(opStr + vStr)}`)
      let bound: SemVer
      try {
        // vStr starts with a digit (see splitComparatorVersion), so parseSemver's `v` stripping never applies
        bound = parseSemver(vStr)
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err)
        throw new InvalidInputError(`Could not parse Range ${JSON.stringify(ap)}: Could not parse version ${JSON.stringify(vStr)} in ${JSON.stringify(opStr + vStr)}: ${why}`)
      }
      return comparator(op, bound)
    }),
  )
  return (v) => groups.some((and) => and.every((pred) => pred(v)))
}

/** Talos `validateConstraints`: empty = compatible; otherwise strip `v`s and evaluate on `target`. */
export function satisfiesConstraint(constraint: string, target: SemVer): boolean {
  if (constraint === '') return true
  return parseRange(stripVBeforeDigit(constraint))(target)
}
