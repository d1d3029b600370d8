/**
 * Builds the AppContext from a Config: picks the schematic store (filesystem or OCI registry),
 * puts the LRU in front, and creates the services. Shared by edge/main.ts and the tests.
 */
import { join, resolve } from 'node:path'
import type { Config } from '../src/config.ts'
import type { Logger } from '../src/log.ts'
import { CachedSchematicStore } from '../src/store/cached-schematic-store.ts'
import { FsSchematicStore } from '../src/store/fs-schematic-store.ts'
import type { SchematicStore } from '../src/store/schematic-store.ts'
import { SchematicService } from '../src/schematic/service.ts'
import type { AppContext } from './context.ts'

export function createSchematicStore(config: Config): SchematicStore {
  const inner: SchematicStore = new FsSchematicStore(join(resolve(config.dataDir), 'schematics'))
  return new CachedSchematicStore(inner, { capacity: config.schematics.cacheSize, negativeTtlMs: config.schematics.negativeTtlMs })
}

export async function buildContext(config: Config, log: Logger): Promise<AppContext> {
  const schematics = new SchematicService(createSchematicStore(config), log.child({ component: 'schematics' }))
  return { config, log, schematics }
}
