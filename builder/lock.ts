/**
 * Build locks: one build per cache key across the cluster.
 *
 * LocalLock (embedded mode): the in-process single-flight already dedupes, so the lock always
 * succeeds. RedisLock (scale-out): `SET key token NX PX ttl`, renewed while the build runs,
 * released with a compare-and-delete script so only the holder can release, and a completion
 * message published on a channel. A node that loses the race waits for that message (and also
 * polls the key, so a holder that died — its lock expiring — or a lost message never strands it).
 */
import Redis from 'ioredis'
import { randomBytes } from 'node:crypto'

export type WakeReason = 'message' | 'free' | 'timeout'

export interface LockHandle {
  /**
   * Releases the lock. `failure` (a build that failed because of its input) is kept for a short
   * while so nodes that waited on this build answer with it instead of failing the same way again.
   */
  release(failure?: string): Promise<void>
}

export interface BuildLock {
  /** Takes the lock for `key`, or returns null when another node holds it. */
  tryAcquire(key: string): Promise<LockHandle | null>
  /**
   * Resolves when the lock for `key` is no longer held, saying how that was noticed: `message` (the
   * holder's completion message), `free` (found free by checking the key: expired, or a message
   * was missed) or `timeout` (still held after `timeoutMs`).
   */
  waitForRelease(key: string, timeoutMs: number): Promise<WakeReason>
  /** The input failure the last holder of `key` published, if any (recent only). */
  lastFailure(key: string): Promise<string | null>
  close(): Promise<void>
}

export class LocalLock implements BuildLock {
  async tryAcquire(): Promise<LockHandle> {
    return { release: async () => {} }
  }
  async waitForRelease(): Promise<WakeReason> {
    return 'free'
  }
  async lastFailure(): Promise<null> {
    return null
  }
  async close(): Promise<void> {}
}

const RELEASE_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`
const RENEW_SCRIPT = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`
const CHANNEL = 'factory:build-done'
/** how long a published input failure answers waiters (then the next request tries again) */
const FAILURE_TTL_MS = 30_000

export class RedisLock implements BuildLock {
  private readonly redis: Redis
  private readonly sub: Redis
  private readonly waiters = new Map<string, Set<(reason: WakeReason) => void>>()
  private subscribed: Promise<unknown> | undefined

  constructor(
    url: string,
    private readonly opts: {
      ttlMs: number
      prefix?: string
      /**
       * How often a waiter checks the key itself (default 500 ms): the fallback for a holder that
       * died (its key expires, nobody publishes) and for a missed message. Tests set it high so
       * only pub/sub can wake a waiter.
       */
      pollMs?: number
    } = { ttlMs: 30_000 },
  ) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 2 })
    this.sub = new Redis(url, { maxRetriesPerRequest: 2 })
    this.redis.on('error', () => {})
    this.sub.on('error', () => {})
    this.sub.on('message', (_channel: string, key: string) => this.wake(key))
  }

  private lockKey(key: string): string {
    return `${this.opts.prefix ?? 'factory:lock:'}${key}`
  }

  private failureKey(key: string): string {
    return `${this.opts.prefix ?? 'factory:lock:'}failed:${key}`
  }

  lastFailure(key: string): Promise<string | null> {
    return this.redis.get(this.failureKey(key)).catch(() => null)
  }

  private wake(key: string): void {
    const set = this.waiters.get(key)
    if (!set) return
    this.waiters.delete(key)
    for (const fn of set) fn('message')
  }

  async tryAcquire(key: string): Promise<LockHandle | null> {
    const token = randomBytes(16).toString('hex')
    const k = this.lockKey(key)
    const ok = await this.redis.set(k, token, 'PX', this.opts.ttlMs, 'NX')
    if (ok !== 'OK') return null
    const renew = setInterval(() => {
      void this.redis.eval(RENEW_SCRIPT, 1, k, token, String(this.opts.ttlMs)).catch(() => {})
    }, Math.max(100, Math.floor(this.opts.ttlMs / 3)))
    renew.unref?.()
    let released = false
    return {
      release: async (failure?: string) => {
        if (released) return
        released = true
        clearInterval(renew)
        if (failure !== undefined) await this.redis.set(this.failureKey(key), failure, 'PX', FAILURE_TTL_MS).catch(() => {})
        else await this.redis.del(this.failureKey(key)).catch(() => {})
        await this.redis.eval(RELEASE_SCRIPT, 1, k, token).catch(() => {})
        await this.redis.publish(CHANNEL, key).catch(() => {})
      },
    }
  }

  async waitForRelease(key: string, timeoutMs: number): Promise<WakeReason> {
    // a failed SUBSCRIBE (Redis down for a moment) must not poison every later wait; once it
    // succeeded, ioredis re-subscribes by itself after a reconnect (autoResubscribe)
    this.subscribed ??= this.sub.subscribe(CHANNEL).catch((err: unknown) => {
      this.subscribed = undefined
      throw err
    })
    await this.subscribed.catch(() => {}) // without the message we still poll the key below
    const k = this.lockKey(key)
    return new Promise<WakeReason>((resolve) => {
      let done = false
      const finish = (reason: WakeReason) => {
        if (done) return
        done = true
        clearTimeout(timer)
        clearInterval(poll)
        const set = this.waiters.get(key)
        set?.delete(finish)
        if (set?.size === 0) this.waiters.delete(key)
        resolve(reason)
      }
      const set = this.waiters.get(key) ?? new Set()
      set.add(finish)
      this.waiters.set(key, set)
      const timer = setTimeout(() => finish('timeout'), timeoutMs)
      const check = () => void this.redis.exists(k).then((n) => n === 0 && finish('free'), () => {})
      const poll = setInterval(check, this.opts.pollMs ?? 500)
      check()
    })
  }

  async close(): Promise<void> {
    this.redis.disconnect()
    this.sub.disconnect()
  }
}
