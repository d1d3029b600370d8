/**
 * Builds a BuildManager from the configuration: asset store under FACTORY_DATA_DIR, Redis or
 * local lock, and the imager runner. Used by the builder daemon and by the edge in embedded mode.
 */
import { join, resolve } from 'node:path'
import type { Config } from '../src/config.ts'
import type { Logger } from '../src/log.ts'
import { AssetStore } from '../src/store/asset-store.ts'
import { Artifacts } from './artifacts.ts'
import { LocalLock, RedisLock, type BuildLock } from './lock.ts'
import { BuildManager } from './manager.ts'
import { createImagerRunner } from './runner.ts'
import { detectSelinuxLabelSupport, registerSelinuxLabelMetric } from './selinux-labels.ts'
import { upstreamClient } from '../src/oci/upstream.ts'
import type { SecureBootKeyFiles } from '../src/secureboot/keys.ts'
import { ProgressHub } from './progress.ts'
import { RedisProgressTransport } from './progress-redis.ts'

export function createAssetStore(config: Config, log: Logger): AssetStore {
  return new AssetStore(resolve(config.dataDir), { maxBytes: config.cache.maxBytes, log })
}

export interface Builder {
  manager: BuildManager
  store: AssetStore
  close(): Promise<void>
}

/** `secureBoot`: the key set (src/secureboot/keys.ts), undefined when Secure Boot is disabled. */
export async function createBuilder(config: Config, log: Logger, opts: { secureBoot?: SecureBootKeyFiles } = {}): Promise<Builder> {
  const data = resolve(config.dataDir)
  const store = createAssetStore(config, log.child({ component: 'assets' }))
  await store.init()
  const lock: BuildLock = config.redisUrl ? new RedisLock(config.redisUrl, { ttlMs: config.build.lockTtlMs }) : new LocalLock()
  const workDir = join(data, 'work')
  const labels = await detectSelinuxLabelSupport(workDir, log)
  const run = createImagerRunner({
    artifacts: new Artifacts(upstreamClient(config), join(data, 'artifacts')),
    cacheDir: join(data, 'cache'),
    workDir,
    externalUrl: config.http.externalUrl,
    grubDir: config.build.grubDir,
    log,
    ...(opts.secureBoot ? { secureBoot: opts.secureBoot } : {}),
    selinuxLabels: labels.enabled,
  })
  // with Redis, build progress is shared so any node can report a build another node runs
  const progress = new ProgressHub({ log, transport: config.redisUrl ? new RedisProgressTransport(config.redisUrl) : undefined })
  const manager = new BuildManager({
    store,
    lock,
    run,
    concurrency: config.build.concurrency,
    timeoutMs: config.build.timeoutMs,
    log,
    progress,
    runnerMetrics: (registry) => registerSelinuxLabelMetric(registry, labels),
  })
  return {
    manager,
    store,
    close: async () => {
      await lock.close()
      await progress.close()
    },
  }
}
