import * as log from './log.js'
import type { SourceFile } from './files.js'
import { humanSize } from './report.js'

/** Files smaller than this upload in a blink; a progress line would be noise. */
const MIN_SIZE = 8 * 1024 * 1024
const EVERY_MS = 10_000
const EVERY_FRACTION = 0.1

/**
 * Progress lines for large uploads. The Actions log is not a terminal (no carriage-return
 * redraws), so a line is written at most every 10% or every 10 seconds.
 */
export class ProgressLog {
  private readonly state = new Map<
    string,
    { started: number; lastAt: number; lastFraction: number }
  >()

  constructor(private readonly now: () => number = Date.now) {}

  update(source: SourceFile, sent: number): void {
    if (source.size < MIN_SIZE) return
    const now = this.now()
    let state = this.state.get(source.path)
    if (state === undefined || sent < state.lastFraction * source.size) {
      // First chunk, or a retry started the file over.
      state = { started: now, lastAt: now, lastFraction: 0 }
      this.state.set(source.path, state)
    }
    const fraction = sent / source.size
    if (
      fraction < 1 &&
      fraction - state.lastFraction < EVERY_FRACTION &&
      now - state.lastAt < EVERY_MS
    ) {
      return
    }
    state.lastAt = now
    state.lastFraction = fraction
    const seconds = (now - state.started) / 1000
    const rate = seconds > 0 ? `, ${humanSize(sent / seconds)}/s` : ''
    log.info(
      `${source.name}: ${Math.floor(fraction * 100)}% (${humanSize(sent)} of ${humanSize(source.size)}${rate})`
    )
    if (fraction >= 1) this.state.delete(source.path)
  }
}
