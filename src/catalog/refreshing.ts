/**
 * A value loaded from upstream that stays available when upstream is down: served from memory
 * while fresh, refreshed in the background once older than the interval (callers never wait for
 * a refresh when a value exists), and on a cold start with upstream unreachable it falls back to
 * the shared cache (Redis) before giving up. `stale` tells the caller the last refresh failed, so
 * the edge can add a Warning header.
 */
import type { Logger } from '../log.ts'
import type { SharedCache } from './shared-cache.ts'
import { SingleFlight } from '../single-flight.ts'

export interface Fresh<T> {
  value: T
  /** true when the value could not be refreshed from upstream */
  stale: boolean
}

export class RefreshingValue<T> {
  private value: T | undefined
  /** when the next background refresh is due (after maxAge on success, after a backoff on failure) */
  private refreshAt = 0
  private failedSince: number | null = null
  private failures = 0
  private readonly flight = new SingleFlight<T>()

  constructor(
    private readonly opts: {
      name: string
      load: () => Promise<T>
      maxAgeMs: number
      log: Logger
      shared?: SharedCache
      now?: () => number
    },
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)()
  }

  /** Loads from upstream (single-flighted); on success updates memory and the shared cache. */
  refresh(): Promise<T> {
    return this.flight.run('load', async () => {
      try {
        const value = await this.opts.load()
        this.value = value
        this.refreshAt = this.now() + this.opts.maxAgeMs
        if (this.failedSince !== null) this.opts.log.info('upstream recovered', { catalog: this.opts.name })
        this.failedSince = null
        this.failures = 0
        await this.opts.shared?.set(this.opts.name, JSON.stringify(value)).catch((err: unknown) => {
          this.opts.log.warn('shared cache write failed', { catalog: this.opts.name, error: String(err) })
        })
        return value
      } catch (err) {
        this.failedSince ??= this.now()
        // retry with backoff (1 s, 2 s, … up to 1 min), never more often than the normal interval
        this.failures++
        this.refreshAt = this.now() + Math.min(this.opts.maxAgeMs, 60_000, 1000 * 2 ** Math.min(this.failures - 1, 6))
        this.opts.log.warn('upstream refresh failed', { catalog: this.opts.name, error: err instanceof Error ? err.message : String(err) })
        throw err
      }
    })
  }

  async get(): Promise<Fresh<T>> {
    if (this.value === undefined) {
      try {
        return { value: await this.refresh(), stale: false }
      } catch (err) {
        const shared = await this.opts.shared?.get(this.opts.name).catch(() => null)
        if (shared) {
          this.value = JSON.parse(shared) as T
          // keep trying upstream (with the backoff set by the failed refresh) until it answers
          return { value: this.value, stale: true }
        }
        throw err
      }
    }
    if (this.now() >= this.refreshAt) void this.refresh().catch(() => {})
    return { value: this.value, stale: this.failedSince !== null }
  }

  /** The last refresh from upstream failed. */
  get failing(): boolean {
    return this.failedSince !== null
  }
}
