import { describe, expect, test } from 'bun:test'
import { InvalidInputError } from '../../src/errors.ts'
import {
  compareSemver,
  coreCompare,
  formatSemver,
  formatVersionTag,
  parseSemver,
  parseSemverTolerant,
  semverEquals,
  sortSemver,
  toVersionTag,
  tryParseSemver,
} from '../../src/talos/semver.ts'

describe('parseSemver (strict)', () => {
  test.each([
    ['1.11.0', 1, 11, 0, [], []],
    ['v1.11.0', 1, 11, 0, [], []],
    ['v1.14.0-rc.1', 1, 14, 0, ['rc', '1'], []],
    ['1.14.0-alpha.0-dirty', 1, 14, 0, ['alpha', '0-dirty'], []],
    ['1.2.3-beta.1+build.5', 1, 2, 3, ['beta', '1'], ['build', '5']],
    ['0.0.0', 0, 0, 0, [], []],
  ] as const)('%s', (text, major, minor, patch, pre, build) => {
    const v = parseSemver(text)
    expect(v).toEqual({ major, minor, patch, prerelease: [...pre], build: [...build] })
  })

  test.each([
    ['', 'Version string empty'],
    ['v', 'Version string empty'],
    ['1.2', 'No Major.Minor.Patch elements found'],
    ['latest', 'No Major.Minor.Patch elements found'],
    ['01.2.3', 'Major number must not contain leading zeroes "01"'],
    ['1.02.3', 'Minor number must not contain leading zeroes "02"'],
    ['1.2.03', 'Patch number must not contain leading zeroes "03"'],
    ['1.x.3', 'Invalid character(s) found in minor number "x"'],
    ['1.2.3-', 'Prerelease is empty'],
    ['1.2.3-rc.01', 'Numeric PreRelease version must not contain leading zeroes "01"'],
    ['1.2.3-rc_1', 'Invalid character(s) found in prerelease "rc_1"'],
    ['1.2.3+', 'Build meta data is empty'],
    ['vv1.2.3', 'Invalid character(s) found in major number "v1"'],
    ['sha256-abc.sig', 'No Major.Minor.Patch elements found'],
    ['sha256-abc.d.sig', 'Invalid character(s) found in major number "sha256-abc"'],
  ])('rejects %p', (text, message) => {
    expect(() => parseSemver(text)).toThrow(InvalidInputError)
    expect(() => parseSemver(text)).toThrow(message)
  })
})

describe('parseSemverTolerant', () => {
  test.each([
    ['v1.2', '1.2.0'],
    ['1', '1.0.0'],
    [' v1.7.0 ', '1.7.0'],
    ['v01.02.03', '1.2.3'],
    ['v1.11.0-alpha.3', '1.11.0-alpha.3'],
  ])('%p → %s', (text, formatted) => {
    expect(formatSemver(parseSemverTolerant(text))).toBe(formatted)
  })

  test('short version with prerelease is rejected', () => {
    expect(() => parseSemverTolerant('1.2-rc')).toThrow('Short version cannot contain PreRelease/Build meta data')
  })

  test('tryParseSemver returns null instead of throwing', () => {
    expect(tryParseSemver('latest', { tolerant: true })).toBeNull()
    expect(tryParseSemver('v1.2')).toBeNull()
    expect(tryParseSemver('v1.2', { tolerant: true })).not.toBeNull()
  })
})

describe('precedence', () => {
  const order = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
    '1.2.0-alpha.1',
    '1.2.0',
    '1.10.0',
    '1.14.0-rc.1',
    '1.14.0',
  ]
  test('semver.org ordering', () => {
    for (let i = 0; i + 1 < order.length; i++) {
      const a = parseSemver(order[i]!)
      const b = parseSemver(order[i + 1]!)
      expect(compareSemver(a, b)).toBe(-1)
      expect(compareSemver(b, a)).toBe(1)
    }
  })

  test('sortSemver sorts ascending', () => {
    const shuffled = [...order].reverse().map(parseSemver)
    expect(sortSemver(shuffled).map(formatSemver)).toEqual(order)
  })

  test('build metadata is ignored for equality', () => {
    expect(semverEquals(parseSemver('1.11.0+abc'), parseSemver('v1.11.0'))).toBe(true)
    expect(semverEquals(parseSemver('1.11.0-rc.1'), parseSemver('1.11.0'))).toBe(false)
  })

  test('coreCompare ignores pre-release', () => {
    expect(coreCompare(parseSemver('1.11.0-alpha.3'), parseSemver('1.11.0'))).toBe(0)
    expect(coreCompare(parseSemver('1.10.99'), parseSemver('1.11.0-alpha.0'))).toBe(-1)
    expect(coreCompare(parseSemver('2.0.0'), parseSemver('1.99.99'))).toBe(1)
  })

  test('numeric identifiers compare numerically even when huge', () => {
    expect(compareSemver(parseSemver('1.0.0-99999999999999999999'), parseSemver('1.0.0-100000000000000000000'))).toBe(-1)
    expect(compareSemver(parseSemver('1.0.0-9'), parseSemver('1.0.0-a'))).toBe(-1)
  })
})

describe('formatting', () => {
  test('formatSemver / formatVersionTag round-trip', () => {
    expect(formatSemver(parseSemver('v1.2.3-rc.1+b.2'))).toBe('1.2.3-rc.1+b.2')
    expect(formatVersionTag(parseSemver('1.12.1'))).toBe('v1.12.1')
  })
  test('toVersionTag only prefixes a missing v', () => {
    expect(toVersionTag('1.11.0')).toBe('v1.11.0')
    expect(toVersionTag('v1.11.0')).toBe('v1.11.0')
  })
})
