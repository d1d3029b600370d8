/**
 * The builder daemon's job API, on loopback or a unix socket (never public):
 *
 *   POST /v1/build   BuildJob (JSON) → the asset bytes, streamed while they are built
 *                    (X-Asset-State: hit | building); 400/500 with a one-line reason
 *   GET  /v1/stats   counters (imager runs, hits, misses, queue) as JSON
 *   GET  /v1/progress/<key>   build progress as NDJSON (builder/progress-api.ts)
 *   GET  /metrics    Prometheus metrics of this builder
 *   GET  /healthz    200
 */
import * as v from 'valibot'
import { rmSync } from 'node:fs'
import type { Logger } from '../src/log.ts'
import { isFactoryError } from '../src/errors.ts'
import { Registry } from '../src/metrics.ts'
import { BuildJobSchema, BuildInputError } from './job.ts'
import { verifyJob } from '../src/asset/job.ts'
import { profileCacheKey } from '../src/asset/cache-key.ts'
import type { Profile } from '../src/asset/profile.ts'
import type { BuildManager } from './manager.ts'
import { PROGRESS_PATH, progressRequest } from './progress-api.ts'

function text(status: number, body: string): Response {
  return new Response(`${body.split('\n')[0]}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

export function builderFetchHandler(manager: BuildManager, log: Logger): (req: Request) => Promise<Response> {
  const registry = new Registry()
  manager.registerMetrics(registry)
  return async (req) => {
    const url = new URL(req.url)
    if (url.pathname === '/healthz') return new Response(null, { status: 200 })
    if (url.pathname === '/metrics') return new Response(registry.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } })
    if (url.pathname === '/v1/stats' && req.method === 'GET') {
      return Response.json({ ...manager.counters, running: manager.running, queued: manager.queued })
    }
    if (url.pathname.startsWith(PROGRESS_PATH)) return progressRequest(req, manager.progress)
    if (url.pathname !== '/v1/build') return text(404, '404 page not found')
    if (req.method !== 'POST') return text(405, 'Method Not Allowed')
    let body: unknown
    try {
      body = await req.json()
    } catch {
      return text(400, 'job must be JSON')
    }
    const parsed = v.safeParse(BuildJobSchema, body)
    if (!parsed.success) return text(400, `invalid job: ${parsed.issues.map((i) => i.message).join('; ')}`)
    const job = parsed.output
    try {
      verifyJob(job, (profile) => profileCacheKey(profile as unknown as Profile))
    } catch (err) {
      return text(400, err instanceof Error ? err.message : String(err))
    }
    try {
      const result = await manager.request(job)
      if (result.kind === 'file') {
        return new Response(Bun.file(result.path), {
          headers: { 'content-type': result.meta.contentType, 'x-asset-state': 'hit', 'x-asset-key': job.key, 'x-asset-sha256': result.meta.sha256 },
        })
      }
      return new Response(result.stream, { headers: { 'content-type': result.contentType, 'x-asset-state': 'building', 'x-asset-key': job.key } })
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err)
      if (err instanceof BuildInputError) return text(400, msg)
      if (isFactoryError(err)) return text(err.status, msg)
      log.error('build request failed', { key: job.key, error: msg })
      return text(500, `build failed: ${msg}`)
    }
  }
}

/** Listens on `http://127.0.0.1:PORT` or `unix:/path.sock`. */
export function serveBuilder(listen: string, handler: (req: Request) => Promise<Response>) {
  // development: false — never Bun's HTML error page (it shows paths) if a response fails late
  if (listen.startsWith('unix:')) {
    rmSync(listen.slice(5), { force: true }) // a socket left by a builder that crashed
    return Bun.serve({ unix: listen.slice(5), fetch: handler, development: false })
  }
  const u = new URL(listen)
  return Bun.serve({ hostname: u.hostname, port: Number(u.port || 0), fetch: handler, idleTimeout: 0, development: false })
}
