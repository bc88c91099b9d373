import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { createCoreFake } from '../helpers/core-fake.js'

// @actions/glob logs through @actions/core; keep its ::debug:: lines out of the test output.
const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const { contentTypeOf, findSourceFiles, isHidden, MAX_FILE_SIZE, rootPattern } =
  await import('../../src/files.js')

let root: string
let workspace: string

beforeEach(async () => {
  fake.reset()
  root = await mkdtemp(path.join(tmpdir(), 'files-test-'))
  workspace = path.join(root, 'workspace')
  await mkdir(workspace)
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

/** Writes files under `dir`, making folders as needed. */
async function layout(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await writeFile(path.join(dir, name), content)
  }
}

const names = (sources: { name: string }[]) => sources.map((a) => a.name)

/**
 * Writes a file whose path has bytes that are not UTF-8, as a Linux build can: `parts` are
 * joined with '/', strings as UTF-8 and number arrays as raw bytes.
 */
async function writeBytesNamed(dir: string, ...parts: (string | number[])[]): Promise<Buffer> {
  let file = Buffer.from(dir)
  for (const [i, part] of parts.entries()) {
    file = Buffer.concat([file, Buffer.from('/'), Buffer.from(part as never)])
    if (i < parts.length - 1) await mkdir(file, { recursive: true })
  }
  await writeFile(file, 'bytes')
  return file
}

const logged = (level: string) =>
  fake.log.filter((line) => line.startsWith(`${level}: `)).map((l) => l.slice(level.length + 2))

describe('findSourceFiles', () => {
  it('roots relative patterns at the workspace, not at the working directory', async () => {
    await layout(workspace, { 'dist/app.zip': 'zip bytes', 'dist/notes.txt': 'notes' })
    // The process's working directory (the repository) has no dist/ at all.
    expect(process.cwd()).not.toBe(workspace)

    const sources = await findSourceFiles(['dist/*.zip'], workspace)

    expect(sources).toEqual([
      {
        path: path.join(workspace, 'dist/app.zip'),
        name: 'app.zip',
        size: 9,
        contentType: 'application/zip'
      }
    ])
  })

  it('leaves out what a ! pattern excludes', async () => {
    await layout(workspace, {
      'out/app-linux.tar.gz': 'l',
      'out/app-debug.tar.gz': 'd',
      'out/app-mac.tar.gz': 'm'
    })
    const sources = await findSourceFiles(['out/*.tar.gz', '!out/*-debug.tar.gz'], workspace)
    expect(names(sources)).toEqual(['app-linux.tar.gz', 'app-mac.tar.gz'])
  })

  it('takes absolute patterns as they are', async () => {
    await layout(root, { 'elsewhere/tool.bin': 'x' })
    const sources = await findSourceFiles([path.join(root, 'elsewhere/*.bin')], workspace)
    expect(sources.map((a) => a.path)).toEqual([path.join(root, 'elsewhere/tool.bin')])
  })

  it('takes a pattern starting with # as a file name: comments are removed by the inputs', async () => {
    await layout(workspace, { '#1-notes.txt': 'n', 'other.txt': 'o' })
    expect(names(await findSourceFiles(['#1-notes.txt'], workspace))).toEqual(['#1-notes.txt'])
  })

  it('never matches a directory, even one named by the pattern', async () => {
    await layout(workspace, { 'release/app.zip': 'z', 'bundle.app/Contents/Info.plist': 'p' })
    expect(await findSourceFiles(['release'], workspace)).toEqual([])
    expect(await findSourceFiles(['*.app'], workspace)).toEqual([])
    // `**` descends, but still only files come back.
    expect(names(await findSourceFiles(['**'], workspace))).toEqual(['Info.plist', 'app.zip'])
  })

  it('refuses two files with the same base name, naming both paths', async () => {
    await layout(workspace, { 'linux/app.zip': 'l', 'mac/app.zip': 'm', 'mac/other.zip': 'o' })
    const found = findSourceFiles(['**/*.zip'], workspace)
    await expect(found).rejects.toThrow('Several files have the same download name')
    await expect(findSourceFiles(['**/*.zip'], workspace)).rejects.toThrow(
      `app.zip: ${path.join(workspace, 'linux/app.zip')}, ${path.join(workspace, 'mac/app.zip')}`
    )
  })

  it('names at most 20 offenders in one error, and counts the rest', async () => {
    const many: Record<string, string> = {}
    for (let i = 0; i < 30; i++) many[`out/build-${String(i).padStart(2, '0')}.bin`] = 'x'
    await layout(workspace, many)

    const bad = findSourceFiles(['out/*'], workspace, {
      nameOf: (file) => `a/${path.basename(file)}`
    })
    await expect(bad).rejects.toThrow(
      /^30 files have names that no download can take: .*… and 10 more \(all 30 in the log\)\./
    )
    // Every one of them in the log, so that one run tells the user all there is to rename.
    const logged = fake.log.filter((line) => line.startsWith('info:   '))
    expect(logged).toHaveLength(30)
    expect(logged[29]).toContain(path.join(workspace, 'out/build-29.bin'))
    expect(fake.log).toContain('info: Files whose names no download can take (30):')
    const same = findSourceFiles(['out/*'], workspace, { nameOf: () => 'app.bin' })
    await expect(same).rejects.toThrow(
      `app.bin: ${path.join(workspace, 'out/build-00.bin')}, ${path.join(workspace, 'out/build-01.bin')}`
    )
    await expect(
      findSourceFiles(['out/*'], workspace, { nameOf: () => 'app.bin' })
    ).rejects.toThrow(`${path.join(workspace, 'out/build-19.bin')}, … and 10 more)`)
  })

  it('comes back sorted by name, whatever the folders', async () => {
    await layout(workspace, { 'b/alpha.txt': '1', 'a/zeta.txt': '2', 'c/Beta.txt': '3' })
    expect(names(await findSourceFiles(['**/*.txt'], workspace))).toEqual([
      'Beta.txt',
      'alpha.txt',
      'zeta.txt'
    ])
  })

  it('handles names with spaces and non-ASCII characters', async () => {
    await layout(workspace, { 'my app 1.0.zip': 'a', 'résumé.pdf': 'b', '日本語.txt': 'c' })
    const sources = await findSourceFiles(['*'], workspace)
    expect(names(sources)).toEqual(['my app 1.0.zip', 'résumé.pdf', '日本語.txt'])
    expect(names(await findSourceFiles(['my app 1.0.zip'], workspace))).toEqual(['my app 1.0.zip'])
    expect(names(await findSourceFiles(['résumé.*'], workspace))).toEqual(['résumé.pdf'])
  })

  it('publishes an empty file, with size 0', async () => {
    await layout(workspace, { 'EMPTY.md': '' })
    expect(await findSourceFiles(['*.md'], workspace)).toEqual([
      {
        path: path.join(workspace, 'EMPTY.md'),
        name: 'EMPTY.md',
        size: 0,
        contentType: 'text/markdown'
      }
    ])
  })

  it('refuses a file over 5 GiB, naming it and the limit', async () => {
    // Sparse: no 5 GiB is written to disk.
    const big = path.join(workspace, 'huge.iso')
    await writeFile(big, '')
    await truncate(big, MAX_FILE_SIZE + 1)
    await expect(findSourceFiles(['*.iso'], workspace)).rejects.toThrow(
      `${big} is 5368709121 bytes; one upload to S3 carries at most 5 GiB (5368709120 bytes).`
    )
  })

  it('accepts a file of exactly 5 GiB', async () => {
    const big = path.join(workspace, 'exact.iso')
    await writeFile(big, '')
    await truncate(big, MAX_FILE_SIZE)
    expect((await findSourceFiles(['*.iso'], workspace))[0].size).toBe(5 * 1024 ** 3)
  })

  it('finds nothing, without error, when nothing matches', async () => {
    expect(await findSourceFiles(['dist/*.zip'], workspace)).toEqual([])
  })

  it.each(['ws*star', 'ws?mark'])(
    'matches only the workspace itself when its path has glob characters (%s)',
    async (dir) => {
      const ws = path.join(root, dir)
      // Would match the unescaped workspace pattern too.
      const decoy = path.join(root, dir.replace(/[*?]/, 'X'))
      await layout(ws, { 'app.zip': 'real' })
      await layout(decoy, { 'decoy.zip': 'decoy' })
      const sources = await findSourceFiles(['*.zip'], ws)
      expect(sources.map((a) => a.path)).toEqual([path.join(ws, 'app.zip')])
    }
  )

  // Bug: rootPattern brackets ']' as '[]]', which @actions/glob does not read as a literal
  // ']', so a workspace whose path holds '[…]' or ']' matches no file at all.
  it.each(['ws[1]', 'ws]z'])(
    'finds the files of a workspace whose path has brackets (%s)',
    async (dir) => {
      const ws = path.join(root, dir)
      await layout(ws, { 'app.zip': 'real' })
      const sources = await findSourceFiles(['*.zip'], ws)
      expect(sources.map((a) => a.path)).toEqual([path.join(ws, 'app.zip')])
    }
  )
})

describe('findSourceFiles: names a download cannot take', () => {
  const bad = [0x61, 0xff, 0x2e, 0x74, 0x78, 0x74] // "a", a byte that is no UTF-8, ".txt"

  it('refuses a file whose name is not UTF-8, naming it with the byte shown, where the glob skipped it silently', async () => {
    await layout(workspace, { 'dist/ok.txt': 'ok' })
    await writeBytesNamed(workspace, 'dist', bad)
    await expect(findSourceFiles(['dist/*'], workspace)).rejects.toThrow(
      `1 file has a name that no download can take: "${workspace}/dist/a\\xff.txt" (name not valid UTF-8). Nothing was changed.`
    )
  })

  it('refuses a file in a folder whose name is not UTF-8, which a ** reaches', async () => {
    await writeBytesNamed(workspace, 'out', [0x62, 0x75, 0x69, 0x6c, 0x64, 0xfe], 'app.zip')
    await expect(findSourceFiles(['out/**/*.zip'], workspace)).rejects.toThrow(
      `"${workspace}/out/build\\xfe/app.zip" (a folder name in its path not valid UTF-8)`
    )
  })

  it('leaves alone a file not UTF-8 named that the patterns do not select', async () => {
    await layout(workspace, { 'dist/app.zip': 'z' })
    await writeBytesNamed(workspace, 'dist', bad)
    await writeBytesNamed(workspace, 'other', bad)
    expect(names(await findSourceFiles(['dist/*.zip'], workspace))).toEqual(['app.zip'])
    expect(names(await findSourceFiles(['dist/*', '!dist/a*.txt'], workspace))).toEqual(['app.zip'])
    expect(names(await findSourceFiles(['dist/*.zip', 'other/*.zip'], workspace))).toEqual([
      'app.zip'
    ])
  })

  it('refuses control characters, DEL, C1 controls and backslashes, all in one error', async () => {
    await layout(workspace, {
      'dist/bell\u0007.txt': 'b',
      'dist/line\nbreak.txt': 'n',
      'dist/del\u007f.txt': 'd',
      'dist/csi\u009b.txt': 'c',
      'dist/back\\slash.txt': 's',
      'dist/fine.txt': 'f'
    })
    await writeBytesNamed(workspace, 'dist', bad)
    const error = await findSourceFiles(['dist/*'], workspace).catch((e: unknown) => e as Error)
    expect(error).toBeInstanceOf(Error)
    const message = (error as Error).message
    expect(message).toMatch(/^6 files have names that no download can take: /)
    for (const shown of [
      `"${workspace}/dist/a\\xff.txt" (name not valid UTF-8)`,
      `"${workspace}/dist/bell\\u0007.txt" (control character U+0007 in the name)`,
      `"${workspace}/dist/line\\nbreak.txt" (control character U+000A in the name)`,
      `"${workspace}/dist/del\\u007f.txt" (control character U+007F in the name)`,
      `"${workspace}/dist/csi\\u009b.txt" (control character U+009B in the name)`,
      `"${workspace}/dist/back\\\\slash.txt" (a slash or backslash in the name)`
    ]) {
      expect(message).toContain(shown)
    }
    expect(message).not.toContain('fine.txt')
    // Nothing raw reaches the message: the terminal or log would act on it.
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/)
  })
})

