/**
 * Schematic frontend (factory-spec §3.1–3.2): POST /schematics and GET /schematics/:schematic.
 * The body is read raw (any Content-Type; YAML or JSON) with a size limit, so Elysia's own body
 * parsing is switched off for this route.
 */
import { Elysia } from 'elysia'
import * as v from 'valibot'
import { readBodyLimited } from '../../src/body.ts'
import { NotFoundError } from '../../src/errors.ts'
import { goJson } from '../../src/json.ts'
import type { AppContext } from '../context.ts'

const EXAMPLE_YAML = `customization:
  extraKernelArgs:
    - noapic
    - nolapic
  systemExtensions:
    officialExtensions:
      - siderolabs/gvisor
`
const EXAMPLE_ID = '9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c'

const CreatedSchema = v.pipe(
  v.object({
    id: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/), v.description('schematic ID: sha256 of the canonical YAML')),
    schematic: v.pipe(v.string(), v.description('canonical YAML, the exact bytes that were hashed')),
  }),
  v.metadata({
    examples: [{ id: EXAMPLE_ID, schematic: 'customization:\n    extraKernelArgs:\n        - noapic\n        - nolapic\n' }],
  }),
)
const ErrorText = v.pipe(v.string(), v.description('one-line reason, text/plain'))
const IdParams = v.object({
  schematic: v.pipe(v.string(), v.description('schematic ID (64 lowercase hex characters)'), v.metadata({ examples: [EXAMPLE_ID] })),
})

export function schematicRoutes(ctx: AppContext) {
  return new Elysia({ name: 'schematics' })
    .post(
      '/schematics',
      async ({ request }) => {
        const body = await readBodyLimited(request, ctx.config.http.maxBodyBytes)
        const { id, canonical } = await ctx.schematics.create(body)
        return new Response(goJson({ id, schematic: canonical }), {
          status: 201,
          headers: { 'content-type': 'application/json' },
        })
      },
      {
        parse: 'none',
        response: {
          201: CreatedSchema,
          400: v.pipe(ErrorText, v.description('one-line reason: a parse or validation error, a body over a parse limit (nesting, nodes, anchors, aliases, canonical size) or over the parse time budget')),
          413: v.pipe(ErrorText, v.description('the body is larger than FACTORY_MAX_BODY_BYTES')),
          503: v.pipe(ErrorText, v.description('every schematic parser is busy and the queue is full; retry later')),
        },
        detail: {
          summary: 'Create a schematic',
          tags: ['schematics'],
          description:
            'Parses the YAML (or JSON) schematic strictly, stores its canonical form and returns its ID. Idempotent: posting the same schematic again returns the same ID. Content-Type is ignored. Only the first YAML document is read. Bodies are parsed in worker threads within limits (nesting depth 1000, 200000 nodes, 1000 anchors and 1000 aliases, 4 MiB of canonical YAML, a time budget); a body over one gets a 400 naming it.',
          requestBody: {
            required: true,
            content: {
              'application/yaml': { schema: { type: 'string' }, example: EXAMPLE_YAML },
              'application/json': {
                schema: { type: 'object', additionalProperties: true },
                example: { customization: { extraKernelArgs: ['noapic', 'nolapic'] } },
              },
            },
          },
        },
      },
    )
    .get(
      '/schematics/:schematic',
      async ({ params }) => {
        const found = await ctx.schematics.get(params.schematic)
        if (!found) throw new NotFoundError('schematic not found')
        return new Response(found.canonical, { headers: { 'content-type': 'application/yaml' } })
      },
      {
        params: IdParams,
        response: { 200: v.pipe(v.string(), v.description('canonical schematic YAML (application/yaml)')), 404: ErrorText },
        detail: {
          summary: 'Get a schematic',
          tags: ['schematics'],
          description: 'Returns the canonical YAML of a stored schematic; 404 for unknown or malformed IDs.',
        },
      },
    )
}
