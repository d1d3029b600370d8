/**
 * OpenAPI 3.1 document at /swagger/json and Swagger UI at /swagger.
 *
 * Why @elysiajs/openapi and not @elysiajs/swagger: the older plugin copies valibot schema objects
 * verbatim into the document, which is not JSON Schema; the successor maps them through
 * @valibot/to-json-schema. Swagger UI's JS/CSS come from the npm `swagger-ui-dist` package and are
 * served by this app: the plugin's default CDN links fail on air-gapped sites.
 */
import { Elysia } from 'elysia'
import { openapi } from '@elysiajs/openapi'
import { toJsonSchema } from '@valibot/to-json-schema'
import type { GenericSchema } from 'valibot'
import { dirname, join } from 'node:path'
import { createRequire } from 'node:module'
import { NotFoundError } from '../src/errors.ts'

const require = createRequire(import.meta.url)
const SWAGGER_DIST = dirname(require.resolve('swagger-ui-dist/package.json'))
const ASSETS: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
}

/** JSON Schema for OpenAPI 3.1: drop the draft-07 `$schema` marker, keep going on unsupported actions. */
function valibotToOpenApi(schema: unknown): Record<string, unknown> {
  const json = toJsonSchema(schema as GenericSchema, { errorMode: 'ignore' }) as Record<string, unknown>
  delete json.$schema
  return json
}

export function openApiPlugin(version: string) {
  return new Elysia({ name: 'openapi' })
    .use(
      openapi({
        path: '/swagger',
        specPath: '/swagger/json',
        provider: 'swagger-ui',
        // staticFile: the plugin drops paths with a dot by default, which would hide /llms.txt
        exclude: { paths: ['/swagger', '/swagger/json', '/swagger/assets/:file'], staticFile: false },
        mapJsonSchema: { valibot: valibotToOpenApi },
        documentation: {
          info: {
            title: 'Talos Linux Image Factory',
            version,
            description:
              'Self-hostable, wire-compatible Talos Linux Image Factory: schematics, versions and extension lists, boot assets, PXE scripts and installer images.',
          },
          tags: [
            { name: 'schematics', description: 'Create and read schematics (customisations identified by ID)' },
            { name: 'versions', description: 'Talos versions, official extensions and overlays' },
            { name: 'assets', description: 'Boot assets built from a schematic and a Talos version' },
            { name: 'pxe', description: 'iPXE boot scripts' },
            { name: 'secureboot', description: 'Secure Boot signing certificate' },
            { name: 'talosctl', description: 'talosctl binaries of a Talos version' },
            { name: 'registry', description: 'OCI registry: installer images (docker/podman pull, talosctl upgrade --image) and the source image proxy' },
            { name: 'health', description: 'Liveness and readiness' },
            { name: 'docs', description: 'Guides to this API' },
          ],
        },
        swagger: {
          cdn: '/swagger/assets/swagger-ui-bundle.js',
          theme: '/swagger/assets/swagger-ui.css',
          autoDarkMode: false,
        },
      }),
    )
    .get(
      '/swagger/assets/:file',
      ({ params }) => {
        // own keys only: `constructor`, `__proto__`, `toString`… must not reach Bun.file
        const type = Object.hasOwn(ASSETS, params.file) ? ASSETS[params.file] : undefined
        if (!type) throw new NotFoundError(`no such asset ${JSON.stringify(params.file)}`)
        return new Response(Bun.file(join(SWAGGER_DIST, params.file)), {
          headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' },
        })
      },
      { detail: { hide: true } },
    )
}
