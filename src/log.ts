import * as core from '@actions/core'

/**
 * The log, safe from what it quotes. The runner reads every line of a step's output that
 * starts with `::` as a workflow command, and `core.info` writes its text as it is: a file
 * name, a path or a server message holding a line break could start a line with
 * `::warning …`, `::add-mask::` or `::stop-commands::` (workflow-command injection). Every
 * plain log line goes through here, with control characters shown as escapes. `warning`
 * and `error` are commands whose text @actions/core escapes already.
 */
export function info(message: string): void {
  core.info(printable(message))
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
