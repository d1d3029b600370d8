/**
 * Runs builds: one per cache key in this process (single flight) and, with Redis, one per key in
 * the cluster (lock). Every caller gets bytes as soon as they exist by following the build's
 * output file; a caller that goes away does not cancel a build others wait on; builds are
 * bounded in number and time. Finished assets are published atomically into the store.
 */
import { writeFile, rm } from 'node:fs/promises'
import type { Logger } from '../src/log.ts'
import type { AssetMeta, AssetStore } from '../src/store/asset-store.ts'
import { GrowingFile } from './growing-file.ts'
import type { BuildLock } from './lock.ts'
import { Semaphore } from './semaphore.ts'
import { BUILD_BUCKETS, Histogram, Registry } from '../src/metrics.ts'
import { BuildInputError, type BuildJob, type RunBuild } from './job.ts'
import { ProgressHub, type FileWatch } from './progress.ts'

export type AssetResult =
  | { kind: 'file'; meta: AssetMeta; path: string }
  | { kind: 'stream'; stream: ReadableStream<Uint8Array>; contentType: string; key: string }

export interface BuildCounters {
  /** imager processes started by this builder */
  imagerRuns: number
  hits: number
  misses: number
  /** callers that joined a build already running in this process */
  joined: number
  /** builds another node did while this one waited on the lock */
  peerBuilds: number
  failures: number
}

interface Flight {
  growing: GrowingFile | null
  started: Promise<void>
  done: Promise<void>
}

export interface BuildManagerOptions {
  store: AssetStore
  lock: BuildLock
  run: RunBuild
  concurrency: number
  timeoutMs: number
  log: Logger
  /** where build progress is reported (shared through Redis when configured); a local hub by default */
  progress?: ProgressHub
  /** Metrics of the runner (e.g. whether layers carry SELinux labels), added by registerMetrics. */
  runnerMetrics?: (registry: Registry) => void
}

export class BuildManager {
  readonly counters: BuildCounters = { imagerRuns: 0, hits: 0, misses: 0, joined: 0, peerBuilds: 0, failures: 0 }
  /** seconds from start to published asset, and waiting for a build slot */
  readonly buildSeconds = new Histogram('image_factory_build_duration_seconds', 'Time from imager start to published asset.', BUILD_BUCKETS)
  readonly queueSeconds = new Histogram('image_factory_build_queue_wait_seconds', 'Time a build waited for a free build slot.', BUILD_BUCKETS)
  private readonly inflight = new Map<string, Flight>()
  private readonly sem: Semaphore
  /** build progress per cache key (queued, building, done, failed), for the UI */
  readonly progress: ProgressHub

  constructor(private readonly opts: BuildManagerOptions) {
    this.sem = new Semaphore(opts.concurrency)
    this.progress = opts.progress ?? new ProgressHub({ log: opts.log })
  }

  /** Registers this builder's metrics (Prometheus) in `registry`. */
  registerMetrics(registry: Registry): void {
    const c = this.counters
    registry.counterFunc('image_factory_imager_runs_total', 'Imager processes started by this builder.', () => c.imagerRuns)
    registry.counterFunc('image_factory_build_requests_hit_total', 'Build requests answered from the asset store.', () => c.hits)
    registry.counterFunc('image_factory_build_requests_miss_total', 'Build requests that started a build.', () => c.misses)
    registry.counterFunc('image_factory_build_requests_joined_total', 'Build requests that joined a build already running here.', () => c.joined)
    registry.counterFunc('image_factory_build_peer_total', 'Builds another node did while this one waited on the lock.', () => c.peerBuilds)
    registry.counterFunc('image_factory_build_failures_total', 'Builds that failed.', () => c.failures)
    registry.gauge('image_factory_builds_running', 'Builds running now.', () => this.running)
    registry.gauge('image_factory_builds_queued', 'Builds waiting for a slot.', () => this.queued)
    registry.gauge('image_factory_asset_store_bytes', 'Bytes in the asset store.', () => this.opts.store.totalBytes)
    registry.add(this.buildSeconds)
    registry.add(this.queueSeconds)
    this.opts.runnerMetrics?.(registry)
  }

  /** A snapshot of this builder for /v1/stats and /status: counters, slots in use, store size. */
  stats(): BuildCounters & { running: number; queued: number; storeBytes: number } {
    return { ...this.counters, running: this.running, queued: this.queued, storeBytes: this.opts.store.totalBytes }
  }

  get running(): number {
    return this.sem.running
  }

  get queued(): number {
    return this.sem.waiting
  }

