/**
 * The builder daemon's job API, on loopback or a unix socket (never public):
 *
 *   POST /v1/build   {schematic, version, path, requestId?} (JSON) → the asset bytes, streamed
 *                    while they are built (X-Asset-State: hit | building, X-Asset-Key); 4xx/5xx
 *                    with a one-line reason
 *   GET  /v1/stats   this builder's identity and counters (imager runs, hits, misses, queue) as JSON
 *   GET  /v1/progress/<key>   build progress as NDJSON (builder/progress-api.ts)
 *   GET  /metrics    Prometheus metrics of this builder
 *   GET  /healthz    200 (no authentication)
 *
 * Trust boundary: the daemon plans every job itself from what the edge was asked (schematic ID,
 * version, asset path) with the same planner as the edge — nothing a caller sends chooses a
 * profile, a cache key or a URL. On TCP every request but /healthz needs the shared secret
 * (builder/api-secret.ts); a unix socket is mode 0600. Browser-style requests (an Origin header,
 * a non-JSON body) are refused, so a web page cannot drive a builder on loopback.
 */
import * as v from 'valibot'
import { chmodSync, existsSync, rmSync } from 'node:fs'
import type { Logger } from '../src/log.ts'
import { isFactoryError } from '../src/errors.ts'
import { Registry } from '../src/metrics.ts'
import { readBodyLimited } from '../src/body.ts'
import { BuildRequestSchema, MAX_BUILD_REQUEST_BYTES } from '../src/asset/job.ts'
import type { AssetPlanner } from '../src/asset/planner.ts'
import { BuildInputError } from './job.ts'
import type { BuildManager } from './manager.ts'
import { PROGRESS_PATH, progressRequest } from './progress-api.ts'
import { authorized } from './api-secret.ts'

function text(status: number, body: string): Response {
  return new Response(`${body.split('\n')[0]}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } })
}

export interface BuilderApiOptions {
  manager: BuildManager
  planner: AssetPlanner
  log: Logger
  /** required in `Authorization: Bearer …` on every request but /healthz; null = no check (unix socket) */
  secret: string | null
  /** identity reported by /v1/stats (which builder answered) */
  node: Record<string, unknown>
}

export function builderFetchHandler(opts: BuilderApiOptions): (req: Request) => Promise<Response> {
  const { manager, planner, log } = opts
  const registry = new Registry()
  manager.registerMetrics(registry)
  return async (req) => {
    const url = new URL(req.url)
    if (url.pathname === '/healthz') return new Response(null, { status: 200 })
    if (req.headers.has('origin')) return text(403, 'browser requests are not accepted')
    if (opts.secret !== null && !authorized(req.headers.get('authorization'), opts.secret)) return text(401, 'missing or wrong job API secret')
    if (url.pathname === '/metrics') return new Response(registry.render(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } })
    if (url.pathname === '/v1/stats' && req.method === 'GET') {
      return Response.json({ ...opts.node, ...manager.stats() })
    }
    if (url.pathname.startsWith(PROGRESS_PATH)) return progressRequest(req, manager.progress)
    if (url.pathname !== '/v1/build') return text(404, '404 page not found')
    if (req.method !== 'POST') return text(405, 'Method Not Allowed')
    if (!/^application\/json\s*(;|$)/i.test(req.headers.get('content-type') ?? '')) return text(415, 'the job must be sent as application/json')
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readBodyLimited(req, MAX_BUILD_REQUEST_BYTES)))
    } catch (err) {
      if (isFactoryError(err)) return text(err.status, err.message)
      return text(400, 'job must be JSON')
    }
    const parsed = v.safeParse(BuildRequestSchema, body)
    if (!parsed.success) return text(400, `invalid job: ${parsed.issues.map((i) => i.message).join('; ')}`)
    const request = parsed.output
    let key: string | undefined
    try {
      const { job } = await planner.plan(request.schematic, request.version, request.path)
      key = job.key
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
      if (isFactoryError(err) && err.status !== 500) return text(err.status, msg)
      log.error('build request failed', { key, request_id: request.requestId, error: msg })
      return text(500, `build failed: ${msg}`)
    }
  }
}

/**
 * Refuses to take over a unix socket another live builder still serves (two stacks pointed at
 * the same runtime directory), and removes a stale one left by a builder that crashed.
 */
async function claimSocket(path: string): Promise<void> {
  if (!existsSync(path)) return
  const alive = await fetch('http://builder/healthz', { unix: path, signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  )
  if (alive) throw new Error(`another builder is serving ${path}; give each stack its own FACTORY_RUNTIME_DIR`)
  rmSync(path, { force: true })
}

/** Listens on `http://127.0.0.1:PORT` or `unix:/path.sock` (mode 0600). */
export async function serveBuilder(listen: string, handler: (req: Request) => Promise<Response>) {
  // development: false — never Bun's HTML error page (it shows paths) if a response fails late
  if (listen.startsWith('unix:')) {
    const path = listen.slice(5)
    await claimSocket(path)
    // idleTimeout 0: a build can be silent for minutes (xorriso, a compressor's first block) and
    // Bun's default 10 s cuts the stream the edge is following. Bun honours it on unix sockets
    // although its types only declare it for TCP (test/integration/builder-socket.test.ts).
    const noIdleTimeout: object = { idleTimeout: 0 }
    const server = Bun.serve({ unix: path, fetch: handler, development: false, maxRequestBodySize: 64 * 1024, ...noIdleTimeout })
    chmodSync(path, 0o600)
    return server
  }
  const u = new URL(listen)
  return Bun.serve({ hostname: u.hostname, port: Number(u.port || 0), fetch: handler, idleTimeout: 0, development: false, maxRequestBodySize: 64 * 1024 })
}
