/**
 * Errors the action raises. Every message is written for the person reading the workflow log:
 * it says what failed and, where we can tell, what to do next. `transient` tells the retry
 * loop whether another attempt can help.
 */
export interface ErrorOptions {
  transient?: boolean
  /** Wait this long before the next attempt instead of the usual backoff. */
  retryAfterMs?: number
  cause?: unknown
}

export class ActionError extends Error {
  readonly transient: boolean
  readonly retryAfterMs: number | undefined

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.name = new.target.name
    this.transient = options.transient ?? false
    this.retryAfterMs = options.retryAfterMs
  }

  /**
   * This error as a retry loop gives up on it: a new error of the same class with the same
   * fields, so that a caller checking `instanceof`, `status` or `code` after the retries sees
   * what really failed; `message` in place of its own, this error as its cause, and no longer
   * transient, so that a loop around the one that gave up does not try it all again.
   */
  givenUp(message: string): this {
    // Not through the constructor: each subclass takes its own arguments, and the copy must
    // keep every field, whichever class it is.
    const final = Object.create(Object.getPrototypeOf(this) as object) as this
    Object.assign(final, this, { transient: false })
    Object.defineProperties(final, {
      message: { value: message, writable: true, configurable: true },
      cause: { value: this, writable: true, configurable: true }
    })
    Error.captureStackTrace(final)
    return final
  }
}

/** A non-2xx answer from the Downloads API. */
export class ApiError extends ActionError {
  readonly status: number
  /** GitHub's validation error codes (`already_exists`, `missing_field`, …), if any. */
  readonly codes: string[]

  constructor(message: string, status: number, options: ErrorOptions & { codes?: string[] } = {}) {
    super(message, options)
    this.status = status
    this.codes = options.codes ?? []
  }
}

/** An XML `<Error>` (or an unexpected answer) from the S3 POST endpoint. */
export class S3Error extends ActionError {
  readonly status: number
  readonly code: string

  constructor(message: string, status: number, code: string, options: ErrorOptions = {}) {
    super(message, options)
    this.status = status
    this.code = code
  }
}

/** A request that never got an answer: refused, reset, timed out. Always worth retrying. */
export class NetworkError extends ActionError {
  constructor(message: string, cause: unknown) {
    super(message, { transient: true, cause })
  }
}

/**
 * The run was cancelled (the runner's SIGINT or SIGTERM): the work in hand stops, and what it
 * left half-done is undone. Never retried.
 */
export class CancelledError extends ActionError {
  constructor(message = 'cancelled') {
    super(message)
  }
}

/**
 * A file on the runner could not be opened or read: missing, unreadable, changed. No retry
 * helps, and no request should be sent for it.
 */
export class LocalFileError extends ActionError {}

/**
 * Another writer changed the same downloads while this run worked on them (a second run of
 * the workflow, a person): this run stepped back instead of overwriting what it did not make.
 */
export class ConflictError extends ActionError {}

/**
 * An answer that is not what the API answers (not JSON, fields missing): the server may still
 * have acted on the request. Not retried.
 */
export class ProtocolError extends ActionError {}

/**
 * Whether an answer with this HTTP status may be different next time: a server's or a
 * gateway's error (5xx), too many requests (429), a request timeout (408). These are the
 * statuses RFC 9110 §15 and RFC 6585 §4 describe as worth repeating, and the ones GitHub's
 * and AWS's retry guidance retry.
 */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408
}

/**
 * Work that was never started: GitHub's rate limit has too little left for it and lifts
 * later than `rate-limit-wait` allows. Nothing was sent for it.
 */
export class RateLimitError extends ActionError {}

/** The text of any thrown value, for messages. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
