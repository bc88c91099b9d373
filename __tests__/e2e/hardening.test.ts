import { describe, expect, it } from '@jest/globals'
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import {
  closeAfterTest,
  downloadsOutput,
  itWithOwnS3,
  onCeph,
  expectNothingHalfMade,
  killRightAfter,
  fetchBytes,
  REPO,
  sha256,
  stage,
  type Stage
} from './harness.js'

/**
 * Windows cannot send a process SIGINT: such tests run where the runner sends it, and on
 * Ceph only when they need nothing of the emulator's own S3 server.
 */
const itWithSignalsAndOwnS3 = (reason: string) =>
  process.platform === 'win32' ? it.skip : itWithOwnS3(reason)

/**
 * Faults in the middle of a replace, found by trying the action as a hostile user and a flaky
 * network would. Whatever happens, a run (with its post step) ends with every record it made
 * holding its bytes or deleted, and every download it deleted replaced or put back.
 */

const shaOf = (s: Stage, name: string) =>
  s.emulator.downloads(REPO).find((d) => d.name === name)?.sha256

describe('a lost create answer, then failures', () => {
  it('a create whose answer was lost, then 503s until the attempts run out, leaves no record behind', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'new a' })
    s.emulator.faults.inject({ hop: 'create', resetAfterCommit: true })
    s.emulator.faults.inject({ hop: 'create', status: 503, times: 2 })

    const result = await s.run({ glob: 'a.bin', 'max-attempts': '3' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/a\.bin: .*may hold a record.*No record of it was left behind/)
    expect(s.emulator.downloads(REPO)).toEqual([])
  })

  it('in a replace, the same faults leave the old download in place, bytes and all', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'a.bin', content: 'old a', description: 'v1' })
    await s.files({ 'a.bin': 'new a' })
    s.emulator.faults.inject({ hop: 'create', resetAfterCommit: true })
    s.emulator.faults.inject({ hop: 'create', status: 503, times: 2 })

    const result = await s.run({ glob: 'a.bin', 'max-attempts': '3', 'replace-existing': 'true' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/The previous version of a\.bin was put back/)
    expectNothingHalfMade(s)
    expect(shaOf(s, 'a.bin')).toBe(sha256('old a'))
  })

  it('random faults at rate 0.5 (seed 5) on a replace of many files: each ends new or old, none half-made', async () => {
    const s = closeAfterTest(await stage())
    const files: Record<string, string> = {}
    for (let i = 0; i < 12; i++) {
      const name = `f${String(i).padStart(2, '0')}.bin`
      s.emulator.seed(REPO, { name, content: `old ${name}` })
      files[name] = `new ${name}`
    }
    await s.files(files)
    s.emulator.faults.random({ seed: 5, rate: 0.5 })
    const job = await s.job({ glob: '*.bin', 'replace-existing': 'true', 'max-attempts': '3' })

    const result = await (await job.main()).result
    // The network is still flaky when the post step runs, if less so.
    s.emulator.faults.random({ seed: 6, rate: 0.2 })
    const post = await job.post()
    s.emulator.faults.random(null)

    expect(post.code).toBe(0)
    expectNothingHalfMade(s)
    for (const name of Object.keys(files)) {
      expect([sha256(`new ${name}`), sha256(`old ${name}`)]).toContain(shaOf(s, name))
    }
    for (const d of downloadsOutput(result)) expect(shaOf(s, d.name)).toBe(sha256(`new ${d.name}`))
    // Every file not published says what became of its old download, truthfully.
    for (const error of result.errors) {
      expect(error).toMatch(/put back|left as it is|nothing to put back|not started|post step/)
      expect(error).not.toMatch(/somebody else/)
    }
  })
})

