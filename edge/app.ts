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
import { registryRoutes } from './routes/registry.ts'
import { secureBootRoutes } from './routes/secureboot.ts'
import { progressRoutes } from './routes/progress.ts'
import { progressFeedFor } from './progress-feed.ts'
import { uiRoutes } from './routes/ui.ts'
import { statusRoutes } from './routes/status.ts'
import type { AppContext } from './context.ts'
import type { Builder } from '../builder/wiring.ts'
import { createEdgeMetrics } from './metrics.ts'

export const SERVER_HEADER = `Image Factory v${pkg.version}`
/**
 * Our own GET routes (not in the reference's table) that keep the HEAD Bun/Elysia answer for them.
 * Every reference route answers HEAD only where it registers HEAD explicitly (factory-spec §2).
 */
const IMPLICIT_HEAD = new Set(['/metrics', '/swagger', '/swagger/json', '/swagger/assets/:file'])

interface RequestMeta {
  id: string
  start: number
  /** read at onRequest: Bun may no longer expose `request.url` once the response is sent */
  path: string
  /** the status sent, when the app itself built the response (onError) */
  status?: number
  /** counted in the metrics and logged */
  recorded?: boolean
}

export function createApp(ctx: AppContext & { builder?: Builder }) {
  const metrics = createEdgeMetrics(ctx)
  const cors = new Cors(ctx.config.http.allowedOrigins)
  const meta = new WeakMap<Request, RequestMeta>()
  let routeTable: RouteTable | undefined
  // filled once the app is assembled; read lazily by onRequest and the NOT_FOUND fallback
  const registered: { method: string; path: string }[] = []
  const routes = () => (routeTable ??= new RouteTable(registered))

  const commonHeaders = (request: Request): Record<string, string> => ({
    server: SERVER_HEADER,
    'x-request-id': meta.get(request)?.id ?? '',
    ...cors.responseHeaders(request),
  })
  /** Remembers the status of a response the app built, for the metrics and the request log. */
  const sent = (request: Request, res: Response): Response => {
    const m = meta.get(request)
    if (m) m.status = res.status
    return res
  }
  /** Metrics and the request log line, once per request. */
  const record = (request: Request, status: number, route: string) => {
    const m = meta.get(request)
    if (m?.recorded) return
    if (m) m.recorded = true
    const labels = { method: request.method, route: route || 'unmatched' }
    metrics.requests.inc({ ...labels, code: String(status) })
    if (m) metrics.duration.observe((performance.now() - m.start) / 1000, labels)
    ctx.log.info('request', {
      request_id: m?.id,
      method: request.method,
      path: m?.path,
      status,
      duration_ms: m ? Math.round((performance.now() - m.start) * 100) / 100 : undefined,
    })
  }
  /** A response from onRequest: Elysia runs no afterResponse hook for it, so record it here. */
  const early = (request: Request, res: Response): Response => {
    record(request, res.status, '')
    return res
  }

  const app = new Elysia({ name: 'image-factory' })
    .onRequest(({ request, set }) => {
      const id = requestIdOf(request)
      const path = new URL(request.url).pathname
      meta.set(request, { id, start: performance.now(), path })
      if (cors.isPreflight(request)) return early(request, cors.preflight(request))
      Object.assign(set.headers, commonHeaders(request))
      // Bun/Elysia answer HEAD with the GET handler; the reference has no HEAD on most routes (405)
      if (request.method === 'HEAD') {
        const no = routes().headNotAllowed(path)
        if (no) return early(request, textResponse(no.status, no.body, { ...commonHeaders(request), ...no.headers }))
      }
    })
    .onError(({ code, error, request }) => {
      const headers = commonHeaders(request)
      const m = meta.get(request)
      if (code === 'NOT_FOUND') {
        const fb = routes().fallback(request)
        if (fb.status === 404 || fb.status === 405) return sent(request, textResponse(fb.status, fb.body, { ...headers, ...fb.headers }))
        return sent(request, new Response(null, { status: fb.status, headers: { ...headers, ...fb.headers } }))
      }
      if (code === 'VALIDATION' || code === 'PARSE' || code === 'INVALID_COOKIE_SIGNATURE') {
        const reason = code === 'VALIDATION' ? `invalid request: ${validationReason(error)}` : 'malformed request'
        return sent(request, textResponse(400, reason, headers))
      }
      return sent(request, errorToResponse(error, ctx.log, headers, { request_id: m?.id, method: request.method, path: m?.path }))
    })
    .onAfterResponse(({ request, set, route, responseValue }) => {
      // a handler's own Response (201, 206, 304…) carries its status; set.status is only what a
      // handler set explicitly and stays 200 on the not-found fallback
      const status = meta.get(request)?.status ?? (responseValue instanceof Response ? responseValue.status : typeof set.status === 'number' ? set.status : 200)
      record(request, status, route)
    })
    .use(openApiPlugin(pkg.version))
    .get('/metrics', async () => new Response(metrics.registry.render() + (await ctx.assets.builderMetrics()), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }), {
      response: { 200: v.pipe(v.string(), v.description('Prometheus text exposition format')) },
      detail: { summary: 'Prometheus metrics', tags: ['health'] },
    })
    .use(healthRoutes())
    .use(statusRoutes(ctx))
    .use(schematicRoutes(ctx))
    .use(metaRoutes(ctx))
    .use(talosctlRoutes(ctx))
    .use(imageRoutes(ctx))
    .use(pxeRoutes(ctx))
    .use(registryRoutes(ctx))
    .use(secureBootRoutes(ctx))
    .use(progressRoutes(ctx, progressFeedFor(ctx)))
    .use(uiRoutes(ctx))
  for (const r of app.routes) {
    registered.push({ method: r.method, path: r.path })
    if (r.method === 'GET' && IMPLICIT_HEAD.has(r.path)) registered.push({ method: 'HEAD', path: r.path })
  }
  return app
}

/** A client's X-Request-ID when it is 1–128 visible ASCII characters, else a fresh UUID (never echo unbounded input). */
export function requestIdOf(request: Request): string {
  const given = request.headers.get('x-request-id')
  return given !== null && /^[\x21-\x7e]{1,128}$/.test(given) ? given : crypto.randomUUID()
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
