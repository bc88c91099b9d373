import { describe, expect, it } from '@jest/globals'
import { ApiError, RateLimitError } from '../../src/errors.js'
import { RateLimitGate, type RateLimitKind, type RateLimitOptions } from '../../src/rate-limits.js'
import { isTransient } from '../../src/retry.js'
import { rejectionOf } from '../helpers/rejection.js'

/** A gate on a fake clock: `sleep` moves the clock on and records the wait. */
function gateAt(startMs: number, overrides: Partial<RateLimitOptions> = {}) {
  const clock = { now: startMs }
  const sleeps: number[] = []
  const waits: [RateLimitKind, number][] = []
  let secondaryHits = 0
  const gate = new RateLimitGate({
    maxWaitMs: 600_000,
    now: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms)
      clock.now += ms
    },
    onWait: (kind, ms) => waits.push([kind, ms]),
    onSecondary: () => secondaryHits++,
    ...overrides
  })
  return {
    gate,
    clock,
    sleeps,
    waits,
    get secondaryHits() {
      return secondaryHits
    }
  }
}

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)
const primaryHeaders = (resetMs: number) => ({
  'x-ratelimit-limit': '5000',
  'x-ratelimit-remaining': '0',
  'x-ratelimit-used': '5000',
  'x-ratelimit-reset': String(resetMs / 1000),
  'x-ratelimit-resource': 'core'
})
const SECONDARY =
  'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'

