import { ApiError, CancelledError, RateLimitError } from './errors.js'
import { sleep as realSleep, sleepUnless } from './retry.js'

/** How a rate-limited answer was recognised. */
export type RateLimitKind = 'primary' | 'secondary'

export interface RateLimitOptions {
  /** Longest wait the user accepts for a limit to lift, in milliseconds. */
  maxWaitMs: number
  /** Told when a secondary limit hits, so that the caller can slow down. */
  onSecondary?: () => void
  /** Told whenever requests are held back, for the log. */
  onWait?: (kind: RateLimitKind, waitMs: number) => void
  now?: () => number
  sleep?: (ms: number) => Promise<void>
}

/** GitHub: "wait at least one minute" when a secondary limit names no retry-after. */
const SECONDARY_FALLBACK_MS = 60_000

/**
 * GitHub's two rate limits, shared by every request of the run: while one is in force no
 * API request is sent. Follows GitHub's "Best practices for using the REST API":
 * primary limit (remaining 0) → wait until `x-ratelimit-reset`; secondary limit → honour
 * `retry-after`, otherwise wait a minute and back off exponentially.
 */
export class RateLimitGate {
  private resumeAt = 0
  private secondaryHits = 0
  /** The primary budget as the last answer told it. */
  private remaining: number | undefined
  private resetAtMs: number | undefined
  /** Requests promised to work in hand (see {@link reserve}). */
  private reserved = 0
  /** Set once a primary limit outlasts `maxWaitMs`: no new work starts after that. */
  private exhausted: ApiError | undefined
  private readonly now: () => number
  private readonly sleep: (ms: number) => Promise<void>

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now
    this.sleep = options.sleep ?? realSleep
  }

  /** Resolves once no limit is in force; a cancelled run stops waiting. */
  async ready(signal?: AbortSignal): Promise<void> {
    for (let left = this.resumeAt - this.now(); left > 0; left = this.resumeAt - this.now()) {
      if (signal === undefined) await this.sleep(left)
      else await sleepUnless(left, signal, this.sleep)
      if (signal?.aborted) throw new CancelledError('cancelled while waiting for a rate limit')
    }
  }

  /** Notes the budget an answer reports (`x-ratelimit-remaining` and `-reset`). */
  observe(headers: Record<string, string>): void {
    const remaining = Number(headers['x-ratelimit-remaining'])
    const reset = Number(headers['x-ratelimit-reset'])
    if (headers['x-ratelimit-remaining'] !== undefined && Number.isFinite(remaining)) {
      this.remaining = remaining
    }
    if (headers['x-ratelimit-reset'] !== undefined && Number.isFinite(reset)) {
      this.resetAtMs = reset * 1000
    }
  }

  /**
   * Promises `requests` API requests to a piece of work that must not stop halfway (a
   * replace: delete, create, and, should the upload fail, the clean-up and the restore).
   * When the budget cannot cover them it waits for the reset, if the user allows that long,
   * and otherwise refuses: the work is then never started, rather than left half-done.
   * Resolves to the function that gives the promise back.
   */
  async reserve(requests: number, what: string, signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      if (this.exhausted !== undefined) {
        throw new RateLimitError(`${what} was not started: ${this.exhausted.message}`)
      }
      await this.ready(signal)
      if (this.remaining === undefined || this.remaining - this.reserved >= requests) {
        this.reserved += requests
        let given = false
        return () => {
          if (!given) this.reserved -= requests
          given = true
        }
      }
      const now = this.now()
      const until = (this.resetAtMs ?? now + 60_000) + 1000
      const failure = this.holdUntil(
        'primary',
        until,
        now,
        `${this.remaining} requests left, fewer than a file's changes may need`
      )
      if (!failure.transient) {
        throw new RateLimitError(`${what} was not started: ${failure.message}`)
      }
      // After the reset the next answer tells the new budget.
      this.remaining = undefined
    }
  }

  /**
   * Looks at an answer. A rate-limited one holds every later request back and comes back
   * as a transient error (or a final one when the wait is longer than the user allows);
   * any other answer comes back as `null`.
   */
  check(status: number, headers: Record<string, string>, message: string): ApiError | null {
    if (status !== 403 && status !== 429) return null
    const now = this.now()
    if (headers['x-ratelimit-remaining'] === '0') {
      const resetMs = Number(headers['x-ratelimit-reset']) * 1000
      // A second of margin: the reset time is whole seconds, and clocks differ.
      const until = Number.isFinite(resetMs) && resetMs > now ? resetMs + 1000 : now + 60_000
      return this.holdUntil('primary', until, now, message)
    }
    if (/secondary rate limit/i.test(message) || status === 429) {
      this.secondaryHits++
      this.options.onSecondary?.()
      const retryAfter = Number(headers['retry-after'])
      const waitMs =
        headers['retry-after'] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0
          ? retryAfter * 1000
          : SECONDARY_FALLBACK_MS * 2 ** (this.secondaryHits - 1)
      return this.holdUntil('secondary', now + waitMs, now, message)
    }
    return null
  }

  private holdUntil(kind: RateLimitKind, until: number, now: number, message: string): ApiError {
    const waitMs = until - now
    if (waitMs > this.options.maxWaitMs) {
      const when = new Date(until).toISOString()
      this.exhausted = new ApiError(
        `GitHub's ${kind} rate limit is exhausted (${message}). It lifts at ${when}, ` +
          `in ${Math.ceil(waitMs / 1000)} s, longer than 'rate-limit-wait' allows ` +
          `(${Math.round(this.options.maxWaitMs / 1000)} s): re-run after that, or raise 'rate-limit-wait'.`,
        403
      )
      return this.exhausted
    }
    this.resumeAt = Math.max(this.resumeAt, until)
    this.options.onWait?.(kind, waitMs)
    return new ApiError(`GitHub's ${kind} rate limit (${message})`, 403, {
      transient: true,
      // The gate already holds every request until the limit lifts; no backoff on top.
      retryAfterMs: 0
    })
  }
}
