/**
 * The builder's start-up decision whether extension layers carry SELinux labels: a probe of the
 * work directory (injectable here, to simulate a filesystem that refuses security.* xattrs), a
 * warning in the log and a Prometheus gauge. The real probe runs against ramfs in
 * test/integration/imager-labels.test.ts and image.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { detectSelinuxLabelSupport, registerSelinuxLabelMetric } from '../../builder/selinux-labels.ts'
import { probeSecurityXattrs } from '../../builder/imager/xattrs.ts'
import { createLogger } from '../../src/log.ts'
import { Registry } from '../../src/metrics.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'selinux-labels-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function capture(): { lines: Record<string, unknown>[]; log: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = []
  return { lines, log: createLogger('info', {}, (l) => lines.push(JSON.parse(l) as Record<string, unknown>)) }
}

function gauge(support: Parameters<typeof registerSelinuxLabelMetric>[1]): string {
  const r = new Registry()
  registerSelinuxLabelMetric(r, support)
  return r.render().split('\n').find((l) => l.startsWith('image_factory_selinux_labels_enabled ')) ?? ''
}

describe('start-up detection', () => {
  test('a filesystem that refuses security.* xattrs: disabled, one warning with the reason, gauge 0', async () => {
    const { lines, log } = capture()
    const support = await detectSelinuxLabelSupport(join(dir, 'work'), log, { pseudoXattrs: false, probe: async () => ({ ok: false, reason: 'simulated: EOPNOTSUPP' }) })
    expect(support).toEqual({ enabled: false, reason: 'simulated: EOPNOTSUPP' })
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 'warn', msg: 'extension layers are built without SELinux labels (mksquashfs -no-xattrs)', reason: 'simulated: EOPNOTSUPP' })
    expect(gauge(support)).toBe('image_factory_selinux_labels_enabled 0')
  })

  test('a filesystem that takes them: enabled, silent, gauge 1', async () => {
    const { lines, log } = capture()
    const support = await detectSelinuxLabelSupport(join(dir, 'work'), log, { pseudoXattrs: false, probe: async () => ({ ok: true }) })
    expect(support).toEqual({ enabled: true })
    expect(lines).toEqual([])
    expect(gauge(support)).toBe('image_factory_selinux_labels_enabled 1')
  })

  test('mksquashfs ≥ 4.6 (pseudo xattrs) needs no probe', async () => {
    let probed = false
    const support = await detectSelinuxLabelSupport(join(dir, 'work'), capture().log, {
      pseudoXattrs: true,
      probe: async () => {
        probed = true
        return { ok: false, reason: 'x' }
      },
    })
    expect(support.enabled).toBe(true)
    expect(probed).toBe(false)
  })
})

describe('the real probe', () => {
  test('leaves nothing behind and gives a verdict with a reason when negative', async () => {
    const probe = await probeSecurityXattrs(dir)
    if (!probe.ok) expect(probe.reason).not.toBe('')
    expect(await Array.fromAsync(new Bun.Glob('.xattr-probe-*').scan({ cwd: dir, onlyFiles: false, dot: true }))).toEqual([])
  })

  test('a missing directory is a negative verdict, not an exception', async () => {
    const probe = await probeSecurityXattrs(join(dir, 'no', 'such'))
    expect(probe.ok).toBe(false)
  })
})