describe('RateLimitGate', () => {
  it('lets requests through at once while no limit is in force', async () => {
    const g = gateAt(T0)
    await g.gate.ready()
    expect(g.sleeps).toEqual([])
  })

  it.each([403, 429])(
    'on a primary limit (%i, remaining 0) holds every request until the reset plus a second',
    async (status) => {
      const g = gateAt(T0)
      const reset = T0 + 120_000
      const error = g.gate.check(status, primaryHeaders(reset), 'API rate limit exceeded')

      expect(error).toBeInstanceOf(ApiError)
      expect(isTransient(error)).toBe(true)
      // The gate does the waiting; the retry loop must not add a backoff of its own.
      expect(error?.retryAfterMs).toBe(0)
      expect(error?.message).toContain('primary rate limit (API rate limit exceeded)')
      expect(g.waits).toEqual([['primary', 121_000]])

      await g.gate.ready()
      await g.gate.ready() // a second caller after the reset is not held again
      expect(g.clock.now).toBe(reset + 1000)
      expect(g.sleeps).toEqual([121_000])
    }
  )

  it('holds back requests that arrive while the limit is in force, too', async () => {
    const g = gateAt(T0)
    g.gate.check(403, primaryHeaders(T0 + 10_000), 'API rate limit exceeded')
    g.clock.now += 4000
    await g.gate.ready()
    expect(g.sleeps).toEqual([7000])
  })

  it('waits a minute when a primary limit names no usable reset time', async () => {
    const g = gateAt(T0)
    const headers = { 'x-ratelimit-remaining': '0' }
    expect(isTransient(g.gate.check(403, headers, 'API rate limit exceeded'))).toBe(true)
    await g.gate.ready()
    expect(g.sleeps).toEqual([60_000])
  })

  it('fails for good, naming the reset time, when the wait is longer than allowed', async () => {
    const g = gateAt(T0, { maxWaitMs: 600_000 })
    const reset = T0 + 3_600_000
    const error = g.gate.check(403, primaryHeaders(reset), 'API rate limit exceeded')

    expect(isTransient(error)).toBe(false)
    expect(error?.message).toBe(
      `GitHub's primary rate limit is exhausted (API rate limit exceeded). It lifts at ${new Date(reset + 1000).toISOString()}, ` +
        "in 3601 s, longer than 'rate-limit-wait' allows (600 s): re-run after that, or raise 'rate-limit-wait'."
    )
    // Nothing is held: the run ends now rather than after the wait.
    await g.gate.ready()
    expect(g.sleeps).toEqual([])
    expect(g.waits).toEqual([])
  })

  it('with rate-limit-wait 0 fails at once on any primary limit', () => {
    const g = gateAt(T0, { maxWaitMs: 0 })
    expect(isTransient(g.gate.check(403, primaryHeaders(T0 + 5000), 'limit'))).toBe(false)
  })

  it('on a secondary limit honours retry-after and tells the caller to slow down', async () => {
    const g = gateAt(T0)
    const error = g.gate.check(403, { 'retry-after': '30' }, SECONDARY)
    expect(isTransient(error)).toBe(true)
    expect(error?.message).toContain('secondary rate limit')
    expect(g.secondaryHits).toBe(1)
    expect(g.waits).toEqual([['secondary', 30_000]])
    await g.gate.ready()
    expect(g.sleeps).toEqual([30_000])
  })

  it('without retry-after waits a minute, then doubles the wait on every further hit', async () => {
    const g = gateAt(T0, { maxWaitMs: 3_600_000 })
    for (let i = 0; i < 3; i++) {
      expect(isTransient(g.gate.check(403, {}, SECONDARY))).toBe(true)
      await g.gate.ready()
    }
    expect(g.sleeps).toEqual([60_000, 120_000, 240_000])
    expect(g.secondaryHits).toBe(3)
  })

  it('takes a 429 without rate-limit headers as a secondary limit', async () => {
    const g = gateAt(T0)
    expect(isTransient(g.gate.check(429, {}, 'Too Many Requests'))).toBe(true)
    expect(g.secondaryHits).toBe(1)
    await g.gate.ready()
    expect(g.sleeps).toEqual([60_000])
  })

  it('fails for good when a secondary limit asks for more than rate-limit-wait', () => {
    const g = gateAt(T0, { maxWaitMs: 60_000 })
    const error = g.gate.check(403, { 'retry-after': '120' }, SECONDARY)
    expect(isTransient(error)).toBe(false)
    expect(error?.message).toContain(`lifts at ${new Date(T0 + 120_000).toISOString()}`)
  })

  it.each([
    [403, { 'x-ratelimit-remaining': '4999' }, 'Resource not accessible by integration'],
    [403, {}, 'Must have admin rights to Repository.'],
    [500, { 'x-ratelimit-remaining': '0' }, 'Server Error'],
    [404, {}, 'Not Found']
  ])('leaves a %i that is no rate limit (%j, %s) to the caller', (status, headers, message) => {
    const g = gateAt(T0)
    expect(g.gate.check(status, headers, message)).toBeNull()
    expect(g.secondaryHits).toBe(0)
    expect(g.waits).toEqual([])
  })

  describe('reserve', () => {
    const budget = (remaining: number, resetMs: number) => ({
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(resetMs / 1000)
    })

    it('grants at once before any answer told the budget, and while the budget covers the work', async () => {
      const g = gateAt(T0)
      const release = await g.gate.reserve(4, 'Replacing a.zip')
      release()
      g.gate.observe(budget(4, T0 + 3_600_000))
      await g.gate.reserve(4, 'Replacing b.zip')
      expect(g.sleeps).toEqual([])
    })

    it('refuses, once the reset is further off than rate-limit-wait, work the budget cannot cover, and all later work', async () => {
      const g = gateAt(T0)
      const reset = T0 + 3_600_000
      g.gate.observe(budget(3, reset))

      const error = await rejectionOf<RateLimitError>(g.gate.reserve(4, 'Replacing app.zip'))

      expect(error).toBeInstanceOf(RateLimitError)
      expect(isTransient(error)).toBe(false)
      expect(error.message).toBe(
        `Replacing app.zip was not started: GitHub's primary rate limit is exhausted (3 requests left, fewer than a file's changes may need). It lifts at ${new Date(reset + 1000).toISOString()}, ` +
          "in 3601 s, longer than 'rate-limit-wait' allows (600 s): re-run after that, or raise 'rate-limit-wait'."
      )
      // Every later piece of work is refused at once, even one the budget would cover.
      await expect(g.gate.reserve(1, 'Creating b.zip')).rejects.toThrow(
        /^Creating b\.zip was not started: GitHub's primary rate limit is exhausted/
      )
      expect(g.sleeps).toEqual([])
    })

    it('waits for a reset within rate-limit-wait, then grants', async () => {
      const g = gateAt(T0)
      const reset = T0 + 30_000
      g.gate.observe(budget(3, reset))

      const release = await g.gate.reserve(4, 'Replacing app.zip')

      expect(typeof release).toBe('function')
      expect(g.waits).toEqual([['primary', 31_000]])
      expect(g.sleeps).toEqual([31_000])
      expect(g.clock.now).toBe(reset + 1000)
    })

    it('counts the requests promised to work in hand until they are given back, once', async () => {
      const g = gateAt(T0)
      g.gate.observe(budget(8, T0 + 30_000))
      const first = await g.gate.reserve(4, 'Replacing a.zip')
      await g.gate.reserve(4, 'Replacing b.zip')

      first()
      first()
      // 8 left, 4 still promised: the next 4 fit without waiting, and no more than that.
      await g.gate.reserve(4, 'Replacing c.zip')
      expect(g.sleeps).toEqual([])
      await g.gate.reserve(1, 'Creating d.zip')
      expect(g.sleeps).toEqual([31_000])
    })
  })
})
