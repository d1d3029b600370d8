/**
 * The factory's own state for the landing page: its version, whether the upstream registry
 * answered the last refresh, the Talos versions it offers and the size of the asset cache. Every
 * part is bounded in time: a page must render even when upstream or the builder daemon is down.
 */
import pkg from '../../package.json'
import type { Builder } from '../../builder/wiring.ts'
import type { AppContext } from '../context.ts'

export type UpstreamState = 'reachable' | 'stale' | 'unreachable' | 'checking'

export interface FactoryStatus {
  version: string
  registry: string
  upstream: UpstreamState
  /** version tags, ascending (empty when unknown) */
  versions: string[]
  cache: { bytes: number; maxBytes: number } | null
  builder: 'embedded' | 'daemon'
  /** the builder's identity and counters (null when unreachable) */
  builderInfo: Record<string, unknown> | null
}

const STATUS_WAIT_MS = 3000

function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export async function factoryStatus(ctx: AppContext & { builder?: Builder }): Promise<FactoryStatus> {
  const [versions, builderInfo] = await Promise.all([
    within(ctx.catalog.versions(), STATUS_WAIT_MS).catch(() => 'failed' as const),
    // the builder's own store size (an edge does not index a daemon's writes)
    within(ctx.assets.builderInfo(), STATUS_WAIT_MS).catch(() => null),
  ])
  const info = builderInfo === 'timeout' ? null : builderInfo
  const storeBytes = typeof info?.storeBytes === 'number' ? info.storeBytes : null
  let upstream: UpstreamState
  if (versions === 'timeout') upstream = 'checking'
  else if (versions === 'failed') upstream = 'unreachable'
  else upstream = versions.stale || ctx.catalog.isStale ? 'stale' : 'reachable'
  return {
    version: pkg.version,
    registry: ctx.config.upstream.registry,
    upstream,
    versions: typeof versions === 'object' ? versions.value : [],
    cache: storeBytes === null ? null : { bytes: storeBytes, maxBytes: ctx.config.cache.maxBytes },
    builder: ctx.builder ? 'embedded' : 'daemon',
    builderInfo: info,
  }
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${n} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`
}
