/** A concurrency limit that can be lowered while work runs (after a secondary rate limit). */
export class AdaptiveLimit {
  constructor(private value: number) {}

  get current(): number {
    return this.value
  }

  /** Halves the limit, down to one at a time; tells whether it changed. */
  lower(): boolean {
    const before = this.value
    this.value = Math.max(1, Math.floor(this.value / 2))
    return this.value !== before
  }
}

/**
 * Runs `task` over every item with at most `limit.current` at once, starting items in
 * order. Every item runs even when others fail; the results come back in item order.
 */
export async function settleAll<T, R>(
  items: readonly T[],
  limit: AdaptiveLimit,
  task: (item: T) => Promise<R>
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length)
  const running = new Set<Promise<void>>()
  for (let i = 0; i < items.length; i++) {
    while (running.size >= limit.current) await Promise.race(running)
    const index = i
    const job = task(items[index]).then(
      (value) => {
        results[index] = { status: 'fulfilled', value }
      },
      (reason: unknown) => {
        results[index] = { status: 'rejected', reason }
      }
    )
    const tracked = job.finally(() => running.delete(tracked))
    running.add(tracked)
  }
  await Promise.all(running)
  return results
}
