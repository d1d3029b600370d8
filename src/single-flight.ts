/**
 * Single-flight: concurrent callers with the same key share one in-flight promise, so a burst of
 * identical requests does the work once.
 */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>()

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key)
    if (existing) return existing
    const p = (async () => {
      try {
        return await fn()
      } finally {
        this.inflight.delete(key)
      }
    })()
    this.inflight.set(key, p)
    return p
  }

  get size(): number {
    return this.inflight.size
  }
}
