import * as core from '@actions/core'

/**
 * The log, safe from what it quotes. The runner reads lines of a step's output as workflow
 * commands, and `core.info` writes its text as it is: a file name, a path or a server
 * message could make a line `::warning …`, `::add-mask::` or `::stop-commands::`
 * (workflow-command injection). Every plain log line goes through here, with control
 * characters shown as escapes and command syntax broken. `warning` and `error` are commands
 * of their own, whose text @actions/core escapes.
 */
export function info(message: string): void {
  core.info(inert(printable(message)))
}

/**
 * A line the runner cannot read as a command. It takes a line as one when it starts with
 * `::` after leading white space, and, in the older syntax, when `##[` appears anywhere in it
 * (actions/runner, ActionCommand.TryParseV2 and TryParse): a file named `::error::x.txt`
 * needs no line break to forge an annotation.
 */
function inert(line: string): string {
  return line.replace(/^(\s*)::/, '$1\\::').replace(/##\[/g, '##\\[')
}

/**
 * How much log may wait in the pipe to the runner before {@link drained} holds a loop back.
 * Written to a pipe, a line the runner has not read yet stays in this process's memory.
 */
const BACKLOG_BYTES = 64 * 1024

/** The wait for the backlog to drain, shared by every loop held back meanwhile. */
let draining: Promise<void> | undefined

/**
 * Resolves at once unless more than {@link BACKLOG_BYTES} of log wait for the runner to read
 * them; then once they are taken, or once `signal` aborts: a cancelled run must not wait on a
 * runner that stopped reading. Loops that log a line per file call it between files, so
 * that they do not run far ahead of the runner: 10,000 lines held at once live long enough
 * for V8 to count them as long-lived data and grow its young generation for them (measured
 * over 10,000 files: peak memory during the uploads 148-168 MiB with this, 161-173 without).
 * The loops waiting share one pair of listeners on stdout, however many uploads run at once.
 */
export async function drained(signal?: AbortSignal): Promise<void> {
  const out = process.stdout
  if (out.destroyed || out.writableLength <= BACKLOG_BYTES || signal?.aborted) return
  draining ??= new Promise<void>((resolve) => {
    const done = (): void => {
      out.off('drain', done)
      out.off('close', done)
      draining = undefined
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })
  if (signal === undefined) return draining
  const drain = draining
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      signal.removeEventListener('abort', stop)
      resolve()
    }
    signal.addEventListener('abort', stop)
    void drain.then(stop)
  })
}

export function warning(message: string): void {
  core.warning(message)
}

export function error(message: string): void {
  core.error(message)
}

/**
 * The text with every control character (C0, DEL, C1) and the Unicode line and paragraph
 * separators written as escapes (`\n`, `\t`, `\x1b`, `\u2028`), so that it stays on one
 * line and cannot move the terminal's cursor either.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }
    const code = c.charCodeAt(0)
    return (
      named[c] ??
      (code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, '0')}`)
    )
  })
}
