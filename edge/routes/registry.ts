/**
 * The OCI registry frontend (factory-spec §8) and the cosign public key (§3.9). Everything under
 * `/v2/` answers in the distribution spec's terms: OCI JSON error bodies, `Docker-Content-Digest`,
 * the manifest's own media type, HEAD without a body, Range on blobs. Pull-only: write methods are
 * validated like reads, then refused with 405 UNSUPPORTED.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import type { AppContext } from '../context.ts'
import { ociErrorFrom, ociErrorResponse, type OciErrorCode } from '../registry/errors.ts'
import { routeV2 } from '../registry/routing.ts'

/** deepest `/v2/` path with its own route: `siderolabs/<a>/<b>/<c>/manifests/<ref>` */
const MAX_DEPTH = 7
/** the router needs one name per position across all depths */
const PARAM_NAMES = ['image', 'schematic', 'resource', 'reference', 'p4', 'p5', 'p6']
const PING_HEADERS = { 'docker-distribution-api-version': 'registry/2.0' }
const NOT_FOUND: Record<string, OciErrorCode> = { manifests: 'MANIFEST_UNKNOWN', blobs: 'BLOB_UNKNOWN', referrers: 'MANIFEST_UNKNOWN', tags: 'NAME_UNKNOWN' }

const V2Params = v.object({
  image: v.pipe(v.string(), v.description('`installer`, `installer-secureboot`, `<platform>-installer[-secureboot]`, or `siderolabs` for the source proxy'), v.metadata({ examples: ['metal-installer'] })),
  schematic: v.pipe(v.string(), v.description('schematic ID (or the source image name after `siderolabs`)'), v.metadata({ examples: ['376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'] })),
  resource: v.pipe(v.string(), v.description('`manifests`, `blobs` or `referrers` (`tags` with reference `list`)')),
  reference: v.pipe(v.string(), v.description('a version tag (`v1.10.0`, `latest`), another tag, or a digest'), v.metadata({ examples: ['v1.10.0'] })),
})