describe('findSourceFiles: hidden files', () => {
  beforeEach(async () => {
    await layout(workspace, {
      'dist/app.zip': 'z',
      'dist/.npmrc': '//registry.npmjs.org/:_authToken=secret',
      'dist/.cache/blob.bin': 'c',
      '.git/config': '[core]'
    })
  })

  it('leaves out files and folders starting with a dot, and says how many', async () => {
    expect(names(await findSourceFiles(['dist/*'], workspace))).toEqual(['app.zip'])
    expect(logged('info')).toEqual([
      "Excluded 1 hidden file (a name or folder starting with '.'); set 'include-hidden-files: true' to publish hidden files."
    ])

    fake.reset()
    expect(names(await findSourceFiles(['**'], workspace))).toEqual(['app.zip'])
    expect(logged('info')[0]).toMatch(/^Excluded 3 hidden files /)
  })

  it('leaves out a hidden file even when the pattern names it, as upload-artifact does', async () => {
    expect(await findSourceFiles(['dist/.npmrc'], workspace)).toEqual([])
    expect(logged('info')[0]).toMatch(/^Excluded 1 hidden file /)
  })

  it('publishes them with includeHiddenFiles', async () => {
    expect(names(await findSourceFiles(['**'], workspace, { includeHiddenFiles: true }))).toEqual([
      '.npmrc',
      'app.zip',
      'blob.bin',
      'config'
    ])
    expect(logged('info')).toEqual([])
  })

  it('says nothing when no hidden file matched', async () => {
    expect(names(await findSourceFiles(['dist/*.zip'], workspace))).toEqual(['app.zip'])
    expect(logged('info')).toEqual([])
  })

  it('looks only below the workspace: a checkout inside a hidden folder still publishes', async () => {
    const ws = path.join(root, '.runner', 'work')
    await layout(ws, { 'dist/app.zip': 'z' })
    expect(names(await findSourceFiles(['dist/*'], ws))).toEqual(['app.zip'])
  })

  it('looks below the search path for a pattern outside the workspace', async () => {
    await layout(root, { '.cache/out/tool.bin': 't', '.cache/out/.token': 's' })
    const found = await findSourceFiles([path.join(root, '.cache/out/*')], workspace)
    expect(names(found)).toEqual(['tool.bin'])
  })
})