describe('the primary rate limit in the middle of a replace', () => {
  it('replaces what its budget covers, starts nothing it cannot finish, and says only what happened', async () => {
    // Five requests an hour: the listing takes one, a replace needs up to four.
    const s = closeAfterTest(await stage({ rateLimit: 5 }))
    const files: Record<string, string> = {}
    for (let i = 0; i < 6; i++) {
      s.emulator.seed(REPO, { name: `r${i}.bin`, content: `old ${i}` })
      files[`r${i}.bin`] = `new ${i}`
    }
    await s.files(files)

    const result = await s.run({ glob: '*.bin', 'replace-existing': 'true', concurrency: '1' })

    expect(result.code).toBe(1)
    expectNothingHalfMade(s)
    expect(shaOf(s, 'r0.bin')).toBe(sha256('new 0'))
    for (let i = 1; i < 6; i++) expect(shaOf(s, `r${i}.bin`)).toBe(sha256(`old ${i}`))
    expect(result.errors).toHaveLength(5)
    for (const error of result.errors) {
      expect(error).toMatch(/was not started: GitHub's primary rate limit is exhausted/)
      expect(error).not.toMatch(/restor|put back/i)
    }
    expect(result.post.stdout).toContain('the main step left nothing half-done')
  })
})

describe('files that change under the run', () => {
  it('a file deleted after the glob ran fails at once, naming it, and its old download stays', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'b.bin', content: 'old b' })
    await s.files({ 'a.bin': 'new a', 'b.bin': 'new b' })
    // a.bin's create is slow: b.bin is removed meanwhile, as a clean-up step racing us might.
    s.emulator.faults.inject({ hop: 'create', delayMs: 800 })
    const job = await s.job({ glob: '*.bin', 'replace-existing': 'true', concurrency: '1' })
    const main = await job.main()
    await s.emulator.whenCommitted('create', 'a.bin').catch(() => undefined)
    await rm(path.join(s.workspace, 'b.bin'))
    const result = await main.result

    expect(result.code).toBe(1)
    expect(result.errors).toEqual([
      expect.stringMatching(/^b\.bin: Cannot read \S+b\.bin \(it no longer exists\)/)
    ])
    expect(result.stdout).not.toMatch(/attempt 1 failed/)
    expect(shaOf(s, 'b.bin')).toBe(sha256('old b'))
    expect(shaOf(s, 'a.bin')).toBe(sha256('new a'))
  })
})

describe('long names', () => {
  it('replaces a download whose name is 255 bytes long', async () => {
    const s = closeAfterTest(await stage())
    const name = `${'n'.repeat(251)}.bin`
    s.emulator.seed(REPO, { name, content: 'old' })
    await s.files({ [name]: 'new' })

    const result = await s.run({ glob: '*.bin', 'replace-existing': 'true' })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    expect(shaOf(s, name)).toBe(sha256('new'))
  })
})

describe('two runs replacing the same names at once', () => {
  it('end with every name whole, and neither claims a restore it did not make', async () => {
    const s = closeAfterTest(await stage())
    const files: Record<string, string> = {}
    for (let i = 0; i < 8; i++) {
      s.emulator.seed(REPO, { name: `c${i}.bin`, content: `old ${i}` })
      files[`c${i}.bin`] = `new ${i}`
    }
    await s.files(files)

    const [one, two] = await Promise.all([
      s.run({ glob: '*.bin', 'replace-existing': 'true', concurrency: '2' }),
      s.run({ glob: '*.bin', 'replace-existing': 'true', concurrency: '2' })
    ])

    expectNothingHalfMade(s)
    for (let i = 0; i < 8; i++) {
      expect([sha256(`new ${i}`), sha256(`old ${i}`)]).toContain(shaOf(s, `c${i}.bin`))
    }
    for (const error of [...one.errors, ...two.errors]) {
      expect(error).toMatch(/somebody else|another run|put back|left as it is|post step/)
      expect(error).not.toMatch(/failed too/)
    }
  })
})

describe('the limits of the runner', () => {
  it(
    '2,000 files with long names: the summary stays under 1 MiB, outputs under 1 MB, and the whole list is in downloads-file',
    async () => {
      const s = closeAfterTest(await stage())
      const files: Record<string, string> = {}
      for (let i = 0; i < 2000; i++) {
        files[`${'release-source-with-a-long-descriptive-name-'.repeat(4)}${i}.txt`] = `${i}`
      }
      await s.files(files)

      const result = await s.run({ glob: '*.txt', concurrency: '16' })

      expect(result.code).toBe(0)
      expect(Buffer.byteLength(result.summary)).toBeLessThan(1024 * 1024)
      expect(result.summary).toMatch(/… and \d+ more \(GitHub caps a job summary at 1 MiB\)/)
      expect(Buffer.byteLength(result.outputs.downloads)).toBeLessThan(1_000_000)
      expect(Buffer.byteLength(result.outputs.urls)).toBeLessThan(1_000_000)
      expect(result.outputs.count).toBe('2000')
      const kept = downloadsOutput(result).length
      expect(kept).toBeGreaterThan(0)
      expect(kept).toBeLessThan(2000)
      expect(result.warnings.join('\n')).toContain(`hold the first ${kept} of 2000 files`)
      expect(result.outputs['downloads-file']).toBeTruthy()
    },
    onCeph ? 180_000 : 60_000
  )

  it('downloads-file holds the whole list for a later step', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.txt': 'a', 'b.txt': 'b' })
    const job = await s.job({ glob: '*.txt' })
    const result = await (await job.main()).result
    const list = JSON.parse(await readFile(result.outputs['downloads-file'], 'utf8')) as {
      name: string
      html_url: string
    }[]
    expect(list.map((d) => d.name)).toEqual(['a.txt', 'b.txt'])
    expect((await fetchBytes(list[1].html_url)).toString()).toBe('b')
  })
})

