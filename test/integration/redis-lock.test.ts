/** The Redis build lock against a real redis-server, including Redis being down for a while. */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { RedisLock } from '../../builder/lock.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'

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
