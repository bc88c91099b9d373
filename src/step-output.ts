import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import { closeSync, openSync, writeSync } from 'node:fs'
import { EOL } from 'node:os'

/** How much of a value waits in memory before it is written to the output file. */
const CHUNK_CHARS = 64 * 1024

/**
 * One step output, written a piece at a time. `core.setOutput` takes the value as one string
 * and copies it twice more on its way to the file. The `downloads` and `urls` outputs of a
 * run of thousands of files are up to 900 KB each, and building them whole, next to those
 * copies, raised the run's peak memory at its very end. This writes the same file command
 * (`name<<delimiter`, the value, the delimiter: GitHub's syntax for a multiline value) with
 * the value streamed in between. Without GITHUB_OUTPUT (a run outside a runner) the value is
 * gathered and handed to `core.setOutput`, which then prints it as a command.
 */
export class StepOutput {
  private readonly delimiter = `ghadelimiter_${randomUUID()}`
  private readonly fd: number | undefined
  private pending = ''
  private gathered: string[] = []

  constructor(private readonly name: string) {
    const file = process.env.GITHUB_OUTPUT
    if (file) {
      this.fd = openSync(file, 'a')
      this.pending = `${name}<<${this.delimiter}${EOL}`
    }
  }

  write(piece: string): void {
    // As in @actions/core: a value holding the delimiter would end early and could set
    // outputs of its own. Each piece is checked; the delimiter is random, so no one can
    // split it across two pieces on purpose.
    if (piece.includes(this.delimiter)) {
      throw new Error(`The '${this.name}' output holds its own delimiter.`)
    }
    if (this.fd === undefined) {
      this.gathered.push(piece)
      return
    }
    this.pending += piece
    if (this.pending.length >= CHUNK_CHARS) this.flush()
  }

  end(): void {
    if (this.fd === undefined) {
      core.setOutput(this.name, this.gathered.join(''))
      this.gathered = []
      return
    }
    try {
      this.pending += `${EOL}${this.delimiter}${EOL}`
      this.flush()
    } finally {
      closeSync(this.fd)
    }
  }

  private flush(): void {
    if (this.fd !== undefined) {
      // writeSync may take less than it was given (a disk nearly full): write the rest.
      const bytes = Buffer.from(this.pending, 'utf8')
      for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at)
    }
    this.pending = ''
  }
}
