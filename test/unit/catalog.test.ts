import { describe, expect, test } from 'bun:test'
import { selectVersions } from '../../src/catalog/versions.ts'
import { parseExtensionCatalog, parseImageLine } from '../../src/catalog/extensions.ts'
import { parseOverlayCatalog } from '../../src/catalog/overlays.ts'
import { selectTalosctlFiles } from '../../src/catalog/talosctl.ts'
import { RefreshingValue } from '../../src/catalog/refreshing.ts'
import { silentLogger } from '../../src/log.ts'
import { parseSemver } from '../../src/talos/semver.ts'
import type { SharedCache } from '../../src/catalog/shared-cache.ts'

const D = (c: string) => `sha256:${c.repeat(64)}`

describe('selectVersions (factory-spec §5.1)', () => {
  const filter = { min: parseSemver('1.2.0'), broken: [parseSemver('1.9.1')] }
  test.each([
    [['v1.9.0', 'v1.10.0', 'v1.2.0'], ['v1.2.0', 'v1.9.0', 'v1.10.0']],
    [['v1.1.9', 'v1.2.0-alpha.1', 'v1.2.0'], ['v1.2.0']],
    [['latest', 'sha256-abc.sig', 'v1.5.0', 'main'], ['v1.5.0']],
    [['v1.9.0', 'v1.9.1', 'v1.9.2'], ['v1.9.0', 'v1.9.2']],
    [['1.5', 'v1.6'], ['v1.5.0', 'v1.6.0']],
    [
      ['v1.13.0-beta.1', 'v1.13.5', 'v1.14.0-alpha.0', 'v1.14.0-beta.1', 'v1.14.0-alpha.0-dirty', 'v1.14.0-rc.1', 'v1.14.0-foo.1'],
      ['v1.13.5', 'v1.14.0-alpha.0', 'v1.14.0-beta.1', 'v1.14.0-rc.1'],
    ],
    [['v1.14.0', 'v1.14.0-rc.1', 'v1.13.0'], ['v1.13.0', 'v1.14.0-rc.1', 'v1.14.0']],
    [[], []],
  ])('%p → %p', (tags, want) => expect(selectVersions(tags, filter)).toEqual(want))
})

describe('extension catalogue (factory-spec §5.2)', () => {
  const lines = [
    `ghcr.io/siderolabs/gvisor:20231214.0@${D('a')}`,
    `  ghcr.io/siderolabs/amd-ucode:20240115@${D('b')}  `,
    'ghcr.io/siderolabs/no-digest:1.0',
    '',
  ].join('\n')
  const descriptions = `ghcr.io/siderolabs/gvisor:20231214.0@${D('a')}:\n  author: Sidero Labs\n  description: gVisor & <runsc>\n`

  test('re-homes refs onto the configured registry and joins descriptions by whole line', () => {
    expect(parseExtensionCatalog(lines, descriptions, 'mirror.local:5000')).toEqual([
      { name: 'siderolabs/gvisor', ref: 'mirror.local:5000/siderolabs/gvisor:20231214.0', digest: D('a'), author: 'Sidero Labs', description: 'gVisor & <runsc>' },
      { name: 'siderolabs/amd-ucode', ref: 'mirror.local:5000/siderolabs/amd-ucode:20240115', digest: D('b'), author: '', description: '' },
    ])
  })

  test.each([
    [`ghcr.io/a/b:1@${D('c')}`, { registry: 'ghcr.io', repository: 'a/b', tag: '1', digest: D('c') }],
    [`127.0.0.1:5000/a/b:v1@${D('c')}`, { registry: '127.0.0.1:5000', repository: 'a/b', tag: 'v1', digest: D('c') }],
    [`siderolabs/x:2@${D('c')}`, { registry: '', repository: 'siderolabs/x', tag: '2', digest: D('c') }],
    ['ghcr.io/a/b:1', null],
    ['ghcr.io/a/b:1@sha256:short', null],
  ])('parseImageLine(%s)', (line, want) => expect(parseImageLine(line)).toEqual(want))
})

