import { ApiError } from './errors.js'
import { sleep as realSleep } from './retry.js'

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
  private readonly now: () => number
  private readonly sleep: (ms: number) => Promise<void>

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now
    this.sleep = options.sleep ?? realSleep
  }

  /** Resolves once no limit is in force. */
  async ready(): Promise<void> {
    for (let left = this.resumeAt - this.now(); left > 0; left = this.resumeAt - this.now()) {
      await this.sleep(left)
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
      return new ApiError(
        `GitHub's ${kind} rate limit is exhausted (${message}). It lifts at ${when}, ` +
          `in ${Math.ceil(waitMs / 1000)} s, longer than 'rate-limit-wait' allows ` +
          `(${Math.round(this.options.maxWaitMs / 1000)} s): re-run after that, or raise 'rate-limit-wait'.`,
        403
      )
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
