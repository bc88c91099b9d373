/**
 * GitHub's primary REST rate limit: a budget per token per hour, reported on every answer in
 * `x-ratelimit-*` headers (docs/protocol.md, "Rate limits").
 */

/** The state of one budget after a request. */
export interface RateState {
  limit: number
  remaining: number
  used: number
  /** Epoch seconds when the window resets. */
  reset: number
  /** True when the budget was already spent: the primary limit answers 403. */
  exceeded: boolean
}

export class RateLimiter {
  private readonly windows = new Map<string, { used: number; reset: number }>()

  constructor(private readonly limit: number) {}

  /** Spends one request from `bucket` (a token, or `anonymous`). */
  consume(bucket: string, now = Date.now()): RateState {
    const nowSeconds = Math.floor(now / 1000)
    let window = this.windows.get(bucket)
    if (!window || window.reset <= nowSeconds) {
      window = { used: 0, reset: nowSeconds + 3600 }
      this.windows.set(bucket, window)
    }
    const exceeded = window.used >= this.limit
    if (!exceeded) window.used++
    return {
      limit: this.limit,
      remaining: this.limit - window.used,
      used: window.used,
      reset: window.reset,
      exceeded
    }
  }
}

/** The headers GitHub sent with every API answer. */
export function rateLimitHeaders(state: RateState): Record<string, string> {
  return {
    'X-RateLimit-Limit': String(state.limit),
    'X-RateLimit-Remaining': String(state.remaining),
    'X-RateLimit-Used': String(state.used),
    'X-RateLimit-Reset': String(state.reset),
    'X-RateLimit-Resource': 'core'
  }
}
