/**
 * A local upstream: Debian's docker-registry on a free loopback port, loaded with the stand-in
 * Talos release, plus the FACTORY_* settings that point the factory at it.
 */
import { buildStandinRelease, type StandinRelease } from '../fixtures/standin/index.ts'
import { startRegistry, type TestRegistry } from './registry.ts'

export interface Upstream {
  registry: TestRegistry
  release: StandinRelease
  env: Record<string, string>
  stop(): Promise<void>
}

export async function startUpstream(versions: readonly string[] = ['v1.7.6', 'v1.9.5', 'v1.10.7', 'v1.12.0']): Promise<Upstream> {
  const registry = await startRegistry()
  const release = await buildStandinRelease({ registry: registry.host, insecure: true, versions, log: () => {} })
  return {
    registry,
    release,
    env: { FACTORY_UPSTREAM_REGISTRY: registry.host, FACTORY_UPSTREAM_INSECURE: 'true' },
    stop: () => registry.stop(),
  }
}

let shared: Promise<Upstream> | null = null

/**
 * One upstream per test process (bun test runs every file in one process): a registry loaded with
 * the stand-in release's default versions, started by the first file that asks and killed when
 * the process exits (test/helpers/registry.ts). Building and pushing the release once instead of
 * once per file keeps the suite's budget; files that stop or mutate their registry (e.g. to test
 * an upstream outage) must use startUpstream() instead. `stop()` of the shared one does nothing.
 */
export function sharedUpstream(): Promise<Upstream> {
  shared ??= startUpstream().then((up) => ({ ...up, stop: async () => {} }))
  shared.catch(() => {
    shared = null
  })
  return shared
}
