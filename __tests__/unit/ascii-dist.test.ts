import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'

// scripts/ascii-dist.js rewrites the bundles with \uXXXX escapes; where an escape would not
// mean the same, it must refuse the bundle rather than change what it does.
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ascii-dist-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function rewrite(
  source: string
): Promise<{ status: number | null; stderr: string; text: string }> {
  const file = path.join(dir, 'bundle.js')
  await writeFile(file, source)
  const run = spawnSync(process.execPath, ['scripts/ascii-dist.js', file], { encoding: 'utf8' })
  return { status: run.status, stderr: run.stderr, text: await readFile(file, 'utf8') }
}

function output(file: string): string {
  return spawnSync(process.execPath, [file], { encoding: 'utf8' }).stdout
}

describe('scripts/ascii-dist.js', () => {
  it('escapes strings, templates, regular expressions and comments, and the program does the same', async () => {
    const source = [
      '// ’quotes’ and → arrows',
      'const names = ["🚀.txt", "𝒳.bin", "שלום.txt"]',
      'console.log(names.join(" → "), `${names.length} … files`, /[𝒳-𝒵]/u.test("𝒴"), /é/.test("é"))'
    ].join('\n')
    const original = path.join(dir, 'original.js')
    await writeFile(original, source)
    const { status, text } = await rewrite(source)
    expect(status).toBe(0)
    expect(/[\u0080-\uffff]/.test(text)).toBe(false)
    expect(output(path.join(dir, 'bundle.js'))).toBe(output(original))
  })

  it.each([
    ['a tagged template, whatever its tag', 'const tag = (s) => s.raw[0]\nconsole.log(tag`→`)\n'],
    ['String.raw over several lines', 'console.log(String.raw`a\né`)\n'],
    ['a non-ASCII character after a backslash in a string', 'console.log("\\é")\n'],
    [
      'a non-ASCII character after a backslash in a regular expression',
      'console.log(/\\é/.test("é"))\n'
    ],
    ['a line separator ending a comment', '// a comment\u2028console.log(1)\n'],
    ['an astral character in an identifier', 'const 𝒳 = 1\nconsole.log(𝒳)\n']
  ])('refuses %s, leaving the bundle as it was', async (_, source) => {
    const { status, stderr, text } = await rewrite(source)
    expect(status).not.toBe(0)
    expect(stderr).toMatch(/escap/)
    expect(text).toBe(source)
  })
})
