/**
 * The asset pipeline of the edge (factory-spec §6.1): schematic → version → path → profile →
 * cache key → store hit, or a build streamed from the builder. Planning is pure (src/asset);
 * this module adds the stores and the builder.
 */
import { NotFoundError, NotImplementedError } from '../src/errors.ts'
import { BUILT_KINDS } from '../src/asset/kinds.ts'
import type { Logger } from '../src/log.ts'
import type { Catalog } from '../src/catalog/catalog.ts'
import type { SchematicService } from '../src/schematic/service.ts'
import type { AssetStore, AssetMeta } from '../src/store/asset-store.ts'
import type { BuildJob } from '../src/asset/job.ts'
import { ENHANCE_ERROR_PREFIX, PATH_ERROR_PREFIX, parseAssetPath, prefixError, type AssetRequest } from '../src/asset/path.ts'
import { buildProfile } from '../src/asset/profile.ts'
import { profileCacheKey } from '../src/asset/cache-key.ts'
import { contentTypeFor } from '../src/asset/mime.ts'
import { formatVersionTag } from '../src/talos/semver.ts'
import type { BuilderClient, BuiltAsset } from './builder-client.ts'

export interface PlannedAsset {
  job: BuildJob
  request: AssetRequest
  versionTag: string
  /** the catalogue could not be refreshed (answer may be stale) */
  stale: boolean
}

export interface AssetCounters {
  hits: number
  misses: number
}

export class AssetService {
  readonly counters: AssetCounters = { hits: 0, misses: 0 }

  constructor(
    private readonly deps: {
      schematics: SchematicService
      catalog: Catalog
      store: AssetStore
      builder: BuilderClient
      log: Logger
      /** native imager output revision salted into cache keys (default IMAGER_REVISION; tests change it) */
      imagerRevision?: number
    },
  ) {}

  /**
   * Resolves a URL into a build job; throws 400/404 with the reference's reasons, in the
   * reference's order (factory-spec §6.1): unknown schematic, malformed version, bad path, version
   * not available, profile enhancement.
   */
  async plan(schematicId: string, rawVersion: string, path: string): Promise<PlannedAsset> {
    const stored = await this.deps.schematics.get(schematicId)
    if (!stored) throw new NotFoundError(`schematic ID ${JSON.stringify(schematicId)} not found`)
    // factory-spec §6.1 order: schematic 404, version parse (400 here, 500 in the reference), path
    // 400, then availability 404, then profile enhancement
    this.deps.catalog.parseVersion(rawVersion)
    let request: AssetRequest
    try {
      request = parseAssetPath(path)
    } catch (err) {
      throw prefixError(err, PATH_ERROR_PREFIX)
    }
    const { version, stale } = await this.deps.catalog.requireVersion(rawVersion)
    const versionTag = formatVersionTag(version)
    if (!BUILT_KINDS.has(request.kind)) throw new NotImplementedError(`${request.kind} assets are not built by this factory yet`)
    const catalog = this.deps.catalog
    let built
    try {
      built = await buildProfile(request, stored.schematic, versionTag, {
        schematicId,
        resolveExtension: async (name) => {
          const list = (await catalog.extensions(versionTag)).value
          const found = list.find((e) => e.name === name)
          return found ? { ref: found.ref, digest: found.digest } : null
        },
        resolveOverlay: async (name) => {
          const list = (await catalog.overlays(versionTag)).value
          const found = list.find((o) => o.name === name)
          return found ? { name: found.name, ref: found.ref, digest: found.digest, profile: null } : null
        },
      })
    } catch (err) {
      throw prefixError(err, ENHANCE_ERROR_PREFIX)
    }
    const key = profileCacheKey(built.profile, this.deps.imagerRevision)
    const job: BuildJob = {
      key,
      contentType: contentTypeFor(path),
      urlParts: [schematicId, versionTag, path],
      version: versionTag,
      schematic: { id: schematicId, canonical: stored.canonical },
      profile: built.profile as unknown as Record<string, unknown>,
      dependencies: built.dependencies as unknown as Record<string, unknown>[],
    }
    return { job, request, versionTag, stale }
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

  /** The asset: a hit from the store or a (possibly still running) build. */
  async fetch(job: BuildJob): Promise<BuiltAsset & { meta?: AssetMeta }> {
    const hit = await this.lookup(job)
    if (hit) {
      this.counters.hits++
      return { kind: 'file', path: hit.path, meta: hit.meta }
    }
    this.counters.misses++
    return this.deps.builder.build(job)
  }

  /** Builds (if needed) and waits for completion; returns the stored metadata. */
  async ensure(job: BuildJob): Promise<{ meta: AssetMeta; path: string }> {
    const got = await this.fetch(job)
    if (got.kind === 'stream') {
      const reader = got.stream.getReader()
      for (;;) if ((await reader.read()).done) break
    }
    const hit = await this.lookup(job)
    if (!hit) throw new Error('asset was built but is not in the store (is the data directory shared with the builder?)')
    return hit
  }

  /** A small asset's text (cmdline), building it when needed. */
  async text(job: BuildJob): Promise<string> {
    const { path } = await this.ensure(job)
    return Bun.file(path).text()
  }
}
