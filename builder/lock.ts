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
  /** Resolves when the lock for `key` is no longer held (released or expired), or after `timeoutMs`. */
  waitForRelease(key: string, timeoutMs: number): Promise<void>
  /** The input failure the last holder of `key` published, if any (recent only). */
  lastFailure(key: string): Promise<string | null>
  close(): Promise<void>
}

export class LocalLock implements BuildLock {
  async tryAcquire(): Promise<LockHandle> {
    return { release: async () => {} }
  }
  async waitForRelease(): Promise<void> {}
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
  private readonly waiters = new Map<string, Set<() => void>>()
  private subscribed: Promise<unknown> | undefined

  constructor(
    url: string,
    private readonly opts: { ttlMs: number; prefix?: string } = { ttlMs: 30_000 },
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
    for (const fn of set) fn()
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

  async waitForRelease(key: string, timeoutMs: number): Promise<void> {
    // a failed SUBSCRIBE (Redis down for a moment) must not poison every later wait
    this.subscribed ??= this.sub.subscribe(CHANNEL).catch((err: unknown) => {
      this.subscribed = undefined
      throw err
    })
    await this.subscribed.catch(() => {}) // without the message we still poll the key below
    const k = this.lockKey(key)
    await new Promise<void>((resolve) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(timer)
        clearInterval(poll)
        const set = this.waiters.get(key)
        set?.delete(finish)
        if (set?.size === 0) this.waiters.delete(key)
        resolve()
      }
      const set = this.waiters.get(key) ?? new Set()
      set.add(finish)
      this.waiters.set(key, set)
      const timer = setTimeout(finish, timeoutMs)
      const poll = setInterval(() => {
        void this.redis.exists(k).then((n) => n === 0 && finish(), () => {})
      }, 500)
      void this.redis.exists(k).then((n) => n === 0 && finish(), () => {})
    })
  }

  async close(): Promise<void> {
    this.redis.disconnect()
    this.sub.disconnect()
  }
}