  /** The asset for `job`: a finished file (hit) or a stream that follows the build (miss). */
  async request(job: BuildJob): Promise<AssetResult> {
    const hit = await this.lookup(job)
    if (hit) {
      this.counters.hits++
      return hit
    }
    let flight = this.inflight.get(job.key)
    if (flight) this.counters.joined++
    else {
      this.counters.misses++
      flight = this.start(job)
    }
    await Promise.race([flight.started, flight.done.catch(() => {})])
    const growing = flight.growing
    if (growing && growing.state.kind === 'running') {
      await growing.firstByteOrEnd()
      const state = growing.state as GrowingFile['state']
      if (state.kind === 'failed') throw state.error
      try {
        return { kind: 'stream', stream: await growing.reader(), contentType: job.contentType, key: job.key }
      } catch {
        // already published into the store: serve it from there
      }
    }
    await flight.done
    const done = await this.lookup(job)
    if (!done) throw new Error(`build of ${job.key} finished but the asset is missing`)
    return done
  }

  private async lookup(job: BuildJob): Promise<AssetResult | null> {
    const meta = await this.opts.store.lookup(job.key)
    if (!meta) return null
    if (!meta.urls.includes(job.urlParts.join('/'))) await this.opts.store.linkUrl(job.key, job.urlParts)
    return { kind: 'file', meta, path: this.opts.store.assetPath(job.key) }
  }

  private start(job: BuildJob): Flight {
    let markStarted!: () => void
    const flight: Flight = { growing: null, started: new Promise<void>((r) => (markStarted = r)), done: Promise.resolve() }
    const built = this.progress.track(job.key, this.build(job, flight, markStarted), () => this.opts.store.lookup(job.key))
    flight.done = built.finally(() => {
      markStarted()
      this.inflight.delete(job.key)
    })
    flight.done.catch(() => {}) // observed by callers; never an unhandled rejection
    this.inflight.set(job.key, flight)
    return flight
  }

  private async build(job: BuildJob, flight: Flight, markStarted: () => void): Promise<void> {
    const log = this.opts.log.child({ key: job.key, asset: job.urlParts.join('/') })
    await this.opts.store.init()
    for (let attempt = 0; attempt < 5; attempt++) {
      // A build slot first, then the cluster lock: a busy node must not hold locks for builds
      // that are only queued here while idle nodes wait on them.
      const queuedAt = performance.now()
      this.progress.queued(job.key, 'slot')
      const release = await this.sem.acquire()
      let lock
      try {
        lock = await this.opts.lock.tryAcquire(job.key)
      } catch (err) {
        release()
        throw err
      }
      if (!lock) {
        release()
        this.progress.queued(job.key, 'lock')
        log.info('waiting for another builder')
        await this.opts.lock.waitForRelease(job.key, this.opts.timeoutMs)
        if (await this.opts.store.lookup(job.key)) {
          this.counters.peerBuilds++
          return
        }
        // the holder failed because of the input: the same error, without building again
        const failure = await this.opts.lock.lastFailure(job.key)
        if (failure !== null) throw new BuildInputError(failure)
        continue // the holder died (or failed for another reason): try to take over
      }
      let failure: string | undefined
      try {
        this.queueSeconds.observe((performance.now() - queuedAt) / 1000)
        if (await this.opts.store.lookup(job.key)) return
        await this.runLocked(job, flight, markStarted, log)
        return
      } catch (err) {
        if (err instanceof BuildInputError) failure = err.message
        throw err
      } finally {
        release()
        await lock.release(failure)
      }
    }
    throw new Error(`could not build ${job.urlParts.join('/')}: other builders kept failing`)
  }

  /** Runs the imager; the caller holds a build slot and the lock. */
  private async runLocked(job: BuildJob, flight: Flight, markStarted: () => void, log: Logger): Promise<void> {
    const startedAt = performance.now()
    const tmp = this.opts.store.tempPath(job.key)
    const growing = new GrowingFile(tmp)
    let watch: FileWatch | undefined
    try {
      await writeFile(tmp, new Uint8Array(0))
      flight.growing = growing
      watch = this.progress.watchFile(job.key, tmp)
      markStarted()
      this.counters.imagerRuns++
      log.info('building image asset', { version: job.version })
      await this.opts.run(job, tmp, AbortSignal.timeout(this.opts.timeoutMs))
      watch.publishing()
      await this.opts.store.commit(job.key, tmp, job.contentType)
      await this.opts.store.linkUrl(job.key, job.urlParts)
      growing.finish()
      const seconds = (performance.now() - startedAt) / 1000
      this.buildSeconds.observe(seconds)
      log.info('finished building image asset', { build_seconds: Math.round(seconds * 1000) / 1000 })
    } catch (err) {
      this.counters.failures++
      const error = err instanceof Error ? err : new Error(String(err))
      growing.fail(error)
      await rm(tmp, { force: true })
      log.warn('build failed', { error: error.message })
      throw error
    } finally {
      watch?.stop()
    }
  }
}
