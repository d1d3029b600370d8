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
}

const STATUS_WAIT_MS = 3000

function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The daemon's store size from its Prometheus text (the edge does not index the daemon's writes). */
export function storeBytesFromMetrics(text: string): number | null {
  const m = /^image_factory_asset_store_bytes (\d+(?:\.\d+)?(?:e\+?\d+)?)$/m.exec(text)
  return m ? Number(m[1]) : null
}

export async function factoryStatus(ctx: AppContext & { builder?: Builder }): Promise<FactoryStatus> {
  const [versions, storeBytes] = await Promise.all([
    within(ctx.catalog.versions(), STATUS_WAIT_MS).catch(() => 'failed' as const),
    ctx.builder ? Promise.resolve(ctx.builder.store.totalBytes) : within(ctx.assets.builderMetrics(), STATUS_WAIT_MS).then((t) => (t === 'timeout' ? null : storeBytesFromMetrics(t))),
  ])
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
