/**
 * Everything a frontend module needs, built once at start-up (edge/main.ts) or by a test.
 * Frontends receive this object instead of reaching for globals, so tests can wire real services
 * on free ports.
 */
import type { Config } from '../src/config.ts'
import type { Logger } from '../src/log.ts'
import type { SchematicService } from '../src/schematic/service.ts'
import type { Catalog } from '../src/catalog/catalog.ts'
import type { AssetService } from './assets.ts'
import type { RegistryService } from './registry/service.ts'

export interface AppContext {
  config: Config
  log: Logger
  schematics: SchematicService
  catalog: Catalog
  assets: AssetService
  /** the OCI registry frontend (/v2/) */
  registry: RegistryService
  /** the public half of the Secure Boot keys; absent when Secure Boot is disabled */
  secureBoot?: { certPem: string }
}
