import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createCoreFake } from '../helpers/core-fake.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const log = await import('../../src/log.js')

beforeEach(() => fake.reset())

describe('printable', () => {
  it('keeps a quoted line break from starting a workflow command', () => {
    const text = log.printable('evil\n::warning title=x::y')
    expect(text).toBe('evil\\n::warning title=x::y')
    expect(text.split(/\r?\n/)).toHaveLength(1)
  })

  it.each([
    ['a carriage return', 'a\rb', 'a\\rb'],
    ['a tab', 'a\tb', 'a\\tb'],
    ['ESC (a terminal escape)', 'a\u001b[2Jb', 'a\\x1b[2Jb'],
    ['NUL', 'a\u0000b', 'a\\x00b'],
    ['DEL', 'a\u007fb', 'a\\x7fb'],
    ['a C1 control (NEL)', 'a\u0085b', 'a\\x85b'],
    ['the line separator', 'a\u2028b', 'a\\u2028b'],
    ['the paragraph separator', 'a\u2029b', 'a\\u2029b']
  ])('writes %s as an escape', (_what, text, shown) => {
    expect(log.printable(text)).toBe(shown)
  })

  it('leaves ordinary text and Unicode as it is', () => {
    const text = 'résumé 中文 – 😀 ~!@#$%^&*()_+ "quoted" \\backslash'
    expect(log.printable(text)).toBe(text)
  })
})

describe('info', () => {
  it('logs the escaped text', () => {
    log.info('Deleted the previous evil\n::add-mask::token.zip (download 3).')
    expect(fake.log).toEqual([
      'info: Deleted the previous evil\\n::add-mask::token.zip (download 3).'
    ])
  })
})

describe('drained', () => {
  it('holds a loop back while the runner has not read the log, then lets it go', async () => {
    let backlog = 1024 * 1024
    // The pipe to the runner, backed up: its unwritten length, as a Writable reports it.
    Object.defineProperty(process.stdout, 'writableLength', {
      configurable: true,
      get: () => backlog
    })
    try {
      let done = false
      const waiting = log.drained().then(() => (done = true))
      await new Promise((resolve) => setImmediate(resolve))
      expect(done).toBe(false)

      backlog = 0
      process.stdout.emit('drain')
      await waiting
      expect(done).toBe(true)
      // Nothing waiting: at once.
      await log.drained()
    } finally {
      Reflect.deleteProperty(process.stdout, 'writableLength')
    }
  })

  it('lets a cancelled run go when the runner stops reading, with one listener for all who wait', async () => {
    Object.defineProperty(process.stdout, 'writableLength', {
      configurable: true,
      get: () => 1024 * 1024
    })
    const before = process.stdout.listenerCount('drain')
    try {
      const controller = new AbortController()
      let done = 0
      const waiting = Array.from({ length: 32 }, () =>
        log.drained(controller.signal).then(() => done++)
      )
      await new Promise((resolve) => setImmediate(resolve))
      expect(done).toBe(0)
      // 32 uploads at once: no MaxListenersExceededWarning.
      expect(process.stdout.listenerCount('drain')).toBe(before + 1)

      controller.abort()
      await Promise.all(waiting)
      expect(done).toBe(32)
      // Already cancelled: at once.
      await log.drained(controller.signal)
    } finally {
      Reflect.deleteProperty(process.stdout, 'writableLength')
      process.stdout.emit('drain')
    }
    expect(process.stdout.listenerCount('drain')).toBe(before)
  })
})
