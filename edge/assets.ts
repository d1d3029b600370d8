/**
 * The asset pipeline of the edge (factory-spec §6.1): schematic → version → path → profile →
 * cache key → store hit, or a build streamed from the builder. Planning is pure (src/asset);
 * this module adds the stores and the builder.
 */
import type { Logger } from '../src/log.ts'
import type { AssetStore, AssetMeta } from '../src/store/asset-store.ts'
import type { BuildJob } from '../src/asset/job.ts'
import type { AssetPlanner, PlannedAsset } from '../src/asset/planner.ts'
import type { BuilderClient, BuiltAsset } from './builder-client.ts'

export type { PlannedAsset } from '../src/asset/planner.ts'

export interface AssetCounters {
  hits: number
  misses: number
}

export class AssetService {
  readonly counters: AssetCounters = { hits: 0, misses: 0 }

  constructor(
    private readonly deps: {
      planner: AssetPlanner
      store: AssetStore
      builder: BuilderClient
      log: Logger
    },
  ) {}

  /** Resolves a URL into a build job (src/asset/planner.ts); 400/404 with the reference's reasons. */
  plan(schematicId: string, rawVersion: string, path: string): Promise<PlannedAsset> {
    return this.deps.planner.plan(schematicId, rawVersion, path)
  }

  /** The builder this edge uses: identity and counters (null when the daemon is unreachable). */
  builderInfo(): Promise<Record<string, unknown> | null> {
    return this.deps.builder.info()
  }

  /** Bytes in the asset store and its bound. */
  storeUsage(): { bytes: number } {
    return { bytes: this.deps.store.totalBytes }
  }

  /** The builder daemon's metrics, appended to the edge's /metrics when it runs separately. */
  builderMetrics(): Promise<string> {
    return this.deps.builder.metrics()
  }

  /** A finished asset from the store, or null. */
  async lookup(job: BuildJob): Promise<{ meta: AssetMeta; path: string } | null> {
    const meta = await this.deps.store.lookup(job.key)
    if (!meta) return null
    if (!meta.urls.includes(job.urlParts.join('/'))) {
      await this.deps.store.linkUrl(job.key, job.urlParts).catch((err: unknown) => {
        this.deps.log.warn('linking asset URL failed', { key: job.key, error: String(err) })
      })
    }
    return { meta, path: this.deps.store.assetPath(job.key) }
  }

  /**
   * The asset: a hit from the store or a (possibly still running) build. `requestId` goes to the
   * builder's log.
   */
  async fetch(job: BuildJob, requestId?: string): Promise<BuiltAsset & { meta?: AssetMeta }> {
    const hit = await this.lookup(job)
    if (hit) {
      this.counters.hits++
      return { kind: 'file', path: hit.path, meta: hit.meta, key: job.key }
    }
    this.counters.misses++
    const [schematic, version, path] = job.urlParts
    return this.deps.builder.build({ schematic, version, path, ...(requestId ? { requestId } : {}) }, job)
  }

  /** Builds (if needed) and waits for completion; returns the stored metadata. */
  async ensure(job: BuildJob, requestId?: string): Promise<{ meta: AssetMeta; path: string }> {
    const got = await this.fetch(job, requestId)
    if (got.kind === 'stream') {
      const reader = got.stream.getReader()
      for (;;) if ((await reader.read()).done) break
    }
    // the builder planned the job itself: if its catalogue saw a different version list, its key
    // is the one that was published
    const hit = (await this.lookup(job)) ?? (got.key !== job.key ? await this.lookup({ ...job, key: got.key }) : null)
    if (!hit) throw new Error('asset was built but is not in the store (is the data directory shared with the builder?)')
    return hit
  }

  /** A small asset's text (cmdline), building it when needed. */
  async text(job: BuildJob, requestId?: string): Promise<string> {
    const { path } = await this.ensure(job, requestId)
    return Bun.file(path).text()
  }
}
