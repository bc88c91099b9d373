import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { EOL, tmpdir } from 'node:os'
import * as path from 'node:path'
import { createCoreFake } from '../helpers/core-fake.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const { StepOutput } = await import('../../src/step-output.js')

let dir: string
let outputFile: string

beforeEach(async () => {
  fake.reset()
  dir = await mkdtemp(path.join(tmpdir(), 'step-output-test-'))
  outputFile = path.join(dir, 'output')
  await writeFile(outputFile, 'earlier=1\n')
  process.env.GITHUB_OUTPUT = outputFile
})

afterEach(async () => {
  delete process.env.GITHUB_OUTPUT
  await rm(dir, { recursive: true, force: true })
})

/**
 * Reads an output file as the runner does: `name=value` lines, and `name<<delimiter` blocks
 * whose value is every line up to the delimiter's own line.
 */
function readOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split(EOL)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1)
      if (end < 0) throw new Error(`no end for ${heredoc[1]}`)
      outputs[heredoc[1]] = lines.slice(i + 1, end).join(EOL)
      i = end
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return outputs
}

describe('StepOutput', () => {
  it('appends a multiline value in pieces, readable as the runner reads the file', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `https://example.test/${i}.zip`)
    const output = new StepOutput('urls')
    lines.forEach((line, i) => output.write(i > 0 ? `\n${line}` : line))
    output.end()
    const second = new StepOutput('count')
    second.write('5000')
    second.end()

    const text = await readFile(outputFile, 'utf8')
    expect(readOutputs(text)).toEqual({ earlier: '1', urls: lines.join('\n'), count: '5000' })
    // Nothing went through @actions/core, which would hold the whole value at once.
    expect(fake.outputs).toEqual({})
  })

  it('writes an empty value as an empty block', async () => {
    const output = new StepOutput('downloads')
    output.end()
    expect(readOutputs(await readFile(outputFile, 'utf8'))).toEqual({ earlier: '1', downloads: '' })
  })

  it('refuses a piece that holds its delimiter, and still ends the block', async () => {
    const output = new StepOutput('x')
    // Past one chunk, so that the block's first line (and its random delimiter) is in the file.
    const long = 'a'.repeat(70 * 1024)
    output.write(long)
    const delimiter = /^x<<(.+)$/m.exec(await readFile(outputFile, 'utf8'))?.[1] ?? ''
    expect(delimiter).toMatch(/^ghadelimiter_[0-9a-f-]{36}$/)
    expect(() => output.write(`${EOL}${delimiter}${EOL}forged=1`)).toThrow(
      "The 'x' output holds its own delimiter."
    )
    output.end()
    expect(readOutputs(await readFile(outputFile, 'utf8'))).toEqual({ earlier: '1', x: long })

    // Each output has a delimiter of its own.
    const next = new StepOutput('y')
    next.write(delimiter)
    next.end()
    expect(readOutputs(await readFile(outputFile, 'utf8')).y).toBe(delimiter)
  })

  it('without GITHUB_OUTPUT hands the whole value to core.setOutput', () => {
    delete process.env.GITHUB_OUTPUT
    const output = new StepOutput('urls')
    output.write('a')
    output.write('\nb')
    output.end()
    expect(fake.outputs).toEqual({ urls: 'a\nb' })
  })
})
