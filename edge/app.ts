/**
 * The edge HTTP application: request IDs, CORS, router fallbacks, error mapping and request logs
 * in one place, then one plugin per frontend.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import pkg from '../package.json'
import { errorToResponse, textResponse } from './http/errors.ts'
import { Cors } from './http/cors.ts'
import { RouteTable } from './http/route-table.ts'
import { openApiPlugin } from './openapi.ts'
import { healthRoutes } from './routes/health.ts'
import { schematicRoutes } from './routes/schematics.ts'
import { metaRoutes } from './routes/meta.ts'
import { talosctlRoutes } from './routes/talosctl.ts'
import { imageRoutes } from './routes/image.ts'
import { pxeRoutes } from './routes/pxe.ts'
import type { AppContext } from './context.ts'
import type { Builder } from '../builder/wiring.ts'
import { createEdgeMetrics } from './metrics.ts'

export const SERVER_HEADER = `Image Factory v${pkg.version}`
const GET_ONLY = /^\/(pxe|schematics|version|versions)(\/|$)/

interface RequestMeta {
  id: string
  start: number
}

export function createApp(ctx: AppContext & { builder?: Builder }) {
  const metrics = createEdgeMetrics(ctx)
  const cors = new Cors(ctx.config.http.allowedOrigins)
  const meta = new WeakMap<Request, RequestMeta>()
  let routeTable: RouteTable | undefined
  // filled once the app is assembled; read lazily by the NOT_FOUND fallback
  const registered: { method: string; path: string }[] = []

  const commonHeaders = (request: Request): Record<string, string> => ({
    server: SERVER_HEADER,
    'x-request-id': meta.get(request)?.id ?? '',
    ...cors.responseHeaders(request),
  })

  const app = new Elysia({ name: 'image-factory' })
    .onRequest(({ request, set }) => {
      const id = request.headers.get('x-request-id') || crypto.randomUUID()
      meta.set(request, { id, start: performance.now() })
      if (cors.isPreflight(request)) return cors.preflight(request)
      Object.assign(set.headers, commonHeaders(request))
      // GET-only routes of the reference answer HEAD with 405 (no automatic HEAD)
      if (request.method === 'HEAD' && GET_ONLY.test(new URL(request.url).pathname)) {
        return textResponse(405, 'Method Not Allowed', { ...commonHeaders(request), allow: 'GET, OPTIONS' })
      }
    })
    .onError(({ code, error, request }) => {
      const headers = commonHeaders(request)
      if (code === 'NOT_FOUND') {
        const fb = (routeTable ??= new RouteTable(registered)).fallback(request)
        if (fb.status === 404 || fb.status === 405) return textResponse(fb.status, fb.body, { ...headers, ...fb.headers })
        return new Response(null, { status: fb.status, headers: { ...headers, ...fb.headers } })
      }
      if (code === 'VALIDATION' || code === 'PARSE' || code === 'INVALID_COOKIE_SIGNATURE') {
        const reason = code === 'VALIDATION' ? `invalid request: ${validationReason(error)}` : 'malformed request'
        return textResponse(400, reason, headers)
      }
      return errorToResponse(error, ctx.log, headers)
    })
    .onAfterResponse(({ request, set, route }) => {
      const m = meta.get(request)
      const labels = { method: request.method, route: route || 'unmatched' }
      metrics.requests.inc({ ...labels, code: String(typeof set.status === 'number' ? set.status : 200) })
      if (m) metrics.duration.observe((performance.now() - m.start) / 1000, labels)
      ctx.log.info('request', {
        request_id: m?.id,
        method: request.method,
        path: new URL(request.url).pathname,
        status: typeof set.status === 'number' ? set.status : undefined,
        duration_ms: m ? Math.round((performance.now() - m.start) * 100) / 100 : undefined,
      })
    })
    .use(openApiPlugin(pkg.version))
    .get('/metrics', () => new Response(metrics.registry.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }), {
      response: { 200: v.pipe(v.string(), v.description('Prometheus text exposition format')) },
      detail: { summary: 'Prometheus metrics', tags: ['health'] },
    })
    .use(healthRoutes())
    .use(schematicRoutes(ctx))
    .use(metaRoutes(ctx))
    .use(talosctlRoutes(ctx))
    .use(imageRoutes(ctx))
    .use(pxeRoutes(ctx))
  registered.push(...app.routes.map((r) => ({ method: r.method, path: r.path })))
  return app
}

function validationReason(error: unknown): string {
  const msg = error instanceof Error ? error.message : String(error)
  try {
    const parsed = JSON.parse(msg) as { property?: string; message?: string; summary?: string }
    return [parsed.property, parsed.summary ?? parsed.message].filter(Boolean).join(': ') || 'validation failed'
  } catch {
    return msg.split('\n')[0] ?? 'validation failed'
  }
}

export type App = ReturnType<typeof createApp>
