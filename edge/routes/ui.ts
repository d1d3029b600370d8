/**
 * The web UI (factory-spec §2 routes 16–17, §3.11–3.12): the wizard at `/` (GET and HEAD, the
 * choices in the query string), the form POST of its last step at /ui/wizard, its own CSS, JS and
 * icon under /ui/assets/ (served by the factory: no CDN, works air-gapped) and /llms.txt. Pages are
 * hidden from the OpenAPI document; the SSE progress endpoint (routes/progress.ts) is the API.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { join } from 'node:path'
import { readBodyLimited } from '../../src/body.ts'
import { InvalidInputError, NotFoundError } from '../../src/errors.ts'
import type { Builder } from '../../builder/wiring.ts'
import type { AppContext } from '../context.ts'
import { Wizard } from '../ui/wizard.ts'
import { llmsText } from '../ui/llms.ts'

const ASSETS_DIR = join(import.meta.dir, '../ui/assets')
const ASSETS: Record<string, string> = {
  'ui.css': 'text/css; charset=utf-8',
  'ui.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
}
const FORM_TYPE = 'application/x-www-form-urlencoded'

export function uiRoutes(ctx: AppContext & { builder?: Builder }) {
  const wizard = new Wizard(ctx)
  const asset = (file: string, head: boolean) => {
    // own keys only: `constructor`, `__proto__`… must not reach Bun.file
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined
    if (!type) throw new NotFoundError(`no such asset ${JSON.stringify(file)}`)
    const f = Bun.file(join(ASSETS_DIR, file))
    return new Response(head ? null : f, {
      headers: { 'content-type': type, 'content-length': String(f.size), 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' },
    })
  }
  const assetParams = v.object({ file: v.pipe(v.string(), v.maxLength(64)) })
  const hidden = { hide: true }
  return new Elysia({ name: 'ui' })
    .get('/', ({ request }) => wizard.show(new URL(request.url).searchParams), { detail: hidden })
    .head('/', () => new Response(null, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } }), { detail: hidden })
    .post(
      '/ui/wizard',
      async ({ request }) => {
        const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
        if (type !== FORM_TYPE) throw new InvalidInputError(`expected a form body (${FORM_TYPE})`)
        const body = await readBodyLimited(request, ctx.config.http.maxBodyBytes)
        return wizard.submit(new URLSearchParams(new TextDecoder().decode(body)))
      },
      { parse: 'none', detail: hidden },
    )
    .get('/ui/assets/:file', ({ params }) => asset(params.file, false), { params: assetParams, detail: hidden })
    .head('/ui/assets/:file', ({ params }) => asset(params.file, true), { params: assetParams, detail: hidden })
    .get(
      '/llms.txt',
      () => new Response(llmsText(ctx.config.http.externalUrl, ctx.config.http.externalPxeUrl), { headers: { 'content-type': 'text/plain; charset=utf-8' } }),
      {
        response: { 200: v.pipe(v.string(), v.description('Markdown text describing the API for agents')) },
        detail: {
          summary: 'A guide to this API for LLM agents',
          tags: ['docs'],
          description: 'Plain text (Markdown) describing how to create schematics and download assets from this factory, with its URLs filled in.',
        },
      },
    )
}