describe('findSourceFiles: files outside the workspace', () => {
  it('warns naming the real path of a file a ** reached through a folder symlink, and publishes it', async () => {
    await layout(root, { 'elsewhere/tool.bin': 't' })
    await layout(workspace, { 'dist/app.zip': 'z' })
    await symlink(path.join(root, 'elsewhere'), path.join(workspace, 'dist', 'linked'))

    const found = await findSourceFiles(['dist/**'], workspace)

    expect(found.map((a) => a.path)).toEqual([
      path.join(workspace, 'dist/app.zip'),
      path.join(workspace, 'dist/linked/tool.bin')
    ])
    expect(logged('warning')).toEqual([
      `1 file lies outside the workspace ("${workspace}") once symlinks are resolved: "${path.join(root, 'elsewhere/tool.bin')}". It is published all the same; narrow the glob if it was not meant to be.`
    ])
  })

  it('warns about files an absolute or ../ pattern reaches', async () => {
    await layout(root, { 'elsewhere/a.bin': 'a', 'elsewhere/b.bin': 'b' })
    await findSourceFiles(['../elsewhere/a.bin', path.join(root, 'elsewhere/b.bin')], workspace)
    expect(logged('warning')).toEqual([
      expect.stringMatching(
        /^2 files lie outside the workspace .*: ".*\/elsewhere\/a\.bin", ".*\/elsewhere\/b\.bin"\. They are published all the same/
      )
    ])
  })

  it('does not warn about a symlink that stays inside the workspace', async () => {
    await layout(workspace, { 'build/app.zip': 'z' })
    await symlink(path.join(workspace, 'build'), path.join(workspace, 'dist'))
    expect(names(await findSourceFiles(['dist/*'], workspace))).toEqual(['app.zip'])
    expect(logged('warning')).toEqual([])
  })
})

