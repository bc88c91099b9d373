import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * `parseOutputs` of the compiled tools (the global setup keeps build/ fresh), in a child
 * process: a parser that loops must fail the test, not hang jest's worker, which no timeout
 * of jest's can stop while a synchronous loop runs.
 */
function parseInChild(text: string): Record<string, string> {
  const module = path.join(root, 'build', 'scripts', 'local-runner.js')
  const result = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { parseOutputs } = await import(${JSON.stringify(module)}); process.stdout.write(JSON.stringify(parseOutputs(${JSON.stringify(text)})))`
    ],
    { encoding: 'utf8', timeout: 10_000 }
  )
  if (result.error) throw result.error
  if (result.status !== 0) throw new Error(result.stderr)
  return JSON.parse(result.stdout) as Record<string, string>
}

describe('parseOutputs', () => {
  it('reads name=value lines and name<<delimiter blocks', () => {
    expect(parseInChild('count=2\nurls<<D\na\nb\nD\ndownloads-file=/t/x.json\n')).toEqual({
      count: '2',
      urls: 'a\nb',
      'downloads-file': '/t/x.json'
    })
  })

  it('drops a block cut short by a kill, as the runner does, and returns', () => {
    // The action writes its long outputs in pieces (src/step-output.ts): a step killed between
    // two of them leaves a block without its closing delimiter.
    expect(parseInChild('count=2\nurls<<D\nhttps://a\nhttps://b')).toEqual({ count: '2' })
  })
})
