/**
 * Imager failures, each mapped to the reference imager's exit codes (imager-spec §10:
 * 0 ok, 1 unknown, 2 invalid input, 3 unsupported, 4 environment, 5 dependency, 6 IO).
 *
 * Bad profiles and bad/incompatible extensions are `InvalidInputError`s (exit 2), so the builder
 * can answer 400; the classes below cover what is not the client's fault. Messages are one line:
 * the CLI prints exactly `err.message` as its last stderr line.
 */
import { FactoryError, InvalidInputError, NotImplementedError } from '../../src/errors.ts'

/** The profile asks for something this imager does not build (yet). Exit code 3. */
export class ImagerUnsupportedError extends NotImplementedError {}

/** A required host tool is missing or unusable. Exit code 4. */
export class ImagerEnvironmentError extends FactoryError {
  readonly status = 500
}

/** A tool (mksquashfs, depmod, zstd, …) failed on the inputs. Exit code 5. */
export class ImagerToolError extends FactoryError {
  readonly status = 500
}

/** Reading an input or writing the output/cache failed. Exit code 6. */
export class ImagerIOError extends FactoryError {
  readonly status = 500
}

/** The build was cancelled through its AbortSignal. */
export class ImagerAbortedError extends FactoryError {
  readonly status = 499
}

/** Exit code for an error (imager-spec §10). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof InvalidInputError) return 2
  if (err instanceof NotImplementedError) return 3
  if (err instanceof ImagerEnvironmentError) return 4
  if (err instanceof ImagerToolError) return 5
  if (err instanceof ImagerIOError) return 6
  if (err instanceof ImagerAbortedError) return 130
  return 1
}

/** One line, no stack: the message of a known error, or a short description of an unknown one. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  const line = msg.split('\n').find((l) => l.trim() !== '') ?? 'unknown error'
  return line.trim()
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined
}

/** Wraps a filesystem error as ImagerIOError (keeping typed errors as they are). */
export function ioError(what: string, err: unknown): FactoryError {
  if (err instanceof FactoryError) return err
  const code = errnoCode(err)
  const detail = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOSPC' ? 'no space left on device' : code === 'EACCES' ? 'permission denied' : oneLine(err)
  return new ImagerIOError(`${what}: ${detail}`, { cause: err })
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoCode(err)
  return code !== undefined && codes.includes(code)
}
