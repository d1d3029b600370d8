/**
 * talosctl downloads (factory-spec §3.6–3.7): the list of binaries of a version as URLs, and the
 * binaries themselves. Only names from the list are served, so no path can escape.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { goJson } from '../../src/json.ts'
import { toVersionTag } from '../../src/talos/semver.ts'
import type { AppContext } from '../context.ts'

const ErrorText = v.pipe(v.string(), v.description('one-line reason, text/plain'))

export function talosctlRoutes(ctx: AppContext) {
  const { catalog } = ctx
  const serve = async (params: { version: string; path: string }, head: boolean) => {
    const file = Bun.file(await catalog.talosctlFile(params.version, params.path))
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(file.size),
      'content-disposition': `attachment; filename="${params.path}"`,
    }
    return new Response(head ? null : file, { headers })
  }
  const fileDetail = { summary: 'Download a talosctl binary', tags: ['talosctl'] }
  const fileParams = v.object({
    version: v.string(),
    path: v.pipe(v.string(), v.description('file name from the list, e.g. talosctl-linux-amd64')),
  })
  return new Elysia({ name: 'talosctl' })
    .get(
      '/talosctl/:version',
      async ({ params }) => {
        const { files } = await catalog.talosctlFiles(params.version)
        const base = ctx.config.http.externalUrl
        const urls = files.map((f) => new URL(`talosctl/${toVersionTag(params.version)}/${f}`, base).href)
        return new Response(goJson(urls), { headers: { 'content-type': 'application/json' } })
      },
      {
        params: v.object({ version: v.string() }),
        response: { 200: v.array(v.pipe(v.string(), v.description('download URL'))), 400: ErrorText, 404: ErrorText },
        detail: { summary: 'List talosctl binaries of a version', tags: ['talosctl'], description: 'Empty before Talos 1.11.0-alpha.3.' },
      },
    )
    .get('/talosctl/:version/:path', ({ params }) => serve(params, false), {
      params: fileParams,
      response: { 200: v.pipe(v.string(), v.description('binary (application/octet-stream)')), 404: ErrorText },
      detail: fileDetail,
    })
    .head('/talosctl/:version/:path', ({ params }) => serve(params, true), {
      params: fileParams,
      response: { 200: v.pipe(v.literal(''), v.description('headers only')), 404: ErrorText },
      detail: { ...fileDetail, summary: 'Size and name of a talosctl binary' },
    })
}
