/**
 * A build job: what the edge asks the builder for. The profile is the Talos imager profile
 * (imager-spec §2) with source images named by digest; the key is its cache key.
 */
import * as v from 'valibot'

export const BuildJobSchema = v.object({
  key: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, 'key must be 64 lowercase hex characters')),
  contentType: v.pipe(v.string(), v.minLength(1)),
  /** by-url path parts: [schematic ID, version, file name] */
  urlParts: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/))), v.length(3)),
  version: v.string(),
  schematic: v.object({ id: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)), canonical: v.string() }),
  profile: v.record(v.string(), v.unknown()),
})

export type BuildJob = v.InferOutput<typeof BuildJobSchema>

/** Runs one build, writing the asset progressively to `outputPath`. */
export type RunBuild = (job: BuildJob, outputPath: string, signal: AbortSignal) => Promise<void>

/** A build failed because of its input (incompatible extension, bad option): a 400, not a 500. */
export class BuildInputError extends Error {
  override name = 'BuildInputError'
}
