import { describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import { appendFile, readdir } from 'node:fs/promises'
import * as path from 'node:path'
import { CANCEL_SIGTERM_AFTER_MS } from '../../scripts/local-runner.js'
import {
  closeAfterTest,
  downloadsOutput,
  expectNothingHalfMade,
  killRightAfter,
  fetchBytes,
  itWithOwnS3,
  onCeph,
  REPO,
  sha256,
  stage,
  type Stage
} from './harness.js'

/** Why a test is not run on Ceph: it acts in the middle of an upload, which only the emulator sees. */
const MID_UPLOAD = 'acts mid-upload, through the emulator’s S3 bandwidth limit and upload progress'

/**
 * Cancelled, killed, re-run: whatever ends the main step, after its post step every name is
 * either whole or as it was before, and re-running the job converges.
 */

const MiB = 1024 * 1024
const OLD = randomBytes(64 * 1024)
const NEW = randomBytes(8 * MiB)
/** The new file takes about 4 s to upload at this rate: time to hit it in the middle. */
const BANDWIDTH = 2 * MiB

async function replaceStage(): Promise<Stage> {
  const s = closeAfterTest(await stage())
  s.emulator.seed(REPO, { name: 'app.bin', content: OLD, description: 'v1' })
  await s.files({ 'app.bin': NEW, 'notes.txt': 'release notes' })
  return s
}

const INPUTS = { glob: 'app.bin\nnotes.txt', 'replace-existing': 'true', description: 'v2' }

function stored(s: Stage, name: string) {
  return s.emulator.downloads(REPO).find((d) => d.name === name)
}

/**
 * The same job again, twice: with the same inputs it lands every file byte-exact; then, with
 * `replace-existing: false`, it finds everything in place and changes nothing.
 */
async function expectRerunsConverge(s: Stage): Promise<void> {
  s.emulator.setUploadBandwidth(null)
  s.emulator.faults.clear()
  const again = await s.run(INPUTS)
  expect(again.errors).toEqual([])
  expect(again.code).toBe(0)
  const landed = downloadsOutput(again).find((d) => d.name === 'app.bin')
  expect(sha256(await fetchBytes(landed?.html_url ?? 'missing'))).toBe(sha256(NEW))
  expectNothingHalfMade(s)

  const before = s.changes().length
  const third = await s.run({ ...INPUTS, 'replace-existing': 'false' })
  expect(third.errors).toEqual([])
  expect(third.code).toBe(0)
  expect(s.changes().length).toBe(before)
  expect(downloadsOutput(third).map((d) => [d.name, d.status])).toEqual([
    ['app.bin', 'unchanged'],
    ['notes.txt', 'unchanged']
  ])
  expect(third.outputs.count).toBe('2')
}

/** Windows has no SIGINT or SIGTERM to send a process: these run where the runner sends them. */
const withSignals = process.platform === 'win32' ? describe.skip : describe

withSignals(
  'a cancelled run (SIGINT, then SIGTERM, then SIGKILL, as the runner sends them)',
  () => {
    itWithOwnS3(MID_UPLOAD)(
      'mid-replace: stops within the grace period, puts the old bytes back, and says so',
      async () => {
        const s = await replaceStage()
        s.emulator.setUploadBandwidth(BANDWIDTH)
        const job = await s.job({ ...INPUTS, concurrency: '1' })
        const main = await job.main()

        await s.emulator.whenUploadReceived('app.bin', 2 * MiB)
        const cancelledAt = Date.now()
        const result = await main.cancel()
        const took = Date.now() - cancelledAt

        expect(result.signal).toBeNull()
        expect(result.code).not.toBe(0)
        expect(took).toBeLessThan(CANCEL_SIGTERM_AFTER_MS)
        expect(result.stdout).toContain('SIGINT received: the run was cancelled')
        expect(result.stdout).toMatch(/Put back the previous app\.bin as download \d+/)
        expect(result.errors.join('\n')).toMatch(/Cancelled \(SIGINT\)/)
        expect(result.summary).toContain('cancelled (SIGINT)')
        // app.bin has its old bytes again; notes.txt, which sorts after it, never started.
        expectNothingHalfMade(s)
        expect(stored(s, 'app.bin')?.sha256).toBe(sha256(OLD))
        expect(stored(s, 'app.bin')?.description).toBe('v1')
        expect(stored(s, 'notes.txt')).toBeUndefined()

        const post = await job.post()
        expect(post.code).toBe(0)
        expect(post.stdout).toContain('the main step left nothing half-done')
        await expectRerunsConverge(s)
      }
    )

    itWithOwnS3(MID_UPLOAD)('a second signal does not cut the undo short', async () => {
      const s = await replaceStage()
      s.emulator.setUploadBandwidth(BANDWIDTH)
      // The restore's create is slow to answer: the SIGTERM arrives while it runs.
      const job = await s.job({ ...INPUTS, concurrency: '1' })
      const main = await job.main()
      await s.emulator.whenUploadReceived('app.bin', 2 * MiB)
      s.emulator.faults.inject({ hop: 'create', delayMs: 1500 })
      main.kill('SIGINT')
      await new Promise((resolve) => setTimeout(resolve, 500))
      main.kill('SIGTERM')
      const result = await main.result

      expect(result.signal).toBeNull()
      expect(result.code).not.toBe(0)
      expect(result.stdout).toContain('SIGTERM received: still undoing')
      expectNothingHalfMade(s)
      expect(stored(s, 'app.bin')?.sha256).toBe(sha256(OLD))
      expect((await job.post()).code).toBe(0)
    })
  }
)

withSignals('a killed run (SIGKILL), then its post step', () => {
  itWithOwnS3(MID_UPLOAD)(
    'killed mid-upload of a replacement: the post step puts the old bytes back',
    async () => {
      const s = await replaceStage()
      s.emulator.setUploadBandwidth(BANDWIDTH)
      const job = await s.job({ ...INPUTS, concurrency: '1' })
      const main = await job.main()
      await s.emulator.whenUploadReceived('app.bin', 3 * MiB)
      main.kill('SIGKILL')
      const result = await main.result
      expect(result.signal).toBe('SIGKILL')
      // The kill left app.bin as a record without bytes, its old bytes only in RUNNER_TEMP.
      expect(stored(s, 'app.bin')?.uploaded).toBe(false)

      const post = await job.post()

      expect(post.code).toBe(0)
      expect(post.stdout).toMatch(
        /app\.bin: deleted download \d+, a record whose upload never finished/
      )
      expect(post.stdout).toMatch(/app\.bin: .*put back the previous version from its saved copy/)
      expect(post.summary).toContain('the post step settled what the main step left half-done')
      expectNothingHalfMade(s)
      expect(stored(s, 'app.bin')?.sha256).toBe(sha256(OLD))
      expect(stored(s, 'app.bin')?.description).toBe('v1')
      await expectRerunsConverge(s)
    }
  )

  it('killed right after the delete: the post step puts the old bytes back', async () => {
    const s = await replaceStage()
    const job = await killRightAfter(s, { ...INPUTS, concurrency: '1' }, 'delete')
    expect(stored(s, 'app.bin')).toBeUndefined()

    const post = await job.post()

    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(/app\.bin: put back the previous version from its saved copy/)
    expectNothingHalfMade(s)
    expect(stored(s, 'app.bin')?.sha256).toBe(sha256(OLD))
    await expectRerunsConverge(s)
  })

  it('killed right after the create: the post step deletes the empty record and puts the old bytes back', async () => {
    const s = await replaceStage()
    const job = await killRightAfter(s, { ...INPUTS, concurrency: '1' }, 'create', 'app.bin')
    expect(stored(s, 'app.bin')?.uploaded).toBe(false)

    const post = await job.post()

    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(
      /app\.bin: deleted download \d+, a record whose upload never finished/
    )
    expect(post.stdout).toMatch(/put back the previous version from its saved copy/)
    expectNothingHalfMade(s)
    expect(stored(s, 'app.bin')?.sha256).toBe(sha256(OLD))
    await expectRerunsConverge(s)
  })

  it('killed right after creating a new name: the post step deletes the empty record', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'fresh.bin': 'fresh bytes' })
    const job = await killRightAfter(s, { glob: 'fresh.bin' }, 'create', 'fresh.bin')
    expect(stored(s, 'fresh.bin')?.uploaded).toBe(false)

    const post = await job.post()

    expect(post.code).toBe(0)
    expect(post.stdout).toMatch(/fresh\.bin: deleted download \d+/)
    expect(s.emulator.downloads(REPO)).toEqual([])
  })

  it('reads a journal that a kill cut in the middle of a line', async () => {
    const s = await replaceStage()
    const job = await killRightAfter(s, { ...INPUTS, concurrency: '1' }, 'delete')
    const [folder] = (await readdir(job.runnerTemp)).filter((f) => f.startsWith('upload-'))
    await appendFile(path.join(job.runnerTemp, folder, 'journal.jsonl'), '{"op":"crea')

    const post = await job.post()

    expect(post.code).toBe(0)
    expect(post.stdout).toContain('1 unreadable line(s)')
    expect(stored(s, 'app.bin')?.sha256).toBe(sha256(OLD))
  })

  it('after a clean run, the post step says so in one line and sends nothing', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.txt': 'a' })
    const result = await s.run({ glob: 'a.txt' })
    expect(result.code).toBe(0)
    const postLines = result.post.stdout.split('\n').filter((line) => line.trim() !== '')
    expect(postLines).toEqual(['Post step: the main step left nothing half-done.'])
  })
})

