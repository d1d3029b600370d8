/** The `v` prefix the request handlers add (`versionTag`), in one place: src/talos/semver.ts. */
import { describe, expect, test } from 'bun:test'
import { toVersionTag } from '../../src/talos/semver.ts'
import { Catalog } from '../../src/catalog/catalog.ts'
import { silentLogger } from '../../src/log.ts'

describe('toVersionTag', () => {
  test('adds a missing v, keeps the text otherwise (not normalised)', () => {
    expect(toVersionTag('1.12.0')).toBe('v1.12.0')
    expect(toVersionTag('v1.12.0')).toBe('v1.12.0')
    expect(toVersionTag('1.5')).toBe('v1.5')
  })

  test('configured broken versions are listed with exactly one v', () => {
    const catalog = new Catalog({
      source: { listTags: async () => [], extract: async () => '/nonexistent' },
      log: silentLogger,
      registry: 'registry.invalid',
      minTalosVersion: '1.2.0',
      brokenTalosVersions: ['1.9.4', 'v1.10.0'],
      refreshIntervalMs: 60_000,
    })
    expect(catalog.brokenVersions()).toEqual(['v1.9.4', 'v1.10.0'])
  })
})
