/**
 * GET /status: the factory's own state as JSON — version, this edge's node, the builder it talks
 * to (node and instance, so operators running several stacks on one data directory can see that
 * each keeps its own), whether the upstream catalogue is fresh, and the asset store's size as the
 * builder sees it. The landing page shows the same facts (edge/ui/status.ts).
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { hostname } from 'node:os'
import type { AppContext } from '../context.ts'
import type { Builder } from '../../builder/wiring.ts'
import { factoryStatus } from '../ui/status.ts'

const StatusSchema = v.object({
  name: v.string(),
  version: v.string(),
  node: v.pipe(v.string(), v.description('this edge: <hostname>/<pid>')),
  builder: v.pipe(v.nullable(v.record(v.string(), v.unknown())), v.description('the builder this edge uses (embedded or daemon): node, instance, counters, storeBytes; null when unreachable')),
  upstream: v.object({
    registry: v.string(),
    state: v.pipe(v.picklist(['reachable', 'stale', 'unreachable', 'checking']), v.description('stale: the last refresh from the upstream registry failed')),
  }),
  versions: v.array(v.string()),
  cache: v.nullable(v.object({ bytes: v.number(), maxBytes: v.number() })),
})

export function statusRoutes(ctx: AppContext & { builder?: Builder }) {
  return new Elysia({ name: 'status' }).get(
    '/status',
    async () => {
      const s = await factoryStatus(ctx)
      return Response.json({
        name: 'Image Factory',
        version: s.version,
        node: `${hostname()}/${process.pid}`,
        builder: s.builderInfo,
        upstream: { registry: s.registry, state: s.upstream },
        versions: s.versions,
        cache: s.cache,
      } satisfies v.InferOutput<typeof StatusSchema>)
    },
    { response: { 200: StatusSchema }, detail: { summary: 'Factory state', tags: ['health'] } },
  )
}