describe('re-runs converge', () => {
  it('replaces a download without bytes even with replace-existing off, and says so', async () => {
    const s = closeAfterTest(await stage())
    // An upload cut short an hour ago: listed, size 0, no object on S3.
    const { id } = s.emulator.seed(REPO, {
      name: 'app.bin',
      content: null,
      createdAt: new Date(Date.now() - 3_600_000)
    })
    await s.files({ 'app.bin': 'the bytes' })

    const result = await s.run({ glob: 'app.bin' })

    expect(result.code).toBe(0)
    expect(result.stdout).toContain(
      `replace app.bin (download ${id} holds no bytes: an unfinished upload)`
    )
    expect(downloadsOutput(result).map((d) => d.status)).toEqual(['replaced'])
    expect(stored(s, 'app.bin')?.sha256).toBe(sha256('the bytes'))
    expectNothingHalfMade(s)
  })

  it('leaves a download holding the same bytes unchanged, with no changing request', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'same.bin', content: 'same bytes' })
    s.emulator.seed(REPO, { name: 'other.bin', content: 'old other' })
    await s.files({ 'same.bin': 'same bytes', 'new.bin': 'new' })

    const result = await s.run({ glob: '*.bin' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result).map((d) => [d.name, d.status])).toEqual([
      ['new.bin', 'created'],
      ['same.bin', 'unchanged']
    ])
    expect(result.outputs.count).toBe('2')
    expect(result.outputs.urls.split('\n')).toHaveLength(2)
    expect(result.summary).toMatch(/same\.bin.*unchanged/)
    // new.bin's create and upload, and nothing else: same.bin was not touched.
    // (On Ceph the upload goes past the emulator.)
    expect(s.changes()).toEqual([`POST /repos/${REPO}/downloads`, ...(onCeph ? [] : ['POST /'])])
  })

  it('still refuses a clash whose bytes differ, naming it, and changes nothing', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'app.bin', content: 'old bytes' })
    await s.files({ 'app.bin': 'new bytes!' })

    const result = await s.run({ glob: 'app.bin' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/already exists .* other bytes: app\.bin/)
    expect(s.changes()).toEqual([])
  })
})

describe('a record without bytes that is minutes old', () => {
  it('is left alone as another run’s upload in progress: the run stops before any change', async () => {
    const s = closeAfterTest(await stage())
    await s.createEmpty('app.bin')
    await s.files({ 'app.bin': 'mine' })
    const before = s.changes().length

    const result = await s.run({ glob: 'app.bin', 'replace-existing': 'true' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(
      /app\.bin \(created \d+ s ago and without bytes yet: another run may be uploading it\)/
    )
    expect(s.changes()).toHaveLength(before)
  })
})
