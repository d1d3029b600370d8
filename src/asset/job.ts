/**
 * A build job: what the edge asks the builder for. `profile` is the Talos imager profile
 * (imager-spec §2) exactly as hashed into `key`; `dependencies` name the source images and
 * virtual extensions the builder must materialise at the profile's paths before running the
 * imager.
 */
import * as v from 'valibot'
import { InvalidInputError } from '../errors.ts'

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

/**
 * Checks that a job is what the edge would have produced, so the builder's job API cannot be
 * used to publish arbitrary bytes under a schematic's URL: the key is the profile's cache key,
 * the schematic text hashes to its ID, the URL names that schematic and version, and the
 * dependencies name images by digest for a known architecture.
 */
export function verifyJob(job: BuildJob, cacheKey: (profile: Record<string, unknown>) => string): void {
  const fail = (why: string): never => {
    throw new InvalidInputError(`invalid job: ${why}`)
  }
  if (new Bun.CryptoHasher('sha256').update(job.schematic.canonical).digest('hex') !== job.schematic.id) fail('schematic text does not hash to its ID')
  if (job.urlParts[0] !== job.schematic.id || job.urlParts[1] !== job.version) fail('URL does not name the schematic and version')
  if (job.profile.version !== job.version) fail('profile version differs from the job version')
  for (const dep of job.dependencies) {
    if (dep.arch !== undefined && dep.arch !== 'amd64' && dep.arch !== 'arm64') fail('unknown dependency architecture')
    if (dep.digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(String(dep.digest))) fail('dependency digest is not a sha256 digest')
  }
  if (cacheKey(job.profile) !== job.key) fail('key is not the cache key of the profile')
}
