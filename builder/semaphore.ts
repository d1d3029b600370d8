/** Bounds how many builds run at once; waiters are served in arrival order. */
export class Semaphore {
  private active = 0
  private readonly queue: (() => void)[] = []

  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve))
    this.active++
    let released = false
    return () => {
      if (released) return
      released = true
      this.active--
      this.queue.shift()?.()
    }
  }

  get running(): number {
    return this.active
  }

  get waiting(): number {
    return this.queue.length
  }
}
