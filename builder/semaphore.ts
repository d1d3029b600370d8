/**
 * Bounds how many builds run at once; waiters are served in arrival order. A released slot is
 * handed straight to the next waiter, so a caller arriving in between cannot overtake it and
 * the limit is never exceeded.
 */
export class Semaphore {
  private active = 0
  private readonly queue: (() => void)[] = []

  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.active < this.limit) this.active++
    else await new Promise<void>((resolve) => this.queue.push(resolve)) // slot handed over, already counted
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.queue.shift()
      if (next) next()
      else this.active--
    }
  }

  get running(): number {
    return this.active
  }

  get waiting(): number {
    return this.queue.length
  }
}
