/** Liveness and readiness (factory-spec §3.10): 200 with an empty body, GET and HEAD (§2 routes 1–2). */
import { Elysia } from 'elysia'
import * as v from 'valibot'

export function healthRoutes() {
  const detail = (summary: string) => ({ summary, tags: ['health'] })
  const empty = { 200: v.pipe(v.literal(''), v.description('empty body')) }
  const ok = () => new Response(null, { status: 200 })
  return new Elysia({ name: 'health' })
    .get('/healthz', ok, {
      response: empty,
      detail: { ...detail('Liveness probe'), description: 'Always 200 with an empty body while the process serves HTTP.' },
    })
    .head('/healthz', ok, { response: empty, detail: detail('Liveness probe (HEAD)') })
    .get('/readyz', ok, {
      response: empty,
      detail: { ...detail('Readiness probe'), description: '200 with an empty body when the factory can serve requests.' },
    })
    .head('/readyz', ok, { response: empty, detail: detail('Readiness probe (HEAD)') })
}
