import { describe, expect, it } from '@jest/globals'
import { AdaptiveLimit, settleAll } from '../../src/pool.js'

/** A promise settled from outside, so a test decides when each task ends. */
function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Lets every pending promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Tasks that stay running until the test ends them; tracks how many run at once. */
function controlledTasks(count: number) {
  const gates = Array.from({ length: count }, () => deferred<string>())
  const started: number[] = []
  let running = 0
  let peak = 0
  const task = async (item: number) => {
    started.push(item)
    running++
    peak = Math.max(peak, running)
    try {
      return await gates[item].promise
    } finally {
      running--
    }
  }
  return {
    gates,
    started,
    task,
    get running() {
      return running
    },
    get peak() {
      return peak
    }
  }
}

const items = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('AdaptiveLimit', () => {
  it('halves down to one at a time', () => {
    const limit = new AdaptiveLimit(5)
    const seen = [limit.current]
    for (let i = 0; i < 4; i++) {
      limit.lower()
      seen.push(limit.current)
    }
    expect(seen).toEqual([5, 2, 1, 1, 1])
  })
})

describe('settleAll', () => {
  it('never runs more than the limit at once, and starts items in order', async () => {
    const t = controlledTasks(10)
    const done = settleAll(items(10), new AdaptiveLimit(3), t.task)
    await settle()
    expect(t.started).toEqual([0, 1, 2])

    // Finish them in a scrambled order, one at a time.
    for (const i of [1, 0, 4, 2, 3, 6, 5, 9, 7, 8]) {
      await settle()
      t.gates[i].resolve(`r${i}`)
    }
    await done
    expect(t.peak).toBe(3)
    expect(t.started).toEqual(items(10))
  })

  it('takes a lowered limit into account for the items still to start', async () => {
    const t = controlledTasks(8)
    const limit = new AdaptiveLimit(4)
    const done = settleAll(items(8), limit, t.task)
    await settle()
    expect(t.running).toBe(4)

    limit.lower() // 4 → 2: nothing new starts until only one is left running
    t.gates[0].resolve('r0')
    await settle()
    t.gates[1].resolve('r1')
    await settle()
    expect(t.started).toEqual([0, 1, 2, 3])
    t.gates[2].resolve('r2')
    await settle()
    expect(t.started).toEqual([0, 1, 2, 3, 4])
    expect(t.running).toBe(2)

    let peakAfter = 0
    for (const i of [3, 4, 5, 6, 7]) {
      peakAfter = Math.max(peakAfter, t.running)
      t.gates[i].resolve(`r${i}`)
      await settle()
    }
    await done
    expect(peakAfter).toBeLessThanOrEqual(2)
  })

  it('gives results in item order, whatever order the tasks end in', async () => {
    const t = controlledTasks(4)
    const done = settleAll(
      ['a', 'b', 'c', 'd'].map((_, i) => i),
      new AdaptiveLimit(4),
      t.task
    )
    await settle()
    for (const i of [3, 2, 1, 0]) t.gates[i].resolve(`result ${i}`)
    expect(await done).toEqual([
      { status: 'fulfilled', value: 'result 0' },
      { status: 'fulfilled', value: 'result 1' },
      { status: 'fulfilled', value: 'result 2' },
      { status: 'fulfilled', value: 'result 3' }
    ])
  })

  it('runs every item even when some fail, and reports each failure in its place', async () => {
    const ran: string[] = []
    const results = await settleAll(
      ['ok-1', 'bad-1', 'ok-2', 'bad-2', 'ok-3'],
      new AdaptiveLimit(2),
      async (name) => {
        ran.push(name)
        if (name.startsWith('bad')) throw new Error(`${name} broke`)
        return name.toUpperCase()
      }
    )
    expect(ran).toEqual(['ok-1', 'bad-1', 'ok-2', 'bad-2', 'ok-3'])
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))
    ).toEqual(['OK-1', 'bad-1 broke', 'OK-2', 'bad-2 broke', 'OK-3'])
  })

  it('answers an empty list with an empty list', async () => {
    expect(await settleAll([], new AdaptiveLimit(4), async () => 1)).toEqual([])
  })
})
