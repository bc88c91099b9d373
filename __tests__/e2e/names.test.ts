import { describe, expect, it } from '@jest/globals'
import { mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { closeAfterTest, downloadsOutput, REPO, stage } from './harness.js'

/**
 * Which files the bundled action picks and what it says about their names: names no download
 * can take stop the run before any change, hidden files stay out unless asked for, and files
 * outside the workspace or with lookalike names are published with a warning.
 */
describe('file names and selection, end to end', () => {
  it('refuses a name with a control character before any change, naming it escaped', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'dist/ok.txt': 'fine', 'dist/bell\u0007.txt': 'ding' })

    const result = await s.run({ glob: 'dist/*' })

    expect(result.code).toBe(1)
    expect(result.errors).toEqual([
      `1 file has a name that no download can take: "${s.workspace}/dist/bell\\u0007.txt" (control character U+0007 in the name). Nothing was changed. Rename it, or leave it out with a '!' pattern in 'glob'.`
    ])
    // Not even the good file: a run that cannot publish everything publishes nothing.
    expect(s.changes()).toEqual([])
    expect(s.emulator.downloads(REPO)).toEqual([])
  })

  it('refuses a name that is not UTF-8 on disk, which used to be skipped without a word', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'dist/ok.txt': 'fine' })
    // "a", 0xff (never part of UTF-8), ".txt": a name only a byte path can write.
    const name = Buffer.from([0x61, 0xff, 0x2e, 0x74, 0x78, 0x74])
    await writeFile(Buffer.concat([Buffer.from(`${s.workspace}/dist/`), name]), 'bytes')

    const result = await s.run({ glob: 'dist/*' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain(`"${s.workspace}/dist/a\\xff.txt" (name not valid UTF-8)`)
    expect(result.summary).toContain('nothing published')
    expect(s.changes()).toEqual([])
  })

  it('leaves out hidden files unless include-hidden-files is true, and says so', async () => {
    const s = closeAfterTest(await stage())
    await s.files({
      'dist/app.zip': 'app',
      'dist/notes.txt': 'notes',
      'dist/.npmrc': '//registry.npmjs.org/:_authToken=npm_secret'
    })

    const result = await s.run({ glob: 'dist/*' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result).map((d) => d.name)).toEqual(['app.zip', 'notes.txt'])
    expect(result.stdout).toContain(
      "Excluded 1 hidden file (a name or folder starting with '.'); set 'include-hidden-files: true' to publish hidden files."
    )

    const again = await s.run({
      glob: 'dist/*',
      'include-hidden-files': 'true',
      'replace-existing': 'true'
    })

    expect(again.code).toBe(0)
    expect(downloadsOutput(again).map((d) => d.name)).toEqual(['.npmrc', 'app.zip', 'notes.txt'])
    expect(again.stdout).not.toContain('hidden file')
    expect(
      s.emulator
        .downloads(REPO)
        .map((d) => d.name)
        .sort()
    ).toEqual(['.npmrc', 'app.zip', 'notes.txt'])
  })

  it('warns, naming its real path, about a file a ** reached through a symlink out of the workspace', async () => {
    const s = closeAfterTest(await stage())
    const outside = await mkdtemp(path.join(tmpdir(), 'outside-'))
    closeAfterTest({ close: () => rm(outside, { recursive: true, force: true }) })
    await writeFile(path.join(outside, 'tool.bin'), 'from elsewhere')
    await s.files({ 'out/app.zip': 'app' })
    await symlink(outside, path.join(s.workspace, 'out', 'linked'))

    const result = await s.run({ glob: 'out/**' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result).map((d) => d.name)).toEqual(['app.zip', 'tool.bin'])
    const real = await realpath(path.join(outside, 'tool.bin'))
    expect(result.warnings).toEqual([
      `1 file lies outside the workspace ("${await realpath(s.workspace)}") once symlinks are resolved: "${real}". It is published all the same; narrow the glob if it was not meant to be.`
    ])
  })

  it('warns about names that differ only by Unicode normalization, and publishes both', async () => {
    const s = closeAfterTest(await stage())
    const composed = 'caf\u00e9.txt'
    const decomposed = 'cafe\u0301.txt'
    await s.files({ [`nfc/${composed}`]: 'composed', [`nfd/${decomposed}`]: 'decomposed' })

    const result = await s.run({ glob: '*/*.txt' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result).map((d) => d.name)).toEqual([decomposed, composed])
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings[0]).toContain(`"${decomposed}" (NFD) and "${composed}" (NFC)`)
  })
})
