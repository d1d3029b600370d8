/**
 * Builds the AppContext from a Config: the domain services (schematics, catalogue, planner —
 * src/services.ts, shared with the builder daemon), the asset store and the builder (in this
 * process, or the daemon's job API). Shared by edge/main.ts and the tests.
 */
import type { Config } from '../src/config.ts'
import type { Logger } from '../src/log.ts'
import { createDomainServices } from '../src/services.ts'
import { ensureSecureBootKeys } from '../src/secureboot/keys.ts'
import type { AppContext } from './context.ts'
import { AssetService } from './assets.ts'
import { HttpBuilder, InProcessBuilder, type BuilderClient } from './builder-client.ts'
import { createAssetStore, createBuilder, type Builder } from '../builder/wiring.ts'
import { builderApiSecret } from '../builder/api-secret.ts'
import { createRegistryService } from './registry/wiring.ts'

/** `warmParser`: start the schematic parser workers now (the serving edge), not at the first POST. */
export async function buildContext(config: Config, log: Logger, opts: { warmParser?: boolean } = {}): Promise<AppContext & { builder?: Builder; close(): Promise<void> }> {
  // every node on a data directory uses the same (possibly generated) Secure Boot keys
  const secureBoot = await ensureSecureBootKeys(config, log)
  const services = createDomainServices(config, log, { secureBoot, ...(opts.warmParser ? { warmParser: true } : {}) })
  // Embedded mode runs the builder in this process; otherwise talk to the daemon.
  let builder: Builder | undefined
  let client: BuilderClient
  let store
  if (config.builder.url) {
    client = new HttpBuilder(config.builder.url, await builderApiSecret(config))
    store = createAssetStore(config, log.child({ component: 'assets' }))
    await store.init()
  } else {
    builder = await createBuilder(config, log.child({ component: 'builder' }), { secureBoot })
    client = new InProcessBuilder(builder.manager)
    store = builder.store
  }
  const assets = new AssetService({ planner: services.planner, store, builder: client, log: log.child({ component: 'assets' }) })
  const registry = await createRegistryService(config, { schematics: services.schematics, catalog: services.catalog, assets, log: log.child({ component: 'registry' }) })
  return {
    config,
    log,
    schematics: services.schematics,
    catalog: services.catalog,
    assets,
    registry: registry.registry,
    builder,
    ...(secureBoot ? { secureBoot: { certPem: secureBoot.certPem } } : {}),
    async close() {
      await registry.close()
      await services.close()
      await builder?.close()
    },
  }
}
