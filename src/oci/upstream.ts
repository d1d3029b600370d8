/** The registry client for the configured upstream (FACTORY_UPSTREAM_*). */
import type { Config } from '../config.ts'
import { RegistryClient } from './client.ts'

export function upstreamClient(config: Config): RegistryClient {
  const u = config.upstream
  return new RegistryClient({
    registry: u.registry,
    insecure: u.insecure,
    namespace: u.namespace || undefined,
    username: u.username || undefined,
    password: u.password || undefined,
    token: u.token || undefined,
  })
}
