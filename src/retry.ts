import { ActionError, CancelledError, describe } from './errors.js'

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number
  /** The backoff ceiling before the second attempt; it doubles each time. */
  baseDelayMs: number
  maxDelayMs: number
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  /** Told before each wait, for the log. */
  onRetry?: (event: { what: string; attempt: number; delayMs: number; error: unknown }) => void
  /** A cancelled run makes no further attempt and cuts a backoff wait short. */
  signal?: AbortSignal
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves after `ms`, or as soon as `signal` aborts. */
export function sleepUnless(ms: number, signal: AbortSignal, wait: (ms: number) => Promise<void>) {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
    void wait(ms).then(done)
  })
}

/** Whether another attempt could succeed: network faults, 5xx, 429, S3's busy codes. */
export function isTransient(error: unknown): boolean {
  return error instanceof ActionError && error.transient
}

/**
 * Runs `attempt` until it succeeds, it fails for good, or the attempts run out. Waits
 * between attempts grow exponentially, half of each drawn at random (AWS's "equal jitter"),
 * so a burst of parallel uploads does not retry in lockstep.
 */
export async function withRetry<T>(
  what: string,
  options: RetryOptions,
  attempt: (attemptNumber: number) => Promise<T>
): Promise<T> {
  const wait = options.sleep ?? sleep
  const random = options.random ?? Math.random
  for (let n = 1; ; n++) {
    try {
      return await attempt(n)
    } catch (error) {
      if (!isTransient(error)) throw error
      if (options.signal?.aborted) {
        throw new CancelledError(`${what}: cancelled after attempt ${n} (${describe(error)})`)
      }
      if (n >= options.maxAttempts) {
        // The same class and fields (an S3Error's status and code), not a bare ActionError;
        // a transient error is always an ActionError.
        throw (error as ActionError).givenUp(
          `${what} failed: ${describe(error)} (gave up after ${n} attempt${n === 1 ? '' : 's'})`
        )
      }
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (n - 1))
      const delayMs =
        error instanceof ActionError && error.retryAfterMs !== undefined
          ? error.retryAfterMs
          : Math.round(ceiling / 2 + (random() * ceiling) / 2)
      options.onRetry?.({ what, attempt: n, delayMs, error })
      if (options.signal === undefined) await wait(delayMs)
      else await sleepUnless(delayMs, options.signal, wait)
      if (options.signal?.aborted) {
        throw new CancelledError(`${what}: cancelled after attempt ${n} (${describe(error)})`)
      }
    }
  }
}
