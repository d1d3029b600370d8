/**
 * The domain services both the edge and the builder daemon need, built from the configuration:
 * the schematic store (filesystem or OCI registry, with the LRU in front), the catalogue (upstream
 * registry, optionally shared through Redis) and the asset planner on top of them.
 *
 * Why shared: the builder plans every job itself from (schematic, version, path), so it needs the
 * same schematics and catalogue as the edge, wired the same way.
 */
import { join, resolve } from 'node:path'
import type { Config } from './config.ts'
import type { Logger } from './log.ts'
import { RegistryClient } from './oci/client.ts'
import { upstreamClient } from './oci/upstream.ts'
import { CachedSchematicStore } from './store/cached-schematic-store.ts'
import { FsSchematicStore } from './store/fs-schematic-store.ts'
import { OciSchematicStore } from './store/oci-schematic-store.ts'
import type { SchematicStore } from './store/schematic-store.ts'
import { SchematicService } from './schematic/service.ts'
import { SchematicParserPool } from './schematic/worker-pool.ts'
import { Catalog } from './catalog/catalog.ts'
import { RegistryImageSource } from './catalog/registry-source.ts'
import { RedisSharedCache, type SharedCache } from './catalog/shared-cache.ts'
import { AssetPlanner, type PlannerSecureBoot } from './asset/planner.ts'
import { PROFILE_KEY_PATHS, secureBootCacheSalt, type SecureBootMaterial } from './secureboot/keys.ts'

export function createSchematicStore(config: Config): SchematicStore {
  const s = config.schematics
  const inner: SchematicStore =
    s.store === 'oci'
      ? new OciSchematicStore({
          client: new RegistryClient({
            registry: s.registry,
            insecure: s.insecure,
            username: config.upstream.username || undefined,
            password: config.upstream.password || undefined,
          }),
          repository: s.repository,
        })
      : new FsSchematicStore(join(resolve(config.dataDir), 'schematics'))
  return new CachedSchematicStore(inner, { capacity: s.cacheSize, negativeTtlMs: s.negativeTtlMs })
}

export interface DomainServices {
  schematics: SchematicService
  catalog: Catalog
  planner: AssetPlanner
  close(): Promise<void>
}

/** The planner's view of the key set: reference profile paths plus the keys' fingerprints. */
export function plannerSecureBoot(material: SecureBootMaterial): PlannerSecureBoot {
  return {
    assets: {
      secureBootSigner: { keyPath: PROFILE_KEY_PATHS.signingKeyPath, certPath: PROFILE_KEY_PATHS.signingCertPath },
      pcrSigner: { keyPath: PROFILE_KEY_PATHS.pcrKeyPath },
    },
    cacheSalt: secureBootCacheSalt(material),
  }
}

/**
 * Builds the services and starts the catalogue's background refresh. `secureBoot`: the key set
 * from src/secureboot/keys.ts `ensureSecureBootKeys` (undefined = Secure Boot disabled).
 */
export function createDomainServices(config: Config, log: Logger, opts: { secureBoot?: SecureBootMaterial; warmParser?: boolean } = {}): DomainServices {
  const schematicLog = log.child({ component: 'schematics' })
  // schematic text is parsed in worker threads (started when first needed), never on the event loop
  const parser = new SchematicParserPool({
    workers: config.schematics.parseWorkers,
    timeoutMs: config.schematics.parseTimeoutMs,
    maxQueue: config.schematics.parseQueue,
    log: schematicLog,
    ...(opts.warmParser ? { warm: true } : {}),
  })
  // the edge starts (and warms) its workers at once, so the first POST does not pay for it
  if (opts.warmParser) void parser.ready()
  const schematics = new SchematicService(createSchematicStore(config), schematicLog, parser)
  const shared: SharedCache | undefined = config.redisUrl ? new RedisSharedCache(config.redisUrl) : undefined
  const catalog = new Catalog({
    source: new RegistryImageSource(upstreamClient(config), join(resolve(config.dataDir), 'artifacts')),
    log: log.child({ component: 'catalog' }),
    registry: config.upstream.registry,
    minTalosVersion: config.build.minTalosVersion,
    brokenTalosVersions: config.build.brokenTalosVersions,
    refreshIntervalMs: config.catalog.refreshIntervalMs,
    shared,
  })
  catalog.start()
  const sb = opts.secureBoot ? plannerSecureBoot(opts.secureBoot) : undefined
  const planner = new AssetPlanner({ schematics, catalog, secureBoot: () => sb })
  return {
    schematics,
    catalog,
    planner,
    async close() {
      await schematics.close()
      catalog.stop()
      await shared?.close()
    },
  }
}
