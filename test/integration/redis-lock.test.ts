/** The Redis build lock against a real redis-server, including Redis being down for a while. */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { RedisLock } from '../../builder/lock.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import type { BuildJob } from '../../src/asset/job.ts'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => redis?.stop())

test('one holder at a time; only the holder releases; waiters wake on release', async () => {
  const a = new RedisLock(redis.url, { ttlMs: 2000 })
  const b = new RedisLock(redis.url, { ttlMs: 2000 })
  try {
    const held = await a.tryAcquire('k1')
    expect(held).not.toBeNull()
    expect(await b.tryAcquire('k1')).toBeNull()
    const t0 = performance.now()
    const waiting = b.waitForRelease('k1', 10_000)
    await Bun.sleep(100)
    await held!.release()
    await waiting
    expect(performance.now() - t0).toBeLessThan(5000)
    expect(await b.tryAcquire('k1')).not.toBeNull()
  } finally {
    await a.close()
    await b.close()
  }
})

test('a holder that dies: its lock expires and a waiter is released', async () => {
  const a = new RedisLock(redis.url, { ttlMs: 600 })
  const b = new RedisLock(redis.url, { ttlMs: 600 })
  try {
    expect(await a.tryAcquire('k2')).not.toBeNull()
    await a.close() // renewals stop: as if the process died
    await b.waitForRelease('k2', 10_000)
    expect(await b.tryAcquire('k2')).not.toBeNull()
  } finally {
    await b.close()
  }
})

test('waiting works again after Redis was unreachable when the first wait subscribed', async () => {
  const { freePort } = await import('../helpers/ports.ts')
  const port = await freePort()
  const lock = new RedisLock(`redis://127.0.0.1:${port}`, { ttlMs: 1000 })
  try {
    await Promise.race([lock.waitForRelease('k3', 300).catch(() => {}), Bun.sleep(2000)])
    const proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdout: 'ignore', stderr: 'ignore' })
    try {
      for (let i = 0; i < 100; i++) {
        if (await lock.tryAcquire('probe').then(() => true, () => false)) break
        await Bun.sleep(100)
      }
      const held = await lock.tryAcquire('k3')
      expect(held).not.toBeNull()
      const other = new RedisLock(`redis://127.0.0.1:${port}`, { ttlMs: 1000 })
      const waiting = lock.waitForRelease('k4', 5000)
      const h4 = await other.tryAcquire('k4')
      expect(h4).not.toBeNull()
      await h4!.release()
      await waiting // resolves (message or poll), does not reject
      await other.close()
    } finally {
      proc.kill()
    }
  } finally {
    await lock.close()
  }
}, 30_000)

test('an input failure is built once in the cluster: waiting nodes answer with it instead of retrying', async () => {
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { AssetStore } = await import('../../src/store/asset-store.ts')
  const { BuildManager } = await import('../../builder/manager.ts')
  const { BuildInputError } = await import('../../builder/job.ts')
  const { silentLogger } = await import('../../src/log.ts')
  const dir = mkdtempSync(join(tmpdir(), 'cluster-fail-'))
  let runs = 0
  const run = async () => {
    runs++
    await Bun.sleep(200)
    throw new BuildInputError('extension "x" is not compatible with Talos v1.7.6')
  }
  const locks = [new RedisLock(redis.url, { ttlMs: 2000 }), new RedisLock(redis.url, { ttlMs: 2000 })]
  const managers = locks.map(
    (lock) => new BuildManager({ store: new AssetStore(dir, { maxBytes: 1e9, log: silentLogger }), lock, run, concurrency: 2, timeoutMs: 10_000, log: silentLogger }),
  )
  const job: BuildJob = {
    key: 'c'.repeat(64),
    contentType: 'application/x-xz',
    urlParts: ['d'.repeat(64), 'v1.7.6', 'initramfs-amd64.xz'],
    version: 'v1.7.6',
    schematic: { id: 'd'.repeat(64), canonical: '' },
    profile: {},
    dependencies: [],
  }
  try {
    const results = await Promise.allSettled(managers.map((m) => m.request(job)))
    expect(runs).toBe(1)
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect(String((r as PromiseRejectedResult).reason)).toContain('not compatible')
    }
  } finally {
    await Promise.all(locks.map((l) => l.close()))
  }
}, 30_000)
