/**
 * Build progress per cache key, for the UI's progress bar (edge SSE endpoint `/progress/…`).
 *
 * The BuildManager reports what it does with each key — waiting for a build slot or for another
 * node's lock (`queued`), running the imager with the bytes written so far (`building`), and the
 * outcome (`done` with size and sha256, `failed` with a one-line reason) — and readers subscribe
 * per key. With a transport (Redis, builder/progress-redis.ts) the lock holder's states are shared
 * with the other nodes, so a node that did not run a build still reports it.
 *
 * Only the lock holder's states are shared: `queued` is about the node that waits (its own slot or
 * another node's lock) and stays local, so a waiter never overwrites the builder's progress.
 * Failure reasons are reduced to what a client may see before they leave this module (no host
 * paths or tool output, which the imager's errors can carry).
 */
import * as v from 'valibot'
import { statSync } from 'node:fs'
import { isFactoryError } from '../src/errors.ts'
import type { Logger } from '../src/log.ts'
import { BuildInputError } from './job.ts'

export const BUILD_PHASES = ['preparing', 'writing', 'publishing'] as const
/** preparing: fetching inputs, nothing written yet; writing: the output grows; publishing: hashing and moving it into the store */
export type BuildPhase = (typeof BUILD_PHASES)[number]

const Sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))

export const ProgressEventSchema = v.variant('state', [
  v.object({ state: v.literal('queued'), reason: v.picklist(['slot', 'lock']) }),
  v.object({ state: v.literal('building'), phase: v.picklist(BUILD_PHASES), bytes: Count }),
  v.object({ state: v.literal('done'), size: Count, sha256: Sha256 }),
  v.object({ state: v.literal('failed'), reason: v.pipe(v.string(), v.maxLength(1000)) }),
])
export type ProgressEvent = v.InferOutput<typeof ProgressEventSchema>
export type ProgressListener = (event: ProgressEvent) => void

/** An event with the time it happened (ms since the epoch), to pick the newest of two sources. */
export const StampedSchema = v.object({ event: ProgressEventSchema, at: Count })
export type Stamped = v.InferOutput<typeof StampedSchema>

export function isTerminal(event: ProgressEvent): boolean {
  return event.state === 'done' || event.state === 'failed'
}

/** What readers of progress need (the edge: this hub in embedded mode, the daemon's API otherwise). */
export interface ProgressFeed {
  /**
   * Calls `listener` with the current state of `key` when one is known, then with every change;
   * resolves once subscribed, with the function that unsubscribes.
   */
  subscribe(key: string, listener: ProgressListener): Promise<() => void>
}

/** Shares the lock holder's states with the other nodes. */
export interface ProgressTransport {
  publish(key: string, entry: Stamped): Promise<void>
  /** The last shared state of `key`, if recent. */
  last(key: string): Promise<Stamped | null>
  /** Starts delivering other nodes' states; resolves once listening. */
  listen(onRemote: (key: string, entry: Stamped) => void): Promise<void>
  close(): Promise<void>
}

/** The reason a client may see for a failed build (never host paths or tool output). */
export function publicFailureReason(err: unknown): string {
  const line = (s: string) => (s.split('\n')[0] ?? '').trim().slice(0, 1000)
  // input problems (incompatible extension, bad option) are the client's to fix, like the 400 /image answers
  if (err instanceof BuildInputError) return line(err.message) || 'invalid build input'
  if (isFactoryError(err) && err.status !== 500) return line(err.message) || 'build failed'
  return 'build failed (see the factory log)'
}

export interface FileWatch {
  /** The output is complete; it is being hashed and published. */
  publishing(): void
  stop(): void
}

export interface ProgressHubOptions {
  transport?: ProgressTransport
  log?: Logger
  /** how often a running build's output size is sampled */
  sampleMs?: number
  /** a running build re-announces its state at least this often (keeps the shared state alive) */
  heartbeatMs?: number
  /** how long a finished build's outcome is kept for late subscribers */
  retainMs?: number
}

interface KeyState extends Stamped {
  expiry?: ReturnType<typeof setTimeout>
}

export class ProgressHub implements ProgressFeed {
  private readonly states = new Map<string, KeyState>()
  private readonly listeners = new Map<string, Set<ProgressListener>>()
  /** keys whose build this node runs (it holds the lock): their outcome is shared */
  private readonly owned = new Set<string>()
  private listening: Promise<void> | undefined
  private readonly sampleMs: number
  private readonly heartbeatMs: number
  private readonly retainMs: number

  constructor(private readonly opts: ProgressHubOptions = {}) {
    this.sampleMs = opts.sampleMs ?? 200
    this.heartbeatMs = opts.heartbeatMs ?? 2000
    this.retainMs = opts.retainMs ?? 60_000
  }

  // ---- reporting (BuildManager) ------------------------------------------------------------

  /** This node waits for a build slot (`slot`) or for another node's lock (`lock`). */
  queued(key: string, reason: 'slot' | 'lock'): void {
    this.set(key, { state: 'queued', reason }, false)
  }

