/**
 * The Redis build lock against a real redis-server, including Redis crashing and coming back.
 *
 * Every waiter here polls the key only once a minute (pollMs), so a test that expects a wake-up
 * in seconds can only pass through pub/sub: a broken subscription or a lost re-subscription after
 * a Redis restart makes these tests fail instead of being hidden by the poll fallback.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import Redis from 'ioredis'
import { RedisLock } from '../../builder/lock.ts'
import { startRedis, type TestRedis } from '../helpers/redis.ts'
import type { BuildJob } from '../../src/asset/job.ts'

setDefaultTimeout(60_000)

/** Long enough that only a pub/sub message (or the test's own timeout) can end a wait. */
const NO_POLL = { pollMs: 60_000 }
/** A wait that ends by message must end well before this; a missed message runs into it. */
const WAIT_MS = 20_000

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => redis?.stop())

/** Resolves once `n` clients are subscribed to the completion channel (seen by Redis itself). */
async function subscribers(url: string, n: number): Promise<void> {
  const probe = new Redis(url, { maxRetriesPerRequest: 1 })
  probe.on('error', () => {})
  try {
    for (let i = 0; i < 300; i++) {
      const reply = (await probe.pubsub('NUMSUB', 'factory:build-done').catch(() => null)) as [string, number] | null
      if (reply && Number(reply[1]) >= n) return
      await Bun.sleep(50)
    }
    throw new Error('the waiter never subscribed')
  } finally {
    probe.disconnect()
  }
}

/** Resolves once `lock` can talk to Redis again (after a restart). */
async function reconnected(lock: RedisLock): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const h = await lock.tryAcquire(`probe-${i}`).catch(() => null)
    if (h) {
      await h.release()
      return
    }
    await Bun.sleep(100)
  }
  throw new Error('lock did not reconnect to Redis')
}

test('one holder at a time; only the holder releases; a waiter wakes by the completion message', async () => {
  const a = new RedisLock(redis.url, { ttlMs: 30_000, ...NO_POLL })
  const b = new RedisLock(redis.url, { ttlMs: 30_000, ...NO_POLL })
  try {
    const held = await a.tryAcquire('k1')
    expect(held).not.toBeNull()
    expect(await b.tryAcquire('k1')).toBeNull()
    const waiting = b.waitForRelease('k1', WAIT_MS)
    await subscribers(redis.url, 1)
    await Bun.sleep(100) // and has seen the key held
    await held!.release()
    expect(await waiting).toBe('message')
    expect(await b.tryAcquire('k1')).not.toBeNull()
  } finally {
    await a.close()
    await b.close()
  }
})

test('a holder that dies: its lock expires and a polling waiter is released', async () => {
  const a = new RedisLock(redis.url, { ttlMs: 600 })
  const b = new RedisLock(redis.url, { ttlMs: 600, pollMs: 200 })
  try {
    expect(await a.tryAcquire('k2')).not.toBeNull()
    await a.close() // renewals stop and nothing is published: as if the process died
    expect(await b.waitForRelease('k2', WAIT_MS)).toBe('free')
    expect(await b.tryAcquire('k2')).not.toBeNull()
  } finally {
    await b.close()
  }
})

test('after Redis crashes and comes back, waiters are woken by messages again (re-subscribed)', async () => {
  const own = await startRedis()
  const waiter = new RedisLock(own.url, { ttlMs: 30_000, ...NO_POLL })
  const holder = new RedisLock(own.url, { ttlMs: 30_000, ...NO_POLL })
  try {
    // subscribe once while Redis is up
    const h0 = await holder.tryAcquire('r0')
    const w0 = waiter.waitForRelease('r0', WAIT_MS)
    await subscribers(own.url, 1)
    await Bun.sleep(100)
    await h0!.release()
    expect(await w0).toBe('message')

    await own.restart()
    await Promise.all([reconnected(waiter), reconnected(holder)])
    // ioredis re-subscribes by itself after reconnecting: Redis must see the subscription again
    // before any new wait (a new wait would subscribe afresh and hide a lost re-subscription)
    await subscribers(own.url, 1)

    const h1 = await holder.tryAcquire('r1')
    expect(h1).not.toBeNull()
    const w1 = waiter.waitForRelease('r1', WAIT_MS)
    await Bun.sleep(100)
    await h1!.release()
    expect(await w1).toBe('message')
  } finally {
    await waiter.close()
    await holder.close()
    await own.stop()
  }
})

test('a waiter whose first subscription failed (Redis down) subscribes on a later wait', async () => {
  const own = await startRedis()
  await own.crash()
  const waiter = new RedisLock(own.url, { ttlMs: 30_000, ...NO_POLL })
  try {
    // the first wait happens while Redis is down: it can only time out
    expect(await waiter.waitForRelease('d0', 300).catch(() => 'timeout')).toBe('timeout')
    await own.restart()
    await reconnected(waiter)
    const holder = new RedisLock(own.url, { ttlMs: 30_000, ...NO_POLL })
    try {
      const h = await holder.tryAcquire('d1')
      expect(h).not.toBeNull()
      const w = waiter.waitForRelease('d1', WAIT_MS)
      await subscribers(own.url, 1)
      await Bun.sleep(100)
      await h!.release()
      expect(await w).toBe('message')
    } finally {
      await holder.close()
    }
  } finally {
    await waiter.close()
    await own.stop()
  }
})

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