describe('findSourceFiles: lookalike names', () => {
  it('warns about names that differ only by Unicode normalization or case, and publishes them', async () => {
    await layout(workspace, {
      'nfc/r\u00e9sum\u00e9.pdf': 'composed',
      'nfd/re\u0301sume\u0301.pdf': 'decomposed',
      'App.zip': 'A',
      'app.zip': 'a',
      'other.txt': 'o'
    })
    const found = await findSourceFiles(['**'], workspace)
    expect(found).toHaveLength(5)
    const [warning] = logged('warning')
    expect(warning).toContain('"App.zip" and "app.zip"')
    // In name order, as the outputs: the decomposed "e" sorts before the composed "é".
    expect(warning).toContain('"re\u0301sume\u0301.pdf" (NFD) and "r\u00e9sum\u00e9.pdf" (NFC)')
    expect(warning).not.toContain('other.txt')
  })
})

describe('isHidden', () => {
  const ws = '/home/runner/work/r/r'
  it.each([
    [`${ws}/dist/app.zip`, [`${ws}/dist`], false],
    [`${ws}/dist/.npmrc`, [`${ws}/dist`], true],
    [`${ws}/.github/workflows/ci.yml`, [`${ws}/.github/workflows`], true],
    [`${ws}/dist/..hidden-too`, [`${ws}/dist`], true],
    ['/home/runner/.bashrc', ['/home/runner'], true],
    ['/home/runner/.cache/out/tool.bin', ['/home/runner/.cache/out'], false],
    ['/opt/.secret', ['/opt/.secret'], true]
  ])('%s (search paths %j): %p', (file, searchPaths, hidden) => {
    expect(isHidden(file, ws, searchPaths)).toBe(hidden)
  })
})