describe('found by trying issues 8 and 13 as a hostile user would', () => {
  itWithOwnS3('scripts a 404 on the emulator’s S3 GET')(
    'one 404 from S3 does not make a download with bytes look empty: nothing is deleted',
    async () => {
      const s = closeAfterTest(await stage())
      s.emulator.seed(REPO, { name: 'a.bin', content: 'the user’s bytes' })
      await s.files({ 'a.bin': 'other bytes' })
      s.emulator.faults.inject({ hop: 'download', status: 404, s3Code: 'NoSuchKey' })

      const result = await s.run({ glob: 'a.bin' })

      expect(result.code).toBe(1)
      expect(result.errors[0]).toMatch(
        /a\.bin \(S3 has no object for it, but the server lists \d+ bytes\)/
      )
      expect(s.changes()).toEqual([])
      expect(shaOf(s, 'a.bin')).toBe(sha256('the user’s bytes'))
    }
  )

  it('a file named like a workflow command forges no annotation', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ '::error::pwned.txt': 'a', '##[error]also.txt': 'b' })

    const result = await s.run({ glob: '*.txt' })

    expect(result.code).toBe(0)
    expect(result.errors).toEqual([])
    expect(result.stdout).not.toMatch(/^\s*::error::pwned/m)
    expect(result.stdout).not.toMatch(/##\[error\]/)
    expect(downloadsOutput(result).map((d) => d.name)).toEqual([
      '##[error]also.txt',
      '::error::pwned.txt'
    ])
  })

  it('a symlink to a hidden file is hidden too', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ '.npmrc': '//registry/:_authToken=secret', 'dist/app.bin': 'app' })
    await symlink('../.npmrc', path.join(s.workspace, 'dist', 'npmrc.txt'))

    const result = await s.run({ glob: 'dist/*' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result).map((d) => d.name)).toEqual(['app.bin'])
    expect(result.stdout).toContain('Excluded 1 hidden file')
  })

  it('the post step acts on no journal but its own: another path is left untouched', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.txt': 'a', 'keep/README.md': 'precious' })
    const victim = path.join(s.workspace, 'keep', 'README.md')
    const job = await s.job({ glob: 'a.txt' }, { STATE_journal: victim })
    await (
      await job.main()
    ).result

    const post = await job.post()

    expect(post.code).toBe(0)
    expect(post.warnings.join('\n')).toContain('is not a journal this action writes')
    expect(await readFile(victim, 'utf8')).toBe('precious')
  })

  it('the post step uploads no file the journal names outside its own folder', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.txt': 'a', 'secret.key': 'do not publish' })
    const job = await s.job({ glob: 'a.txt' })
    const folder = path.join(job.runnerTemp, 'upload-downloads-forged')
    await mkdir(folder, { recursive: true })
    const secret = path.join(s.workspace, 'secret.key')
    const entries = [
      { op: 'run', repository: REPO, at: new Date().toISOString() },
      {
        op: 'delete',
        name: 'innocent.txt',
        id: 99,
        description: '',
        contentType: 'text/plain',
        copy: secret,
        size: 14,
        md5: '0'.repeat(32)
      },
      { op: 'deleted', name: 'innocent.txt', id: 99 }
    ]
    await writeFile(
      path.join(folder, 'journal.jsonl'),
      entries.map((e) => JSON.stringify(e)).join('\n') + '\n'
    )
    const forged = await s.job(
      { glob: 'a.txt' },
      { STATE_journal: path.join(folder, 'journal.jsonl'), RUNNER_TEMP: job.runnerTemp }
    )

    const post = await forged.post()

    expect(post.code).toBe(1)
    expect(post.errors.join('\n')).toContain("names a copy outside this run's folder")
    expect(s.emulator.downloads(REPO)).toEqual([])
  })

  itWithSignalsAndOwnS3('paces the put-back with the emulator’s S3 bandwidth limit')(
    'a signal to the post step does not cut a put-back in half',
    async () => {
      const s = closeAfterTest(await stage())
      const old = Buffer.alloc(4 * 1024 * 1024, 7)
      s.emulator.seed(REPO, { name: 'app.bin', content: old })
      await s.files({ 'app.bin': 'new' })
      const job = await killRightAfter(s, { glob: 'app.bin', 'replace-existing': 'true' }, 'delete')
      // The put-back takes about two seconds at this rate: the signal lands in the middle.
      s.emulator.setUploadBandwidth(2 * 1024 * 1024)
      const step = await job.startPost()
      await s.emulator.whenUploadReceived('app.bin', 1024 * 1024)
      step.kill('SIGINT')
      const post = await step.result

      expect(post.code).toBe(0)
      expect(post.stdout).toContain('SIGINT received: the post step goes on settling')
      expect(shaOf(s, 'app.bin')).toBe(sha256(old))
      expectNothingHalfMade(s)
    }
  )
})
