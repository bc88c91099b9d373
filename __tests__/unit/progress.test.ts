import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import type { SourceFile } from '../../src/files.js'
import { createCoreFake } from '../helpers/core-fake.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const { ProgressLog } = await import('../../src/progress.js')

beforeEach(() => fake.reset())

const MiB = 1024 * 1024
const file = (name: string, size: number): SourceFile => ({
  path: `/ws/${name}`,
  name,
  size,
  contentType: 'application/octet-stream'
})

/** A progress log on a clock the test moves. */
function logAt(start = 1_000_000) {
  const clock = { now: start }
  return { clock, progress: new ProgressLog(() => clock.now) }
}

/** The percentages the logged lines name. */
const percents = () => fake.log.map((line) => Number(/: (\d+)% \(/.exec(line)?.[1]))

describe('ProgressLog', () => {
  it('says nothing about a small file', () => {
    const { clock, progress } = logAt()
    const small = file('small.zip', 8 * MiB - 1)
    for (let sent = 0; sent <= small.size; sent += MiB / 4) {
      clock.now += 60_000
      progress.update(small, Math.min(sent, small.size))
    }
    progress.update(small, small.size)
    expect(fake.log).toEqual([])
  })

  it('on a fast large upload writes a line at most every 10%, and one at the end', () => {
    const { clock, progress } = logAt()
    const big = file('big.iso', 100 * MiB)
    for (let sent = MiB; sent <= big.size; sent += MiB) {
      clock.now += 100 // 10 MiB/s
      progress.update(big, sent)
    }
    const seen = percents()
    expect(seen.length).toBeGreaterThanOrEqual(9)
    expect(seen.length).toBeLessThanOrEqual(10)
    // Every line but the last (100%) comes at least 10% after the one before.
    for (let i = 1; i < seen.length - 1; i++) {
      expect(seen[i] - seen[i - 1]).toBeGreaterThanOrEqual(10)
    }
    expect(fake.log[0]).toMatch(/^info: big\.iso: 10% \(10\.0 MiB of 100\.0 MiB, 1\d\.\d MiB\/s\)$/)
    expect(fake.log[fake.log.length - 1]).toMatch(
      /^info: big\.iso: 100% \(100\.0 MiB of 100\.0 MiB, 10\.\d MiB\/s\)$/
    )
  })

  it('on a slow large upload writes a line every 10 s, not more often', () => {
    const { clock, progress } = logAt()
    const big = file('slow.iso', 100 * MiB)
    const loggedAt: number[] = []
    // 100 KiB every second: 10% takes far longer than 10 s.
    for (let sent = 100 * 1024; sent <= 10 * MiB; sent += 100 * 1024) {
      clock.now += 1000
      const before = fake.log.length
      progress.update(big, sent)
      if (fake.log.length > before) loggedAt.push(clock.now)
    }
    expect(loggedAt.length).toBeGreaterThanOrEqual(9)
    for (let i = 1; i < loggedAt.length; i++) {
      expect(loggedAt[i] - loggedAt[i - 1]).toBeGreaterThanOrEqual(10_000)
      expect(loggedAt[i] - loggedAt[i - 1]).toBeLessThanOrEqual(11_000)
    }
  })

  it('starts over when a retry sends the file again', () => {
    const { clock, progress } = logAt()
    const big = file('retry.iso', 10 * MiB)
    for (const sent of [2, 4, 6].map((n) => n * MiB)) {
      clock.now += 1000
      progress.update(big, sent)
    }
    const firstRun = fake.log.length
    expect(firstRun).toBeGreaterThan(0)
    for (const sent of [1, 2].map((n) => n * MiB)) {
      clock.now += 1000
      progress.update(big, sent)
    }
    // Back at 10%, then 20%: new lines, not silence until the old 60% is passed.
    expect(percents().slice(firstRun)).toEqual([10, 20])
  })

  it('keeps each file apart', () => {
    const { clock, progress } = logAt()
    const a = file('a.iso', 10 * MiB)
    const b = file('b.iso', 10 * MiB)
    clock.now += 1000
    progress.update(a, 5 * MiB)
    progress.update(b, 1 * MiB)
    progress.update(b, 10 * MiB)
    progress.update(a, 10 * MiB)
    expect(fake.log.map((line) => line.replace(/ \(.*/, ''))).toEqual([
      'info: a.iso: 50%',
      'info: b.iso: 10%',
      'info: b.iso: 100%',
      'info: a.iso: 100%'
    ])
  })
})
