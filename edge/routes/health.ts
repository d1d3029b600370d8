/** Liveness and readiness (factory-spec §3.10): 200 with an empty body. */
import { Elysia } from 'elysia'
import * as v from 'valibot'

export function healthRoutes() {
  const detail = (summary: string) => ({ summary, tags: ['health'] })
  return new Elysia({ name: 'health' })
    .get('/healthz', () => new Response(null, { status: 200 }), {
      response: { 200: v.pipe(v.literal(''), v.description('empty body')) },
      detail: { ...detail('Liveness probe'), description: 'Always 200 with an empty body while the process serves HTTP.' },
    })
    .get('/readyz', () => new Response(null, { status: 200 }), {
      response: { 200: v.pipe(v.literal(''), v.description('empty body')) },
      detail: { ...detail('Readiness probe'), description: '200 with an empty body when the factory can serve requests.' },
    })
}
