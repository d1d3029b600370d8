/**
 * Schematic parsing off the event loop: a few Bun workers (./parse-worker.ts) run the synchronous
 * parser, one request each at a time. A parse over its time budget costs that worker, not the
 * process: the worker is terminated and replaced, and the request gets a 400 naming the budget.
 * Requests wait in a bounded queue; beyond it they get a 503 at once, so a flood of bodies cannot
 * pile up memory or latency. Large bodies (which take a worker up to a second) never hold every
 * worker: one is kept for small ones, which take a millisecond, so they are not stuck behind them.
 */
import { FactoryError, InvalidInputError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { STORED_PARSE_LIMITS, withDefaults, type ParseLimits } from './limits.ts'
import type { Schematic } from './types.ts'
import { schematicFromWire, type WireSchematic } from './wire.ts'

/** Every parser worker is busy and the queue is full (or the pool is closed). */
export class ParserBusyError extends FactoryError {
  readonly status = 503
}

export type WorkerRequest = {
  seq: number
  limits: ParseLimits
  /** `canonicalize`: a POSTed body (validated, canonical form and ID); `parse`: stored canonical text. */
  op: 'canonicalize' | 'parse'
  body: Uint8Array | string
}

export type WorkerReply =
  | { ready: true }
  /** a warming worker (`warm`) has finished letting its JIT optimise; it answered requests meanwhile */
  | { warmed: true }
  | { seq: number; ok: true; op: 'canonicalize'; id: string; canonical: string }
  | ({ seq: number; ok: true; op: 'parse' } & WireSchematic)
  | { seq: number; ok: false; status: number; message: string }

export interface ParserPoolOptions {
  /** Workers (parses at once). */
  workers: number
  /** Budget of one parse, from when a worker takes it. */
  timeoutMs: number
  /** Requests that may wait for a worker. */
  maxQueue: number
  limits?: Partial<ParseLimits>
  log?: Logger
  /** Let each worker's JIT warm up on a large document when it starts (a serving edge). */
  warm?: boolean
}

export interface ParserPoolStats {
  workers: number
  busy: number
  queued: number
  /** Parses stopped at the time budget (each cost a worker restart). */
  timeouts: number
  /** Requests refused because the queue was full. */
  rejected: number
  /** Workers that died on their own (a parser fault). */
  crashes: number
  /** Workers whose JIT warm-up has finished (`warm` pools; they serve requests while warming). */
  warmed: number
}

/** Bodies above this many bytes (or characters) are "large" (see the lane rule above). */
export const LARGE_BODY = 64 * 1024

interface Pending {
  request: Omit<WorkerRequest, 'seq'>
  large: boolean
  resolve(reply: WorkerReply): void
  reject(err: Error): void
}

interface Slot {
  worker: Worker
  ready: boolean
  warmed?: boolean
  job?: Pending & { seq: number; timer: ReturnType<typeof setTimeout> }
}

const WORKER_URL = new URL('./parse-worker.ts', import.meta.url).href

export class SchematicParserPool {
  private readonly slots: Slot[] = []
  private readonly queue: Pending[] = []
  private readonly limits: ParseLimits
  private seq = 0
  private closed = false
  private readonly counts = { timeouts: 0, rejected: 0, crashes: 0 }
  private readonly readyWaiters: (() => void)[] = []

  constructor(private readonly opts: ParserPoolOptions) {
    if (!(opts.workers >= 1) || !(opts.timeoutMs > 0) || !(opts.maxQueue >= 0)) throw new RangeError('parser pool: workers ≥ 1, timeout > 0, queue ≥ 0')
    this.limits = withDefaults(opts.limits)
  }

  /** Workers start with the first request, so a process that never parses pays nothing. */
  private startWorkers(): void {
    if (this.slots.length > 0 || this.closed) return
    for (let i = 0; i < this.opts.workers; i++) this.slots.push(this.start())
  }

  /** parse → validate → canonical form → ID, in a worker. */
  async canonicalize(body: Uint8Array | string): Promise<{ id: string; canonical: string }> {
    const reply = await this.submit({ op: 'canonicalize', body, limits: this.limits })
    if (!('op' in reply) || reply.op !== 'canonicalize') throw new Error('parser worker answered the wrong request')
    return { id: reply.id, canonical: reply.canonical }
  }

  /** Decodes stored canonical YAML, in a worker (with the limits for stored schematics). */
  async parse(text: string): Promise<Schematic> {
    const reply = await this.submit({ op: 'parse', body: text, limits: { ...this.limits, ...STORED_PARSE_LIMITS } })
    if (!('op' in reply) || reply.op !== 'parse') throw new Error('parser worker answered the wrong request')
    return schematicFromWire(reply)
  }

  /** Resolves once every worker has started (requests sent before simply wait for them). */
  async ready(): Promise<void> {
    this.startWorkers()
    while (!this.closed && !this.slots.every((s) => s.ready)) {
      await new Promise<void>((resolve) => this.readyWaiters.push(resolve))
    }
  }

  stats(): ParserPoolStats {
    return { workers: this.opts.workers, busy: this.slots.filter((s) => s.job).length, queued: this.queue.length, warmed: this.slots.filter((s) => s.warmed).length, ...this.counts }
  }

  /** Stops every worker; waiting and running requests fail with a 503. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const wake of this.readyWaiters.splice(0)) wake()
    const gone = new ParserBusyError('the schematic parser is shutting down')
    for (const p of this.queue.splice(0)) p.reject(gone)
    for (const slot of this.slots) {
      if (slot.job) {
        clearTimeout(slot.job.timer)
        slot.job.reject(gone)
        slot.job = undefined
      }
      slot.worker.terminate()
    }
  }

  private submit(request: Omit<WorkerRequest, 'seq'>): Promise<WorkerReply> {
    if (this.closed) return Promise.reject(new ParserBusyError('the schematic parser is shutting down'))
    this.startWorkers()
    return new Promise<WorkerReply>((resolve, reject) => {
      const pending: Pending = { request, large: request.body.length > LARGE_BODY, resolve, reject }
      this.queue.push(pending)
      this.dispatch()
      // not taken by a worker and no room to wait: refused at once
      if (this.queue.length > this.opts.maxQueue && this.queue.at(-1) === pending) {
        this.queue.pop()
        this.counts.rejected++
        const busy = this.slots.filter((s) => s.job).length
        reject(new ParserBusyError(`too many schematics are being parsed (${busy} parsing, ${this.queue.length} waiting, the queue limit); retry later`))
      }
    }).then((reply) => {
      if ('ok' in reply && !reply.ok) throw reply.status === 400 ? new InvalidInputError(reply.message) : new Error(`schematic parser: ${reply.message}`)
      return reply
    })
  }

  private dispatch(): void {
    const maxLarge = Math.max(1, this.slots.length - 1)
    for (const slot of this.slots) {
      if (this.queue.length === 0) return
      if (!slot.ready || slot.job) continue
      // first come, first served, except that large bodies leave one worker to the small ones
      const largeRunning = this.slots.filter((s) => s.job?.large).length
      const at = this.queue.findIndex((p) => !p.large || largeRunning < maxLarge)
      if (at < 0) return
      const [next] = this.queue.splice(at, 1) as [Pending]
      const seq = ++this.seq
      const timer = setTimeout(() => this.expire(slot, seq), this.opts.timeoutMs)
      slot.job = { ...next, seq, timer }
      slot.worker.postMessage({ ...next.request, seq } satisfies WorkerRequest)
    }
  }

  /** Starts a worker, in `slot` (replacing its worker) or in a new slot. */
  private start(slot?: Slot): Slot {
    // argv tells the worker whether to spend its start-up letting the JIT optimise (a serving edge)
    const worker = new Worker(WORKER_URL, { argv: this.opts.warm ? ['--warm'] : [] })
    const s: Slot = slot ?? { worker, ready: false }
    s.worker = worker
    s.ready = false
    s.warmed = false
    // Events of a worker that was replaced are ignored.
    worker.addEventListener('message', (event: MessageEvent<WorkerReply>) => {
      if (s.worker !== worker) return
      const reply = event.data
      if ('warmed' in reply) {
        s.warmed = true
      } else if ('ready' in reply) {
        s.ready = true
        for (const wake of this.readyWaiters.splice(0)) wake()
      } else if (s.job && s.job.seq === reply.seq) {
        clearTimeout(s.job.timer)
        const job = s.job
        s.job = undefined
        job.resolve(reply)
      }
      this.dispatch()
    })
    const died = (why: string): void => {
      if (s.worker !== worker || this.closed) return
      this.counts.crashes++
      this.opts.log?.error('schematic parser worker died', { error: why, ready: s.ready })
      const job = s.job
      if (job) clearTimeout(job.timer)
      s.job = undefined
      const starting = !s.ready
      s.ready = false
      job?.reject(new Error(`schematic parser worker died: ${why}`))
      if (starting) {
        // A worker that cannot even start would fail every request: refuse the waiting ones now,
        // and do not restart in a tight loop.
        for (const p of this.queue.splice(0)) p.reject(new ParserBusyError('the schematic parser is unavailable'))
        setTimeout(() => !this.closed && s.worker === worker && this.replace(s), 1000)
      } else {
        this.replace(s)
      }
    }
    worker.addEventListener('error', (event: ErrorEvent) => died(event.message || 'error'))
    worker.addEventListener('close', () => died('exited'))
    return s
  }

  private replace(slot: Slot): void {
    const old = slot.worker
    this.start(slot)
    old.terminate()
  }

  private expire(slot: Slot, seq: number): void {
    const job = slot.job
    if (!job || job.seq !== seq || this.closed) return
    this.counts.timeouts++
    slot.job = undefined
    this.opts.log?.warn('schematic parse over its time budget; worker replaced', { budget_ms: this.opts.timeoutMs })
    this.replace(slot)
    job.reject(new InvalidInputError(`schematic parsing took longer than the time budget of ${this.opts.timeoutMs} ms`))
    this.dispatch()
  }
}
