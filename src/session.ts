import { DownloadsApi } from './downloads-api.js'
import { describe } from './errors.js'
import { createHttpClient, type HttpClient } from './http.js'
import type { Inputs } from './inputs.js'
import * as log from './log.js'
import { AdaptiveLimit } from './pool.js'
import { RateLimitGate } from './rate-limits.js'
import type { RetryOptions } from './retry.js'
import { StoredBytes } from './stored-bytes.js'

/** The clients of one retry budget. */
export interface Tools {
  api: DownloadsApi
  storedBytes: StoredBytes
  retry: RetryOptions
}

/** Everything that talks to the server, wired once per step from the inputs. */
export interface Session extends Tools {
  http: HttpClient
  gate: RateLimitGate
  /**
   * The same clients with a larger retry budget, for the undo: deleting a record without
   * bytes, putting a replaced download back. Giving up there can cost the user a file, so it
   * tries at least {@link UNDO_ATTEMPTS} times whatever `max-attempts` says.
   */
  undo: Tools
  /** How many files upload at once; lowered after a secondary rate limit. */
  limit: AdaptiveLimit
  close(): Promise<void>
}

const UNDO_ATTEMPTS = 10
/** An hour: GitHub's primary limit resets hourly. */
const UNDO_RATE_LIMIT_WAIT_MS = 3_600_000

/**
 * `signal` (the main step's cancellation) stops the forward work's requests and waits; the
 * undo's clients never take it.
 */
export function createSession(inputs: Inputs, signal?: AbortSignal): Session {
  const http = createHttpClient()
  const limit = new AdaptiveLimit(inputs.concurrency)
  const gate = new RateLimitGate({
    maxWaitMs: inputs.rateLimitWait * 1000,
    onSecondary: () => {
      if (limit.lower()) {
        log.warning(
          `GitHub's secondary rate limit hit: uploading ${limit.current} at a time from now on.`
        )
      }
    },
    onWait: (kind, ms) =>
      log.info(`GitHub's ${kind} rate limit: holding every request for ${Math.ceil(ms / 1000)} s.`)
  })
  const retry: RetryOptions = {
    maxAttempts: inputs.maxAttempts,
    // Tests set a millisecond backoff, so that injected faults do not make them wait for real.
    baseDelayMs: Number(process.env.UPLOAD_DOWNLOADS_RETRY_DELAY_MS ?? 1000),
    maxDelayMs: 30_000,
    onRetry: ({ what, attempt, delayMs, error }) =>
      log.info(
        `${what}: attempt ${attempt} failed (${describe(error)}); trying again in ${(delayMs / 1000).toFixed(1)} s.`
      )
  }
  // The undo waits out rate limits much longer than `rate-limit-wait`: giving up there could
  // cost the user a file. Its own gate, since the forward gate stops for good once a limit
  // outlasts `rate-limit-wait`.
  const undoGate = new RateLimitGate({
    maxWaitMs: Math.max(UNDO_RATE_LIMIT_WAIT_MS, inputs.rateLimitWait * 1000),
    onWait: (kind, ms) =>
      log.info(
        `GitHub's ${kind} rate limit: the undo waits ${Math.ceil(ms / 1000)} s for it to lift.`
      )
  })
  const tools = (retry: RetryOptions, gate: RateLimitGate, signal?: AbortSignal): Tools => ({
    api: new DownloadsApi(
      http,
      { apiUrl: inputs.apiUrl, token: inputs.token, owner: inputs.owner, repo: inputs.repo },
      retry,
      gate,
      signal
    ),
    storedBytes: new StoredBytes(http, retry),
    retry
  })
  return {
    ...tools(retry, gate, signal),
    undo: tools({ ...retry, maxAttempts: Math.max(UNDO_ATTEMPTS, inputs.maxAttempts) }, undoGate),
    http,
    gate,
    limit,
    close: () => http.close()
  }
}