test('overlay catalogue keeps the ref as written', () => {
  const text = `overlays:\n  - name: rpi_generic\n    image: ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0\n    digest: ${D('d')}\n  - name: broken\n`
  expect(parseOverlayCatalog(text)).toEqual([
    { name: 'rpi_generic', image: 'siderolabs/sbc-raspberrypi', ref: 'ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0', digest: D('d') },
  ])
})

test('talosctl files are filtered and sorted', () => {
  expect(
    selectTalosctlFiles(['talosctl-windows-amd64.exe', 'README', 'talosctl-linux-amd64', 'talosctl-darwin-arm64', 'talosctl-linux-armv7', 'talosctl']),
  ).toEqual(['talosctl-darwin-arm64', 'talosctl-linux-amd64', 'talosctl-linux-armv7', 'talosctl-windows-amd64.exe'])
})

describe('RefreshingValue', () => {
  function memoryShared(): SharedCache & { data: Map<string, string> } {
    const data = new Map<string, string>()
    return { data, get: async (k) => data.get(k) ?? null, set: async (k, v) => void data.set(k, v), close: async () => {} }
  }

  test('serves the last good value, flagged stale, while upstream fails; recovers', async () => {
    let now = 0
    let up = true
    let loads = 0
    const rv = new RefreshingValue({
      name: 'versions',
      maxAgeMs: 1000,
      log: silentLogger,
      now: () => now,
      load: async () => {
        loads++
        if (!up) throw new Error('registry unreachable')
        return [`v${loads}`]
      },
    })
    expect(await rv.get()).toEqual({ value: ['v1'], stale: false })
    up = false
    now = 2000
    expect(await rv.get()).toEqual({ value: ['v1'], stale: false }) // triggers a background refresh
    await Bun.sleep(1)
    expect(await rv.get()).toEqual({ value: ['v1'], stale: true })
    up = true
    await Bun.sleep(1) // let the failing background refresh settle
    await rv.refresh()
    expect((await rv.get()).stale).toBe(false)
  })

  test('cold start with upstream down: shared cache answer (stale), else the error', async () => {
    const shared = memoryShared()
    const ok = new RefreshingValue({ name: 'k', maxAgeMs: 1000, log: silentLogger, shared, load: async () => ['v1.0.0'] })
    await ok.get()
    expect(shared.data.get('k')).toBe('["v1.0.0"]')
    const down = new RefreshingValue<string[]>({
      name: 'k',
      maxAgeMs: 1000,
      log: silentLogger,
      shared,
      load: async () => {
        throw new Error('down')
      },
    })
    expect(await down.get()).toEqual({ value: ['v1.0.0'], stale: true })
    const nothing = new RefreshingValue<string[]>({
      name: 'other',
      maxAgeMs: 1000,
      log: silentLogger,
      shared,
      load: async () => {
        throw new Error('down')
      },
    })
    expect(nothing.get()).rejects.toThrow('down')
  })
})

describe('RefreshingValue after a cold start from the shared cache', () => {
  test('keeps retrying upstream (with backoff) and recovers, even for never-expiring values', async () => {
    let now = 0
    let up = false
    let loads = 0
    const shared: SharedCache = { get: async () => '["v1.0.0"]', set: async () => {}, close: async () => {} }
    const rv = new RefreshingValue<string[]>({
      name: 'extensions:v1.0.0',
      maxAgeMs: Number.POSITIVE_INFINITY,
      log: silentLogger,
      shared,
      now: () => now,
      load: async () => {
        loads++
        if (!up) throw new Error('down')
        return ['v1.0.0', 'fresh']
      },
    })
    expect(await rv.get()).toEqual({ value: ['v1.0.0'], stale: true })
    expect(loads).toBe(1)
    expect(await rv.get()).toEqual({ value: ['v1.0.0'], stale: true }) // within the backoff: no new load
    expect(loads).toBe(1)
    up = true
    now = 1500 // past the first backoff
    await rv.get()
    await Bun.sleep(1)
    expect(loads).toBe(2)
    expect(await rv.get()).toEqual({ value: ['v1.0.0', 'fresh'], stale: false })
  })
})
