/** Builder-side job types; the job itself is defined in src/asset/job.ts (shared with the edge). */
import type { BuildJob } from '../src/asset/job.ts'

export type { BuildJob } from '../src/asset/job.ts'

/** Runs one build, writing the asset progressively to `outputPath`. */
export type RunBuild = (job: BuildJob, outputPath: string, signal: AbortSignal) => Promise<void>

/** A build failed because of its input (incompatible extension, bad option): a 400, not a 500. */
export class BuildInputError extends Error {
  override name = 'BuildInputError'
}
