/**
 * Builds the AppContext from a Config: the schematic store (filesystem or OCI registry) with the
 * LRU in front, the upstream registry client, the catalogue and the services. Shared by
 * edge/main.ts and the tests.
 */
import { join, resolve } from 'node:path'
import type { Config } from '../src/config.ts'
import type { Logger } from '../src/log.ts'
import { RegistryClient } from '../src/oci/client.ts'
import { upstreamClient } from '../src/oci/upstream.ts'
import { CachedSchematicStore } from '../src/store/cached-schematic-store.ts'
import { FsSchematicStore } from '../src/store/fs-schematic-store.ts'
import { OciSchematicStore } from '../src/store/oci-schematic-store.ts'
import type { SchematicStore } from '../src/store/schematic-store.ts'
import { SchematicService } from '../src/schematic/service.ts'
import { SchematicParserPool } from '../src/schematic/worker-pool.ts'
import { Catalog } from '../src/catalog/catalog.ts'
import { RegistryImageSource } from '../src/catalog/registry-source.ts'
import { RedisSharedCache, type SharedCache } from '../src/catalog/shared-cache.ts'
import type { AppContext } from './context.ts'
import { AssetService } from './assets.ts'
import { HttpBuilder, InProcessBuilder, type BuilderClient } from './builder-client.ts'
import { createAssetStore, createBuilder, type Builder } from '../builder/wiring.ts'

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

export async function buildContext(config: Config, log: Logger): Promise<AppContext & { builder?: Builder; close(): Promise<void> }> {
  const schematicLog = log.child({ component: 'schematics' })
  // schematic bodies are parsed in worker threads, never on the event loop
  const parser = new SchematicParserPool({
    workers: config.schematics.parseWorkers,
    timeoutMs: config.schematics.parseTimeoutMs,
    maxQueue: config.schematics.parseQueue,
    log: schematicLog,
  })
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
  // Embedded mode runs the builder in this process; otherwise talk to the daemon.
  let builder: Builder | undefined
  let client: BuilderClient
  let store
  if (config.builder.url) {
    client = new HttpBuilder(config.builder.url)
    store = createAssetStore(config, log.child({ component: 'assets' }))
    await store.init()
  } else {
    builder = await createBuilder(config, log.child({ component: 'builder' }))
    client = new InProcessBuilder(builder.manager)
    store = builder.store
  }
  const assets = new AssetService({ schematics, catalog, store, builder: client, log: log.child({ component: 'assets' }) })
  return {
    config,
    log,
    schematics,
    catalog,
    assets,
    builder,
    async close() {
      await schematics.close()
      catalog.stop()
      await shared?.close()
      await builder?.close()
    },
  }
}
