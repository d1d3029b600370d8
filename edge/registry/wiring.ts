/**
 * Builds the registry frontend from the configuration: where published installer images live
 * (the factory's store or FACTORY_INSTALLER_REGISTRY), how pulls reach them (served, proxied or
 * redirected), the cosign key (configured or generated once into the data directory) and the
 * publish lock (Redis when configured, so one node publishes each image).
 */
import { join, resolve } from 'node:path'
import { LocalLock, RedisLock, type BuildLock } from '../../builder/lock.ts'
import type { Catalog } from '../../src/catalog/catalog.ts'
import type { Config } from '../../src/config.ts'
import type { Logger } from '../../src/log.ts'
import type { SchematicService } from '../../src/schematic/service.ts'
import { RegistryClient } from '../../src/oci/client.ts'
import { loadCosignKey, readOrCreateCosignKey } from '../../src/oci/cosign.ts'
import { FsOciStore } from '../../src/oci/fs-store.ts'
import { collectOciStore } from '../../src/oci/fs-store-gc.ts'
import { RegistryTarget } from '../../src/oci/registry-target.ts'
import type { OciTarget } from '../../src/oci/target.ts'
import type { AssetService } from '../assets.ts'
import { InstallerPublisher } from './publisher.ts'
import { registryBase, RegistryService, registryScheme, type Serving } from './service.ts'

export function cosignKeyPath(config: Config): string {
  return config.installer.cosignKey || join(resolve(config.dataDir), 'keys', 'cosign-signing-key.pem')
}

export async function createRegistryService(
  config: Config,
  deps: { schematics: SchematicService; catalog: Catalog; assets: AssetService; log: Logger },
): Promise<{ registry: RegistryService; close(): Promise<void> }> {
  const key = config.installer.cosignKey ? await loadCosignKey(config.installer.cosignKey) : await readOrCreateCosignKey(cosignKeyPath(config))
  const inst = config.installer
  let target: OciTarget
  let serving: Serving
  let dockerReference: (repo: string) => string
  let afterPublish: (() => void) | undefined
  if (inst.registry === '') {
    const store = new FsOciStore(resolve(config.dataDir))
    await store.init()
    target = store
    serving = { kind: 'store', store }
    let collecting: Promise<void> | null = null
    afterPublish = () => {
      collecting ??= collectOciStore(store, { maxBytes: inst.storeMaxBytes })
        .then((r) => {
          if (r.tagsRemoved.length > 0) deps.log.info('installer store collected', { removed_tags: r.tagsRemoved.length, removed_blobs: r.blobsRemoved, bytes_before: r.bytesBefore, bytes_after: r.bytesAfter })
        })
        .catch((err: unknown) => deps.log.warn('installer store collection failed', { error: String(err) }))
        .finally(() => {
          collecting = null
        })
    }
    const host = new URL(config.http.externalUrl).host
    dockerReference = (repo) => `${host}/${repo}`
  } else {
    const [host, ...ns] = inst.registry.split('/').filter(Boolean)
    const client = new RegistryClient({
      registry: host as string,
      insecure: inst.insecure || registryScheme(host as string) === 'http',
      namespace: ns.join('/') || undefined,
      username: inst.username || undefined,
      password: inst.password || undefined,
    })
    target = new RegistryTarget(client)
    serving = inst.external ? { kind: 'redirect', base: registryBase(inst.external) } : { kind: 'proxy', base: registryBase(inst.registry, inst.insecure) }
    dockerReference = (repo) => `${inst.registry}/${repo}`
  }
  const lock: BuildLock = config.redisUrl ? new RedisLock(config.redisUrl, { ttlMs: config.build.lockTtlMs }) : new LocalLock()
  const publisher = new InstallerPublisher({
    assets: deps.assets,
    target,
    key,
    lock,
    log: deps.log,
    dockerReference,
    lockWaitMs: config.build.timeoutMs,
    ...(afterPublish ? { afterPublish } : {}),
  })
  const up = config.upstream
  const sourceBase = up.insecure ? `http://${up.registry}/v2${up.namespace ? `/${up.namespace}` : ''}` : null
  const registry = new RegistryService({ schematics: deps.schematics, catalog: deps.catalog, publisher, serving, sourceBase, log: deps.log })
  return { registry, close: () => lock.close() }
}
