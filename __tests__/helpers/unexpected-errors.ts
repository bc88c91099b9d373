import type { Emulator } from '../../emulator/index.js'

/** How many of each emulator's unexpected errors a test was already failed for. */
const reported = new WeakMap<Emulator, number>()

/**
 * Throws when `emulator` met errors of its own (a bug, a disk failure) since the last call
 * for it. Each was answered with a 500 that the action retries past, so a test that passes
 * would otherwise hide it; the test that was running fails instead.
 */
export function assertNoUnexpectedErrors(emulator: Emulator): void {
  const fresh = takeUnexpectedErrors(emulator)
  if (fresh.length === 0) return
  throw new Error(
    `The emulator met ${fresh.length} unexpected error${fresh.length === 1 ? '' : 's'}, ` +
      `answered with a 500 that a client retries past:\n` +
      fresh.map((error) => error.stack ?? error.message).join('\n')
  )
}

/**
 * The unexpected errors `emulator` met since the last check, taken as expected: for a test
 * that provokes one on purpose, to see the emulator fail safely.
 */
export function takeUnexpectedErrors(emulator: Emulator): Error[] {
  const fresh = emulator.unexpectedErrors.slice(reported.get(emulator) ?? 0)
  reported.set(emulator, emulator.unexpectedErrors.length)
  return fresh
}

/** What {@link assertNoUnexpectedErrors} throws for each of `emulators`, in a list. */
export function unexpectedErrorFailures(emulators: Iterable<Emulator>): unknown[] {
  const failures: unknown[] = []
  for (const emulator of emulators) {
    try {
      assertNoUnexpectedErrors(emulator)
    } catch (error) {
      failures.push(error)
    }
  }
  return failures
}

/** Throws the one failure, or all of them together. */
export function throwAll(failures: unknown[]): void {
  if (failures.length === 1) throw failures[0]
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} failures`)
}
