/**
 * GET /status: the factory's own state as JSON — version, this edge's node, the builder it talks
 * to (node and instance, so operators running several stacks on one data directory can see that
 * each keeps its own), whether the upstream catalogue is fresh, and the asset store's size.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { hostname } from 'node:os'
import pkg from '../../package.json'
import type { AppContext } from '../context.ts'

const StatusSchema = v.object({
  name: v.string(),
  version: v.string(),
  node: v.pipe(v.string(), v.description('this edge: <hostname>/<pid>')),
  builder: v.pipe(v.nullable(v.record(v.string(), v.unknown())), v.description('the builder this edge uses (embedded or daemon): node, instance, counters; null when unreachable')),
  upstream: v.object({ registry: v.string(), stale: v.pipe(v.boolean(), v.description('the last refresh from the upstream registry failed')) }),
  cache: v.object({ bytes: v.number(), maxBytes: v.number() }),
})

export function statusRoutes(ctx: AppContext) {
  return new Elysia({ name: 'status' }).get(
    '/status',
    async () =>
      Response.json({
        name: 'Image Factory',
        version: pkg.version,
        node: `${hostname()}/${process.pid}`,
        builder: await ctx.assets.builderInfo(),
        upstream: { registry: ctx.config.upstream.registry, stale: ctx.catalog.isStale },
        cache: { bytes: ctx.assets.storeUsage().bytes, maxBytes: ctx.config.cache.maxBytes },
      } satisfies v.InferOutput<typeof StatusSchema>),
    { response: { 200: StatusSchema }, detail: { summary: 'Factory state', tags: ['health'] } },
  )
}
