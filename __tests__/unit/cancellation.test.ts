import { describe, expect, it } from '@jest/globals'
import { Cancellation } from '../../src/cancellation.js'
import { CancelledError } from '../../src/errors.js'

/** A cancellation whose messages are recorded. */
function cancellation() {
  const said: string[] = []
  return { said, cancellation: new Cancellation((message) => said.push(message)) }
}

describe('Cancellation', () => {
  it('lets work start while no signal came', () => {
    const { cancellation: c, said } = cancellation()
    expect(() => c.check()).not.toThrow()
    expect(c.cancelled).toBe(false)
    expect(c.signal.aborted).toBe(false)
    expect(said).toEqual([])
  })

  it('on the first signal aborts the signal, refuses new work, and says what happens', () => {
    const { cancellation: c, said } = cancellation()

    c.cancel('SIGINT')

    expect(c.signal.aborted).toBe(true)
    expect(c.signal.reason).toBeInstanceOf(CancelledError)
    expect(c.cancelled).toBe(true)
    expect(c.reason).toBe('SIGINT')
    expect(() => c.check()).toThrow(CancelledError)
    expect(() => c.check()).toThrow('cancelled (SIGINT) before it started')
    expect(said).toEqual([
      'SIGINT received: the run was cancelled. No new file starts, uploads in flight stop, and what they left half-done is undone.'
    ])
  })

  it('on a later signal only says that the undo goes on', () => {
    const { cancellation: c, said } = cancellation()
    let aborts = 0
    c.signal.addEventListener('abort', () => aborts++)

    c.cancel('SIGINT')
    c.cancel('SIGTERM')

    expect(aborts).toBe(1)
    expect(c.reason).toBe('SIGINT')
    expect(said[1]).toBe(
      'SIGTERM received: still undoing what this run left half-done. If the runner kills this step first, its post step finishes the undo.'
    )
  })

  it('listens for SIGINT and SIGTERM until disposed', () => {
    const before = {
      SIGINT: process.listenerCount('SIGINT'),
      SIGTERM: process.listenerCount('SIGTERM')
    }
    const previous = new Set(process.listeners('SIGTERM'))
    const { cancellation: c } = cancellation()

    c.listen()
    try {
      expect(process.listenerCount('SIGINT')).toBe(before.SIGINT + 1)
      expect(process.listenerCount('SIGTERM')).toBe(before.SIGTERM + 1)
      // What the runner's SIGTERM would call, called directly: emitting the signal would reach
      // every other listener of this process too.
      const added = process.listeners('SIGTERM').filter((listener) => !previous.has(listener))
      expect(added).toHaveLength(1)
      added[0]('SIGTERM')
      expect(c.cancelled).toBe(true)
      expect(c.reason).toBe('SIGTERM')
    } finally {
      c.dispose()
    }

    expect(process.listenerCount('SIGINT')).toBe(before.SIGINT)
    expect(process.listenerCount('SIGTERM')).toBe(before.SIGTERM)
  })
})
