/**
 * Build jobs.
 *
 * `BuildRequest` is what crosses the builder's job API: only what the client asked the edge for
 * (schematic ID, version, asset path). The builder plans the `BuildJob` itself (src/asset/planner.ts)
 * — profile, cache key, URL — so nothing a caller sends can choose the bytes published under a URL.
 *
 * `BuildJob` is the planned build: `profile` is the Talos imager profile (imager-spec §2) exactly as
 * hashed into `key`; `dependencies` name the source images and virtual extensions the builder must
 * materialise at the profile's paths before running the imager.
 */
import * as v from 'valibot'

/** Largest accepted job API body; a request is four short strings. */
export const MAX_BUILD_REQUEST_BYTES = 4096

const Segment = v.pipe(v.string(), v.maxLength(256), v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'must be a plain path segment'))

export const BuildRequestSchema = v.strictObject({
  schematic: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'schematic must be 64 lowercase hex characters')),
  version: v.pipe(v.string(), v.maxLength(64), v.regex(/^v?[0-9][0-9A-Za-z.-]*$/, 'version must look like v1.2.3 (no build metadata)')),
  path: Segment,
  /** the edge's request ID, for the builder's logs */
  requestId: v.optional(v.pipe(v.string(), v.maxLength(128), v.regex(/^[\x21-\x7e]+$/, 'requestId must be visible ASCII'))),
})

export type BuildRequest = v.InferOutput<typeof BuildRequestSchema>

export interface BuildJob {
  /** cache key: 64 lowercase hex */
  key: string
  contentType: string
  /** by-url path parts: [schematic ID, version tag, file name] */
  urlParts: [string, string, string]
  version: string
  schematic: { id: string; canonical: string }
  profile: Record<string, unknown>
  dependencies: Record<string, unknown>[]
}
