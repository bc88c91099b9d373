import { describe, expect, it } from '@jest/globals'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { projectRoot } from '../../scripts/action-metadata.js'
import { closeAfterTest, stage } from './harness.js'

describe('the bundles', () => {
  // V8 holds a script's source for as long as it runs: one byte a character when it is all
  // Latin-1, two otherwise (2.3 MiB more per run, see scripts/ascii-dist.js).
  it.each(['dist/index.js', 'dist/post/index.js'])('%s is pure ASCII', async (file) => {
    const text = await readFile(path.join(projectRoot, file), 'utf8')
    const offending = /[\u0080-\uffff]/.exec(text)
    expect(offending === null ? null : text.slice(offending.index - 60, offending.index + 20)).toBe(
      null
    )
  })

  it('still logs and names what the sources say: the escapes decode to the same text', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'out/résumé.txt': 'ay' })

    const result = await s.run({ glob: 'out/*' })

    expect(result.code).toBe(0)
    expect(result.stdout).toContain('résumé.txt (2 B) ← ')
    expect(result.stdout).toMatch(/résumé\.txt → http\S+ \(created\)/)
  })
})