  /**
   * This node builds `key` into `path`: reports `building` with the file's size as it grows (and
   * at least every heartbeat) until stopped.
   */
  watchFile(key: string, path: string): FileWatch {
    this.owned.add(key)
    let stopped = false
    let publishing = false
    let last: { bytes: number; phase: BuildPhase; at: number } | undefined
    const tick = () => {
      if (stopped) return
      const bytes = fileSize(path) ?? last?.bytes ?? 0
      const phase: BuildPhase = publishing ? 'publishing' : bytes > 0 ? 'writing' : 'preparing'
      const now = Date.now()
      if (last && last.bytes === bytes && last.phase === phase && now - last.at < this.heartbeatMs) return
      last = { bytes, phase, at: now }
      this.set(key, { state: 'building', phase, bytes }, true)
    }
    tick()
    const timer = setInterval(tick, this.sampleMs)
    timer.unref?.()
    return {
      publishing: () => {
        tick() // the final size, before the phase changes
        publishing = true
        tick()
      },
      stop: () => {
        stopped = true
        clearInterval(timer)
      },
    }
  }

  /**
   * Passes `build` through, reporting its outcome: `done` with the stored asset's size and sha256
   * (from `describe`), or `failed` with a reason a client may see.
   */
  track<T>(key: string, build: Promise<T>, describe: () => Promise<{ size: number; sha256: string } | null>): Promise<T> {
    return build.then(
      async (result) => {
        const meta = await describe().catch(() => null)
        this.finish(key, meta ? { state: 'done', size: meta.size, sha256: meta.sha256 } : { state: 'failed', reason: 'build failed (see the factory log)' })
        return result
      },
      (err: unknown) => {
        this.finish(key, { state: 'failed', reason: publicFailureReason(err) })
        throw err
      },
    )
  }

  private finish(key: string, event: ProgressEvent): void {
    const share = this.owned.delete(key)
    this.set(key, event, share)
  }

  // ---- reading -------------------------------------------------------------------------------

  async subscribe(key: string, listener: ProgressListener): Promise<() => void> {
    const set = this.listeners.get(key) ?? new Set<ProgressListener>()
    set.add(listener)
    this.listeners.set(key, set)
    const unsubscribe = () => {
      const s = this.listeners.get(key)
      s?.delete(listener)
      if (s?.size === 0) this.listeners.delete(key)
    }
    // listen before reading the shared state, so nothing published in between is missed
    let remote: Stamped | null = null
    if (this.opts.transport) {
      try {
        await this.listen()
        remote = await this.opts.transport.last(key)
      } catch (err) {
        this.opts.log?.warn('shared build progress unavailable', { error: err instanceof Error ? err.message : String(err) })
      }
    }
    const local = this.states.get(key)
    const current = local && (!remote || local.at >= remote.at) ? local : remote
    // a change that arrived while reading the shared state was already delivered; only send the
    // snapshot if it is still the newest
    const now = this.states.get(key)
    if (current && (!now || now.at <= current.at)) listener(current.event)
    return unsubscribe
  }

  /** The state this node knows for `key` (tests, diagnostics). */
  current(key: string): ProgressEvent | undefined {
    return this.states.get(key)?.event
  }

  async close(): Promise<void> {
    for (const s of this.states.values()) if (s.expiry) clearTimeout(s.expiry)
    this.states.clear()
    this.listeners.clear()
    await this.opts.transport?.close()
  }

  private listen(): Promise<void> {
    const transport = this.opts.transport
    if (!transport) return Promise.resolve()
    this.listening ??= transport
      .listen((key, entry) => {
        // states of builds nobody here watches are not kept (a node that died mid-build would
        // leave them behind); subscribers read the shared state when they arrive
        if (!this.listeners.has(key)) return
        const mine = this.states.get(key)
        if (mine && mine.at > entry.at) return
        this.store(key, entry)
        this.deliver(key, entry.event)
      })
      .catch((err: unknown) => {
        this.listening = undefined // try again with the next subscriber
        throw err
      })
    return this.listening
  }

  private set(key: string, event: ProgressEvent, share: boolean): void {
    const entry: Stamped = { event, at: Date.now() }
    this.store(key, entry)
    this.deliver(key, event)
    if (share && this.opts.transport) {
      void this.opts.transport.publish(key, entry).catch((err: unknown) => {
        this.opts.log?.debug('publishing build progress failed', { key, error: err instanceof Error ? err.message : String(err) })
      })
    }
  }

  private store(key: string, entry: Stamped): void {
    const prev = this.states.get(key)
    if (prev?.expiry) clearTimeout(prev.expiry)
    const next: KeyState = { ...entry }
    if (isTerminal(entry.event)) {
      next.expiry = setTimeout(() => {
        if (this.states.get(key) === next) this.states.delete(key)
      }, this.retainMs)
      next.expiry.unref?.()
    }
    this.states.set(key, next)
  }

  private deliver(key: string, event: ProgressEvent): void {
    for (const fn of [...(this.listeners.get(key) ?? [])]) {
      try {
        fn(event)
      } catch (err) {
        this.opts.log?.warn('progress listener failed', { key, error: err instanceof Error ? err.message : String(err) })
      }
    }
  }
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size
  } catch {
    return undefined // not created yet, or already moved into the store
  }
}
