/**
 * Typed domain errors. Every layer throws these; the edge turns them into HTTP responses in one
 * place (edge/errors.ts). The message is the one-line reason shown to the client, so it must never
 * contain a stack trace or internal paths.
 */
export abstract class FactoryError extends Error {
  abstract readonly status: number
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Malformed or invalid client input (bad YAML, unknown field, malformed version, bad path). */
export class InvalidInputError extends FactoryError {
  readonly status = 400
}

/** Something the client named does not exist (schematic, version, asset, image). */
export class NotFoundError extends FactoryError {
  readonly status = 404
}

/** Request body over the configured limit. */
export class PayloadTooLargeError extends FactoryError {
  readonly status = 413
}

/** An upstream (registry, builder, redis) cannot be reached or answered badly. */
export class UpstreamUnavailableError extends FactoryError {
  readonly status = 503
}

/** Credentials were rejected by an upstream registry. */
export class UpstreamUnauthorizedError extends FactoryError {
  readonly status = 502
}

/** A configuration value is invalid; raised at start-up only. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

export function isFactoryError(err: unknown): err is FactoryError {
  return err instanceof FactoryError
}

/** The stored schematic belongs to an owner (Enterprise storage shared with us). */
export class AuthenticationRequiredError extends FactoryError {
  readonly status = 401
}

/** A valid request for something this factory does not build yet. */
export class NotImplementedError extends FactoryError {
  readonly status = 501
}
