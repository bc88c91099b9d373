import * as core from '@actions/core'
import { randomUUID } from 'node:crypto'
import { EOL } from 'node:os'
import { ChunkedFile } from './chunked-file.js'

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
  private readonly file: ChunkedFile | undefined
  private gathered: string[] = []

  constructor(private readonly name: string) {
    const path = process.env.GITHUB_OUTPUT
    if (path) {
      this.file = new ChunkedFile(path, 'a')
      this.file.write(`${name}<<${this.delimiter}${EOL}`)
    }
  }

  write(piece: string): void {
    // As in @actions/core: a value holding the delimiter would end early and could set
    // outputs of its own. Each piece is checked; the delimiter is random, so no one can
    // split it across two pieces on purpose.
    if (piece.includes(this.delimiter)) {
      throw new Error(`The '${this.name}' output holds its own delimiter.`)
    }
    if (this.file === undefined) this.gathered.push(piece)
    else this.file.write(piece)
  }

  end(): void {
    if (this.file === undefined) {
      core.setOutput(this.name, this.gathered.join(''))
      this.gathered = []
      return
    }
    try {
      this.file.write(`${EOL}${this.delimiter}${EOL}`)
    } finally {
      this.file.close()
    }
  }
}
