/**
 * Prometheus metrics of the edge (GET /metrics): HTTP requests by route, schematics, asset cache
 * hits/misses, catalogue freshness, and — in embedded mode — the builder's own metrics.
 */
import { Counter, Histogram, LATENCY_BUCKETS, Registry } from '../src/metrics.ts'
import type { AppContext } from './context.ts'
import type { Builder } from '../builder/wiring.ts'

export interface EdgeMetrics {
  registry: Registry
  requests: Counter
  duration: Histogram
}

export function createEdgeMetrics(ctx: AppContext & { builder?: Builder }): EdgeMetrics {
  const registry = new Registry()
  const requests = registry.counter('image_factory_http_requests_total', 'HTTP requests by route pattern, method and status.')
  const duration = registry.histogram('image_factory_http_request_duration_seconds', 'Time to response headers, by route pattern and method.', LATENCY_BUCKETS)
  const s = ctx.schematics.counters
  registry.counterFunc('image_factory_schematic_create_total', 'New schematics stored.', () => s.created)
  registry.counterFunc('image_factory_schematic_duplicate_create_total', 'Creations of a schematic that already existed.', () => s.duplicates)
  registry.counterFunc('image_factory_schematic_get_total', 'Schematics read from the store.', () => s.reads)
  // the schematic parser's worker pool: saturation and what hostile or broken input cost
  const parser = () => ctx.schematics.parserStats()
  if (parser()) {
    const stat = (k: 'busy' | 'queued' | 'warmed' | 'timeouts' | 'rejected' | 'crashes') => () => parser()?.[k] ?? 0
    registry.gauge('image_factory_schematic_parser_workers', 'Schematic parser worker threads.', () => parser()?.workers ?? 0)
    registry.gauge('image_factory_schematic_parser_busy', 'Parser workers parsing a body now.', stat('busy'))
    registry.gauge('image_factory_schematic_parser_queued', 'Schematic bodies waiting for a parser worker.', stat('queued'))
    registry.gauge('image_factory_schematic_parser_warmed', 'Parser workers whose JIT warm-up has finished.', stat('warmed'))
    registry.counterFunc('image_factory_schematic_parser_timeouts_total', 'Parses stopped at FACTORY_SCHEMATIC_PARSE_TIMEOUT (each replaced its worker).', stat('timeouts'))
    registry.counterFunc('image_factory_schematic_parser_rejected_total', 'Bodies refused with 503 because the parse queue was full.', stat('rejected'))
    registry.counterFunc('image_factory_schematic_parser_crashes_total', 'Parser workers that died on their own.', stat('crashes'))
  }
  const a = ctx.assets.counters
  registry.counterFunc('image_factory_assets_delivered_cached_total', 'Asset requests answered from the store by the edge (Caddy hits are not counted here).', () => a.hits)
  registry.counterFunc('image_factory_assets_cache_miss_total', 'Asset requests handed to the builder.', () => a.misses)
  registry.gauge('image_factory_catalog_stale', '1 when the last refresh of the version list from upstream failed.', () => (ctx.catalog.isStale ? 1 : 0))
  const p = ctx.registry.publisher.counters
  registry.counterFunc('image_factory_installer_published_total', 'Installer image indexes this node built, signed and tagged for /v2/ pulls.', () => p.published)
  registry.counterFunc('image_factory_installer_publish_joined_total', 'Installer pulls that joined a publish already running on this node.', () => p.joined)
  registry.counterFunc('image_factory_installer_publish_peer_total', 'Installer publishes another node did while this one waited.', () => p.peer)
  ctx.builder?.manager.registerMetrics(registry)
  return { registry, requests, duration }
}