export function registryRoutes(ctx: AppContext) {
  const registry = ctx.registry
  const ping = () => new Response(null, { status: 200, headers: PING_HEADERS })

  const handle = async (c: { request: Request; set: { headers: Record<string, unknown> } }): Promise<Response> => {
    const res = await answer(c)
    // HEAD: the GET answer's headers (Content-Length included), no body
    if (c.request.method !== 'HEAD' || res.body === null) return res
    await res.body.cancel().catch(() => {})
    return new Response(null, { status: res.status, headers: res.headers })
  }
  const answer = async ({ request, set }: { request: Request; set: { headers: Record<string, unknown> } }): Promise<Response> => {
    const requestId = typeof set.headers['x-request-id'] === 'string' ? set.headers['x-request-id'] : undefined
    const path = new URL(request.url).pathname.slice('/v2'.length)
    const route = routeV2(path)
    const read = request.method === 'GET' || request.method === 'HEAD'
    try {
      switch (route.kind) {
        case 'ping':
          return read ? ping() : ociErrorResponse(405, 'UNSUPPORTED', 'this registry is read-only', { allow: 'GET, HEAD' })
        case 'unknown':
          return ociErrorResponse(404, 'NAME_UNKNOWN', route.reason)
        case 'tags':
          if (!read) return ociErrorResponse(405, 'UNSUPPORTED', 'this registry is read-only', { allow: 'GET, HEAD' })
          return await registry.tags(route.image, route.schematic, request)
        case 'proxy':
          if (!read) return ociErrorResponse(405, 'UNSUPPORTED', 'the source image proxy is read-only', { allow: 'GET, HEAD' })
          return await registry.sourceProxy(route.image, route.resource, route.reference, request)
        case 'schematic':
          if (!read) return await registry.unsupported(route.image, route.schematic, route.resource, route.reference)
          if (route.resource === 'manifests') return await registry.manifest(route.image, route.schematic, route.reference, request, requestId)
          if (route.resource === 'blobs') return await registry.blob(route.image, route.schematic, route.reference, request)
          return await registry.referrers(route.image, route.schematic, route.reference, request)
      }
    } catch (err) {
      const resource = route.kind === 'schematic' || route.kind === 'proxy' ? route.resource : route.kind === 'tags' ? 'tags' : 'manifests'
      return ociErrorFrom(err, NOT_FOUND[resource] ?? 'NAME_UNKNOWN', ctx.log, { request_id: requestId, method: request.method, path: `/v2${path}` }, {})
    }
  }

  const tags = ['registry']
  const v2detail = {
    tags,
    summary: 'OCI registry API (pull-only)',
    description: [
      'Installer images: `GET|HEAD /v2/<image>/<schematic>/{manifests,blobs,referrers}/<reference>` with `<image>` one of `installer`, `installer-secureboot`, `<platform>-installer`, `<platform>-installer-secureboot`.',
      'A manifest request for a version tag (`v1.10.0`, or `latest` for the newest stable version) builds both architectures when needed and answers with a signed multi-arch OCI index.',
      'Source image proxy: `GET|HEAD /v2/siderolabs/<image>/{manifests,blobs,referrers}/<reference>` and `/v2/siderolabs/<image>/tags/list` (plain-HTTP upstream registries only).',
      'Errors are OCI JSON bodies (`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"…"}]}`). Write methods answer 405 `UNSUPPORTED`.',
    ].join('\n\n'),
  }
  const ociError = v.pipe(v.object({ errors: v.array(v.object({ code: v.string(), message: v.string() })) }), v.description('OCI error body'))
  const responses = {
    200: v.pipe(v.string(), v.description('a manifest (its media type as Content-Type) or blob bytes')),
    206: v.pipe(v.string(), v.description('a byte range of a blob')),
    307: v.pipe(v.literal(''), v.description('redirect to the configured external registry')),
    400: ociError,
    404: ociError,
  }
  const pingDetail = { tags, summary: 'OCI registry API version check', description: 'Always 200 with an empty body.' }
  const empty = { 200: v.pipe(v.literal(''), v.description('empty body')) }
  const writes = { detail: { hide: true } }

  const app = new Elysia({ name: 'registry' })
    .get('/v2', ping, { response: empty, detail: pingDetail })
    .head('/v2', ping, { response: empty, detail: { ...pingDetail, summary: 'OCI registry API version check (HEAD)' } })
  // One route per path depth instead of a `/v2/*` wildcard: Elysia answers HEAD on wildcard routes
  // by running the GET handler and reading the whole body to count it (a blob HEAD would read the
  // blob, a proxied HEAD would say 0). The wildcard stays as the fallback for deeper paths, which
  // are all errors.
  for (let depth = 1; depth <= MAX_DEPTH; depth++) {
    // the common depth is documented with named parameters (below)
    if (depth === 4) continue
    const path = `/v2/${PARAM_NAMES.slice(0, depth).map((n) => `:${n}`).join('/')}`
    // Elysia's route methods register on the instance (and return it with a wider type)
    app
      .get(path, handle, writes)
      .head(path, handle, writes)
      .put(path, handle, writes)
      .post(path, handle, writes)
      .patch(path, handle, writes)
      .delete(path, handle, writes)
  }
  const common = '/v2/:image/:schematic/:resource/:reference'
  return app
    .get(common, handle, { params: V2Params, response: responses, detail: v2detail })
    .head(common, handle, { params: V2Params, response: responses, detail: { ...v2detail, summary: 'OCI registry API (HEAD)' } })
    .put(common, handle, writes)
    .post(common, handle, writes)
    .patch(common, handle, writes)
    .delete(common, handle, writes)
    .get('/v2/*', handle, writes)
    .head('/v2/*', handle, writes)
    .put('/v2/*', handle, writes)
    .post('/v2/*', handle, writes)
    .patch('/v2/*', handle, writes)
    .delete('/v2/*', handle, writes)
    .get('/oci/cosign/signing-key.pub', () => new Response(registry.publisher.publicKeyPem, { headers: { 'content-type': 'application/x-pem-file' } }), {
      response: { 200: v.pipe(v.string(), v.description('PEM public key (PKIX) that verifies installer image signatures')) },
      detail: {
        tags,
        summary: 'Public key of the installer image signatures',
        description: 'Verify a pulled installer with `cosign verify --offline --insecure-ignore-tlog --key signing-key.pub <image>`.',
      },
    })
}
