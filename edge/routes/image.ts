/**
 * Boot assets (factory-spec §6): GET|HEAD /image/:schematic/:version/:path. Hits are served from
 * the store with Range/ETag; misses stream from the builder while it builds. `.sha256`/`.sha512`
 * sidecars answer `<hex>  <filename>` (the reference keeps them behind its paid edition).
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { splitSidecar } from '../../src/asset/path.ts'
import { contentDisposition, downloadFilename, stripControlChars, TEXT_PLAIN } from '../../src/asset/mime.ts'
import { NotImplementedError } from '../../src/errors.ts'
import { fileResponse } from '../http/file-response.ts'
import type { AppContext } from '../context.ts'
import { STALE_WARNING } from './meta.ts'

const ErrorText = v.pipe(v.string(), v.description('one-line reason, text/plain'))
const Params = v.object({
  schematic: v.pipe(v.string(), v.description('schematic ID'), v.metadata({ examples: ['376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba'] })),
  version: v.pipe(v.string(), v.description('Talos version'), v.metadata({ examples: ['v1.12.0'] })),
  path: v.pipe(
    v.string(),
    v.description(
      'asset file name: kernel-<arch>, initramfs-<arch>.xz, cmdline-<platform>-<arch>[-secureboot], <platform>-<arch>[-secureboot].iso, <platform>-<arch>[-secureboot]-uki.efi, …; add .sha256 or .sha512 for a checksum',
    ),
    v.metadata({ examples: ['initramfs-amd64.xz'] }),
  ),
})
const Query = v.object({ filename: v.optional(v.pipe(v.string(), v.description('download file name (Content-Disposition)'))) })

export function imageRoutes(ctx: AppContext) {
  const handler = async ({ params, query, request }: { params: v.InferOutput<typeof Params>; query: v.InferOutput<typeof Query>; request: Request }) => {
    const { path, sidecar } = splitSidecar(params.path)
    if (sidecar === 'sigstore') throw new NotImplementedError('signature bundles are not available from this factory')
    const planned = await ctx.assets.plan(params.schematic, params.version, path)
    const filename = downloadFilename(path, query.filename)
    const headers: Record<string, string> = {}
    if (planned.stale) headers.warning = STALE_WARNING
    if (sidecar) {
      const { meta } = await ctx.assets.ensure(planned.job)
      // one line whatever `?filename=` holds (`a%0Ab` must not add a line)
      const body = `${sidecar === 'sha256' ? meta.sha256 : meta.sha512}  ${stripControlChars(filename)}\n`
      return new Response(request.method === 'HEAD' ? null : body, {
        headers: { ...headers, 'content-type': TEXT_PLAIN, 'content-length': String(Buffer.byteLength(body)) },
      })
    }
    headers['content-type'] = planned.job.contentType
    headers['content-disposition'] = contentDisposition(filename)
    const got = await ctx.assets.fetch(planned.job)
    if (got.kind === 'file') return fileResponse(request, got.path, { ...headers, 'x-cache': 'HIT' })
    if (request.method === 'HEAD') {
      // HEAD builds too (as the reference); answer with the finished asset's headers
      await got.stream.cancel().catch(() => {})
      const done = await ctx.assets.ensure(planned.job)
      return fileResponse(request, done.path, { ...headers, 'x-cache': 'MISS' })
    }
    return new Response(got.stream, { headers: { ...headers, 'x-cache': 'MISS' } })
  }
  const detail = {
    tags: ['assets'],
    description:
      'Builds (or serves from cache) a boot asset for a schematic and Talos version. Cold requests stream while the asset is built; cached ones support Range and ETag. Output kinds built today: kernel, cmdline, initramfs, ISO, UKI, installer (a docker-save tarball) (`-secureboot` variants signed with the factory\'s Secure Boot keys when FACTORY_SECUREBOOT_ENABLED; 400 `secure boot is disabled` otherwise); other kinds answer 501.',
  }
  const responses = {
    200: v.pipe(v.string(), v.description('the asset bytes')),
    206: v.pipe(v.string(), v.description('a byte range of a cached asset')),
    304: v.pipe(v.literal(''), v.description('not modified (If-None-Match)')),
    400: ErrorText,
    404: ErrorText,
    501: ErrorText,
  }
  return new Elysia({ name: 'image' })
    .get('/image/:schematic/:version/:path', handler, { params: Params, query: Query, response: responses, detail: { ...detail, summary: 'Download a boot asset' } })
    .head('/image/:schematic/:version/:path', handler, {
      params: Params,
      query: Query,
      response: { 200: v.pipe(v.literal(''), v.description('headers only')), 400: ErrorText, 404: ErrorText },
      detail: { ...detail, summary: 'Size and type of a boot asset (builds it when needed)' },
    })
}
