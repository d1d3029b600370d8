/**
 * A build job: what the edge asks the builder for. `profile` is the Talos imager profile
 * (imager-spec §2) exactly as hashed into `key`; `dependencies` name the source images and
 * virtual extensions the builder must materialise at the profile's paths before running the
 * imager.
 */
import * as v from 'valibot'

export const BuildJobSchema = v.object({
  key: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'key must be 64 lowercase hex characters')),
  contentType: v.pipe(v.string(), v.minLength(1)),
  /** by-url path parts: [schematic ID, version tag, file name] */
  urlParts: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/))), v.length(3)),
  version: v.string(),
  schematic: v.object({ id: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)), canonical: v.string() }),
  profile: v.record(v.string(), v.unknown()),
  dependencies: v.array(v.record(v.string(), v.unknown())),
})

export type BuildJob = v.InferOutput<typeof BuildJobSchema>
