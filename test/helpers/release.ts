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
