import { CancelledError } from './errors.js'

/**
 * The runner cancels a step with SIGINT, sends SIGTERM 7.5 s later, and kills the process
 * tree 2.5 s after that. The first signal asks the run to stop: nothing new starts, uploads
 * in flight are aborted, and their clean-up (deleting a record without bytes, putting back a
 * replaced download) runs to the end. Later signals only say that the undo goes on; they
 * never cut it short, since that is when the user's files are at stake. Whatever a kill
 * interrupts, the post step finishes from the journal.
 */
export class Cancellation {
  private readonly controller = new AbortController()
  private signalName: string | undefined
  private readonly handlers = new Map<NodeJS.Signals, () => void>()

  constructor(private readonly say: (message: string) => void = () => undefined) {}

  /** Listens for SIGINT and SIGTERM until {@link dispose}. */
  listen(): this {
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      const handler = (): void => this.cancel(name)
      this.handlers.set(name, handler)
      process.on(name, handler)
    }
    return this
  }

  /** Stops listening: the default handling (exit) applies again. */
  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler)
    this.handlers.clear()
  }

  /** Aborted on the first signal; HTTP requests and waits that may be cut short take it. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted
  }

  /** Which signal cancelled the run, for the log and the summary. */
  get reason(): string {
    return this.signalName ?? 'cancelled'
  }

  cancel(name: string): void {
    if (this.signalName !== undefined) {
      this.say(
        `${name} received: still undoing what this run left half-done. If the runner kills this step first, its post step finishes the undo.`
      )
      return
    }
    this.signalName = name
    this.say(
      `${name} received: the run was cancelled. No new file starts, uploads in flight stop, and what they left half-done is undone.`
    )
    this.controller.abort(new CancelledError(`cancelled (${name})`))
  }

  /** Throws once cancelled: called before each step that would change something. */
  check(): void {
    if (this.cancelled) throw new CancelledError(`cancelled (${this.reason}) before it started`)
  }
}

/**
 * For the post step, which is itself the undo: a signal is noted, never obeyed, so that a
 * put-back in flight is not cut in half (the runner's SIGKILL still ends it). Returns the
 * function that restores the default handling.
 */
export function holdSignals(say: (message: string) => void): () => void {
  const handler = (name: NodeJS.Signals): void =>
    say(`${name} received: the post step goes on settling what the main step left half-done.`)
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}