describe('contentTypeOf', () => {
  it.each([
    ['app.zip', 'application/zip'],
    ['app-1.0.tar.gz', 'application/gzip'],
    ['README.TXT', 'text/plain'],
    ['tool.unknownext', 'application/octet-stream'],
    ['Makefile', 'application/octet-stream']
  ])('%s → %s', (name, type) => {
    expect(contentTypeOf(name)).toBe(type)
  })
})

describe('rootPattern', () => {
  it('joins a relative pattern to the workspace and keeps a leading !', () => {
    expect(rootPattern('dist/*.zip', '/work/ws')).toBe('/work/ws/dist/*.zip')
    expect(rootPattern('!dist/debug.zip', '/work/ws')).toBe('!/work/ws/dist/debug.zip')
    expect(rootPattern('!  dist/debug.zip', '/work/ws')).toBe('!/work/ws/dist/debug.zip')
  })

  it('leaves absolute and home-relative patterns alone', () => {
    expect(rootPattern('/opt/out/*.zip', '/work/ws')).toBe('/opt/out/*.zip')
    expect(rootPattern('!/opt/out/x.zip', '/work/ws')).toBe('!/opt/out/x.zip')
    expect(rootPattern('~/out/*.zip', '/work/ws')).toBe('~/out/*.zip')
  })

  it('brackets * and ? in the workspace path so they match only themselves', () => {
    expect(rootPattern('*.zip', '/work/a*b?c')).toBe('/work/a[*]b[?]c/*.zip')
  })
})
