/**
 * Catalogue frontend (factory-spec §3.3–3.5): versions, official extensions and overlays.
 * Answers come from the catalogue's cache; when upstream could not be refreshed the last good
 * answer is served with a Warning header.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { goJson } from '../../src/json.ts'
import type { AppContext } from '../context.ts'

export const STALE_WARNING = '110 - "Response is Stale: upstream registry unreachable"'

export function jsonList(value: unknown, stale: boolean): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (stale) headers.warning = STALE_WARNING
  return new Response(goJson(value), { headers })
}

const ErrorText = v.pipe(v.string(), v.description('one-line reason, text/plain'))
const VersionParam = v.object({
  version: v.pipe(v.string(), v.description('Talos version, `v` optional (e.g. v1.12.0)'), v.metadata({ examples: ['v1.12.0'] })),
})
const Extension = v.object({
  name: v.pipe(v.string(), v.description('repository path, e.g. siderolabs/gvisor')),
  ref: v.pipe(v.string(), v.description('image reference with tag on the configured registry')),
  digest: v.pipe(v.string(), v.description('sha256 digest of the image')),
  author: v.string(),
  description: v.string(),
})
const Overlay = v.object({
  name: v.pipe(v.string(), v.description('overlay name, e.g. rpi_generic')),
  image: v.pipe(v.string(), v.description('repository path, e.g. siderolabs/sbc-raspberrypi')),
  ref: v.pipe(v.string(), v.description('full tagged reference as published')),
  digest: v.string(),
})

export function metaRoutes(ctx: AppContext) {
  const { catalog } = ctx
  return new Elysia({ name: 'meta' })
    .get(
      '/versions',
      async ({ query }) => {
        if (query.broken === 'true') return jsonList(catalog.brokenVersions(), false)
        const { value, stale } = await catalog.versions()
        return jsonList(value, stale)
      },
      {
        query: v.object({ broken: v.optional(v.pipe(v.string(), v.description('`true` lists the configured broken versions instead'))) }),
        response: {
          200: v.pipe(v.array(v.string()), v.description('versions, ascending'), v.metadata({ examples: [['v1.11.5', 'v1.12.0']] })),
          503: ErrorText,
        },
        detail: {
          summary: 'List Talos versions',
          tags: ['versions'],
          description:
            'Versions available from the upstream imager repository, ascending. Served from cache; a `Warning` header marks an answer that could not be refreshed.',
        },
      },
    )
    .get(
      '/version/:version/extensions/official',
      async ({ params }) => {
        const { value, stale } = await catalog.extensions(params.version)
        return jsonList(value, stale)
      },
      {
        params: VersionParam,
        response: { 200: v.array(Extension), 400: ErrorText, 404: ErrorText, 503: ErrorText },
        detail: { summary: 'List official system extensions of a version', tags: ['versions'] },
      },
    )
    .get(
      '/version/:version/overlays/official',
      async ({ params }) => {
        const { value, stale } = await catalog.overlays(params.version)
        return jsonList(value, stale)
      },
      {
        params: VersionParam,
        response: { 200: v.array(Overlay), 400: ErrorText, 404: ErrorText, 503: ErrorText },
        detail: { summary: 'List official overlays (SBC support) of a version', tags: ['versions'], description: 'Empty before Talos 1.7.0.' },
      },
    )
}
