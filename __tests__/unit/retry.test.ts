import { describe, expect, it, jest } from '@jest/globals'
import { ActionError, ApiError, NetworkError, S3Error } from '../../src/errors.js'
import { isTransient, withRetry, type RetryOptions } from '../../src/retry.js'
import { rejectionOf } from '../helpers/rejection.js'

/** Retry options whose waits are recorded instead of slept. */
function options(overrides: Partial<RetryOptions> = {}) {
  const delays: number[] = []
  const retried: { what: string; attempt: number; delayMs: number }[] = []
  const opts: RetryOptions = {
    maxAttempts: 5,
    baseDelayMs: 1000,
    maxDelayMs: 30_000,
    sleep: async (ms) => {
      delays.push(ms)
    },
    random: () => 0.5,
    onRetry: ({ what, attempt, delayMs }) => retried.push({ what, attempt, delayMs }),
    ...overrides
  }
  return { opts, delays, retried }
}

/** An attempt function failing with the given errors in turn, then answering `value`. */
function failing<T>(errors: unknown[], value: T) {
  return jest.fn(async (attempt: number) => {
    if (attempt <= errors.length) throw errors[attempt - 1]
    return value
  })
}

const flaky = () => new NetworkError('GET api.github.com failed: ECONNRESET', undefined)

describe('withRetry', () => {
  it('succeeds after transient failures', async () => {
    const { opts, retried } = options()
    const attempt = failing([flaky(), new ApiError('answered 502', 502, { transient: true })], 'ok')
    await expect(withRetry('Listing', opts, attempt)).resolves.toBe('ok')
    expect(attempt).toHaveBeenCalledTimes(3)
    expect(retried.map((r) => r.attempt)).toEqual([1, 2])
    expect(retried[0].what).toBe('Listing')
  })

  it('does not wait before the first attempt nor after a success', async () => {
    const { opts, delays } = options()
    await expect(withRetry('x', opts, async () => 42)).resolves.toBe(42)
    expect(delays).toEqual([])
  })

  it.each([
    ['a non-transient ActionError', new ApiError('Bad credentials', 401)],
    ['a plain Error', new Error('bug')],
    ['a thrown string', 'oops']
  ])('stops at once on %s, rethrowing it unchanged', async (_label, error) => {
    const { opts, delays } = options()
    const attempt = failing([error], 'never')
    await expect(withRetry('Creating', opts, attempt)).rejects.toBe(error)
    expect(attempt).toHaveBeenCalledTimes(1)
    expect(delays).toEqual([])
  })

  it('gives up after maxAttempts, saying what failed and how many attempts were made', async () => {
    const { opts } = options({ maxAttempts: 3 })
    const attempt = failing([flaky(), flaky(), flaky(), flaky()], 'never')
    const result = withRetry('Uploading app.zip to S3', opts, attempt)
    await expect(result).rejects.toThrow(
      'Uploading app.zip to S3 failed: GET api.github.com failed: ECONNRESET (gave up after 3 attempts)'
    )
    expect(attempt).toHaveBeenCalledTimes(3)
  })

  it('says "1 attempt" when only one is allowed, and the final error is not transient', async () => {
    const { opts } = options({ maxAttempts: 1 })
    const error = await rejectionOf(withRetry('x', opts, failing([flaky()], 0)))
    expect(error).toBeInstanceOf(ActionError)
    expect(error.message).toMatch(/\(gave up after 1 attempt\)$/)
    expect(isTransient(error)).toBe(false)
    expect(error.cause).toBeInstanceOf(NetworkError)
  })

  const lastAttempts: [string, () => ActionError][] = [
    [
      'an S3Error',
      () => new S3Error('S3 refused app.zip: SlowDown', 503, 'SlowDown', { transient: true })
    ],
    ['an ApiError', () => new ApiError('answered 502', 502, { transient: true })],
    ['a NetworkError', flaky]
  ]
  it.each(lastAttempts)(
    'gives up with %s of the same class and fields as the last attempt',
    async (_label, make) => {
      const { opts } = options({ maxAttempts: 2 })
      const last = make()
      const error = await rejectionOf(
        withRetry('Uploading app.zip', opts, failing([make(), last], 0))
      )
      expect(error).toBeInstanceOf(last.constructor)
      expect(error.name).toBe(last.name)
      expect(error.message).toBe(
        `Uploading app.zip failed: ${last.message} (gave up after 2 attempts)`
      )
      expect(error.cause).toBe(last)
      expect(isTransient(error)).toBe(false)
      for (const field of ['status', 'code', 'codes'] as const) {
        if (field in last) expect(error).toHaveProperty(field, (last as never)[field])
      }
      // The attempt's own error is left as it was.
      expect(isTransient(last)).toBe(true)
      expect(last.message).not.toMatch(/gave up/)
    }
  )

  it('is not retried again by a loop around the one that gave up', async () => {
    const { opts } = options({ maxAttempts: 2 })
    const inner = jest.fn(async () => {
      throw flaky()
    })
    const outer = withRetry('Replacing app.zip', opts, () => withRetry('Deleting', opts, inner))
    await expect(outer).rejects.toThrow(/^Deleting failed: .* \(gave up after 2 attempts\)$/)
    expect(inner).toHaveBeenCalledTimes(2)
  })

  it('waits longer each time, half of each wait drawn at random, up to the ceiling', async () => {
    const errors = Array.from({ length: 7 }, flaky)
    const mid = options({ maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 10_000 })
    await withRetry('x', mid.opts, failing(errors, 'ok'))
    // Ceilings 1, 2, 4, 8, 10, 10, 10 s; random 0.5 → three quarters of each.
    expect(mid.delays).toEqual([750, 1500, 3000, 6000, 7500, 7500, 7500])

    const low = options({ maxAttempts: 4, random: () => 0 })
    await withRetry('x', low.opts, failing(errors.slice(0, 3), 'ok'))
    expect(low.delays).toEqual([500, 1000, 2000])

    const high = options({ maxAttempts: 4, random: () => 0.999999 })
    await withRetry('x', high.opts, failing(errors.slice(0, 3), 'ok'))
    expect(high.delays).toEqual([1000, 2000, 4000])
  })

  it("honours an error's retryAfterMs instead of the backoff", async () => {
    const { opts, delays, retried } = options()
    const slowDown = new ApiError('secondary rate limit', 403, {
      transient: true,
      retryAfterMs: 42_000
    })
    const now = new ApiError('gate already waited', 403, { transient: true, retryAfterMs: 0 })
    await withRetry('x', opts, failing([slowDown, now, flaky()], 'ok'))
    expect(delays).toEqual([42_000, 0, 3000])
    expect(retried.map((r) => r.delayMs)).toEqual([42_000, 0, 3000])
  })
})
