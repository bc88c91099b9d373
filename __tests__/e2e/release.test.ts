import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import {
  closeAfterTest,
  downloadsOutput,
  fetchBytes,
  itWithOwnS3,
  REPO,
  stage,
  type Stage
} from './harness.js'

/** Windows cannot send a process SIGINT: these run where the runner sends it. */
const itWithSignals = process.platform === 'win32' ? it.skip : it

/** Release features: a checksums file, names from a template, pruning old builds. */

const names = (s: Stage) =>
  s.emulator
    .downloads(REPO)
    .map((d) => d.name)
    .sort()

describe('checksums-file', () => {
  it('publishes a checksums file that real sha256sum -c verifies against every download', async () => {
    const s = closeAfterTest(await stage())
    await s.files({
      'dist/app.tar.gz': Buffer.alloc(300_000, 7),
      'dist/app.zip': 'zip bytes',
      'dist/read me.txt': 'notes'
    })

    const job = await s.job({ glob: 'dist/*', 'checksums-file': 'SHA256SUMS' })
    const result = await (await job.main()).result

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    const published = downloadsOutput(result)
    expect(published.map((d) => d.name)).toEqual([
      'SHA256SUMS',
      'app.tar.gz',
      'app.zip',
      'read me.txt'
    ])
    // Download everything through its html_url, as a user would, and check it.
    const dir = await mkdtemp(path.join(tmpdir(), 'sums-'))
    try {
      for (const d of published) {
        await writeFile(path.join(dir, d.name), await fetchBytes(d.html_url))
      }
      const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' })
      expect(check.trim().split('\n')).toEqual(['app.tar.gz: OK', 'app.zip: OK', 'read me.txt: OK'])
      // checksums-path, for a later step of the job (attest-build-provenance), is that file.
      expect(path.basename(result.outputs['checksums-path'])).toBe('SHA256SUMS')
      expect(await readFile(result.outputs['checksums-path'], 'utf8')).toBe(
        await readFile(path.join(dir, 'SHA256SUMS'), 'utf8')
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
    expect(result.summary).toContain('SHA256SUMS')
  })

  it('is left unchanged by a re-run, and replaced when the files change', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a' })
    const inputs = { glob: 'a.bin', 'checksums-file': 'SHA256SUMS', 'replace-existing': 'true' }
    expect((await s.run(inputs)).code).toBe(0)

    const again = await s.run(inputs)
    expect(downloadsOutput(again).map((d) => [d.name, d.status])).toEqual([
      ['SHA256SUMS', 'unchanged'],
      ['a.bin', 'unchanged']
    ])

    await s.files({ 'a.bin': 'a, rebuilt' })
    const rebuilt = await s.run(inputs)
    expect(downloadsOutput(rebuilt).map((d) => [d.name, d.status])).toEqual([
      ['SHA256SUMS', 'replaced'],
      ['a.bin', 'replaced']
    ])
  })

  it('refuses a glob file with the checksums file’s name, before any change', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'dist/SHA256SUMS': 'old list', 'dist/a.bin': 'a' })
    const result = await s.run({ glob: 'dist/*', 'checksums-file': 'SHA256SUMS' })
    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/'checksums-file' is SHA256SUMS, the download name of \S+/)
    expect(s.changes()).toEqual([])
  })
})

describe('name-template', () => {
  it('names per-platform builds from their folder, keeping compound extensions whole', async () => {
    const s = closeAfterTest(await stage())
    await s.files({
      'dist/linux/app': 'linux binary',
      'dist/windows/app.exe': 'windows binary',
      'dist/src/app.tar.gz': 'sources'
    })

    const result = await s.run({ glob: 'dist/**', 'name-template': '{stem}-{dir}-v1.2.3{ext}' })

    expect(result.errors).toEqual([])
    expect(names(s)).toEqual([
      'app-linux-v1.2.3',
      'app-src-v1.2.3.tar.gz',
      'app-windows-v1.2.3.exe'
    ])
    const linux = downloadsOutput(result).find((d) => d.name === 'app-linux-v1.2.3')
    expect((await fetchBytes(linux?.html_url ?? '')).toString()).toBe('linux binary')
  })

  it.each([
    ['{name}-{arch}', /unknown placeholder \{arch\}/],
    ['{stem', /'\{' without its '\}'/],
    ['{dir}/{name}', /'name-template' makes it "linux\/app": a slash/],
    ['{stem}', /same download name \(app: \S+linux\/app, \S+windows\/app\.exe\)/]
  ])('refuses the template %s before any change, saying why', async (template, message) => {
    const s = closeAfterTest(await stage())
    await s.files({ 'dist/linux/app': 'l', 'dist/windows/app.exe': 'w' })
    const result = await s.run({ glob: 'dist/**', 'name-template': template })
    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(message)
    expect(s.changes()).toEqual([])
  })

  it('refuses a template that leaves a name empty', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ app: 'a' })
    const result = await s.run({ glob: 'app', 'name-template': '{ext}' })
    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/'name-template' makes it "": not a file name/)
    expect(s.changes()).toEqual([])
  })
})

describe('prune', () => {
  async function nightlies(): Promise<Stage> {
    const s = closeAfterTest(await stage())
    for (let i = 1; i <= 4; i++)
      s.emulator.seed(REPO, { name: `app-nightly-${i}.zip`, content: `n${i}` })
    s.emulator.seed(REPO, { name: 'app-1.0.zip', content: 'stable' })
    await s.files({ 'app-nightly-5.zip': 'n5' })
    return s
  }

  it('keeps the newest prune-keep of the older matches, and never this run’s file or others', async () => {
    const s = await nightlies()

    const result = await s.run({
      glob: 'app-nightly-5.zip',
      prune: '# nightly builds\napp-nightly-*',
      'prune-keep': '2'
    })

    expect(result.code).toBe(0)
    expect(names(s)).toEqual([
      'app-1.0.zip',
      'app-nightly-3.zip',
      'app-nightly-4.zip',
      'app-nightly-5.zip'
    ])
    expect(JSON.parse(result.outputs.pruned)).toEqual([
      { id: 2, name: 'app-nightly-2.zip' },
      { id: 1, name: 'app-nightly-1.zip' }
    ])
    expect(result.summary).toContain('Pruned (2)')
  })

  it('with prune-keep 0 deletes every older match', async () => {
    const s = await nightlies()
    const result = await s.run({ glob: 'app-nightly-5.zip', prune: 'app-nightly-*' })
    expect(result.code).toBe(0)
    expect(names(s)).toEqual(['app-1.0.zip', 'app-nightly-5.zip'])
  })

  itWithOwnS3('scripts a fault on the emulator’s own S3 hop')(
    'a failed file leaves the checksums unpublished and prunes nothing',
    async () => {
      const s = await nightlies()
      await s.files({ 'app-nightly-5.tar.gz': 'also n5' })
      s.emulator.faults.inject({
        hop: 's3',
        status: 403,
        s3Code: 'AccessDenied',
        match: (req) => req.name === 'app-nightly-5.tar.gz'
      })

      const result = await s.run({
        glob: 'app-nightly-5.*',
        prune: 'app-nightly-*',
        'checksums-file': 'SHA256SUMS'
      })

      expect(result.code).toBe(1)
      expect(result.stdout).toContain('SHA256SUMS is not published: not every file landed.')
      expect(result.stdout).toContain('Nothing is pruned: not every file landed.')
      expect(names(s)).not.toContain('SHA256SUMS')
      expect(names(s).filter((n) => n.startsWith('app-nightly-'))).toHaveLength(5)
      expect(JSON.parse(result.outputs.pruned)).toEqual([])
    }
  )

  it('a dry run lists what it would prune and publish, and changes nothing', async () => {
    const s = await nightlies()
    const result = await s.run({
      glob: 'app-nightly-5.zip',
      prune: 'app-nightly-*',
      'prune-keep': '1',
      'checksums-file': 'SHA256SUMS',
      'name-template': '{stem}-linux{ext}',
      'dry-run': 'true'
    })
    expect(result.code).toBe(0)
    expect(s.changes()).toEqual([])
    for (const n of [1, 2, 3]) expect(result.stdout).toContain(`prune app-nightly-${n}.zip`)
    expect(result.stdout).not.toContain('prune app-nightly-4.zip')
    expect(result.stdout).toContain('create SHA256SUMS')
    expect(result.stdout).toContain('create app-nightly-5-linux.zip')
    expect(result.summary).toContain('Would prune (3)')
  })
})

describe('found by trying the release features as a hostile user would', () => {
  it('two runs pruning at once never delete each other’s fresh build', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'nightly-1.zip', content: 'old' })
    await s.files({ 'a/nightly-2.zip': 'run a', 'b/nightly-3.zip': 'run b' })

    // Both list before either creates: each create waits a second.
    s.emulator.faults.inject({ hop: 'create', delayMs: 1000, times: 2 })
    const [a, b] = await Promise.all([
      s.run({ glob: 'a/*', prune: 'nightly-*' }),
      s.run({ glob: 'b/*', prune: 'nightly-*' })
    ])

    expect([a.code, b.code]).toEqual([0, 0])
    expect(names(s)).toEqual(['nightly-2.zip', 'nightly-3.zip'])
  })

  it('never prunes a record without bytes: it may be another run’s upload in progress', async () => {
    const s = closeAfterTest(await stage())
    const inProgress = await s.createEmpty('nightly-1.zip')
    await s.files({ 'nightly-2.zip': 'new' })

    const result = await s.run({ glob: 'nightly-2.zip', prune: 'nightly-*' })

    expect(result.code).toBe(0)
    expect(result.stdout).toContain(
      `Not pruned: nightly-1.zip (download ${inProgress}) holds no bytes.`
    )
    expect(names(s)).toEqual(['nightly-1.zip', 'nightly-2.zip'])
  })

  itWithSignals('stops pruning when the run is cancelled', async () => {
    const s = closeAfterTest(await stage())
    for (let i = 1; i <= 4; i++) s.emulator.seed(REPO, { name: `old-${i}.zip`, content: `${i}` })
    await s.files({ 'new.zip': 'new' })
    s.emulator.faults.inject({ hop: 'delete', holdAfterCommitMs: 2000 })
    const job = await s.job({ glob: 'new.zip', prune: 'old-*' })
    const main = await job.main()
    await s.emulator.whenCommitted('delete')
    const result = await main.cancel()

    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/Pruning stopped \(SIGINT\): 3 left as they are/)
    expect(names(s).filter((n) => n.startsWith('old-'))).toHaveLength(3)
  })

  it('refuses a checksums file that clashes before any upload, not after', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'SHA256SUMS', content: 'an older list\n' })
    await s.files({ 'a.bin': 'a' })

    const result = await s.run({ glob: 'a.bin', 'checksums-file': 'SHA256SUMS' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/SHA256SUMS.*Nothing was changed/)
    expect(s.changes()).toEqual([])
    expect(result.outputs['checksums-path']).toBeUndefined()
  })

  it('says loudly that an older checksums file no longer verifies a file this run replaced', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a v1', 'b.bin': 'b v1' })
    const inputs = { glob: '*.bin', 'checksums-file': 'SHA256SUMS', 'replace-existing': 'true' }
    expect((await s.run(inputs)).code).toBe(0)
    await s.files({ 'a.bin': 'a v2', 'b.bin': 'b v2' })
    // b.bin's create hands out a form the store refuses: its upload fails for good.
    s.emulator.faults.inject({
      hop: 'create',
      badSignature: true,
      match: (req) => req.name === 'b.bin'
    })

    const result = await s.run({ ...inputs, concurrency: '1' })

    expect(result.code).toBe(1)
    expect(result.warnings.join('\n')).toMatch(
      /SHA256SUMS \(download \d+\) is from before this run, which replaced a\.bin: it no longer verifies that file/
    )
    expect(result.outputs['checksums-path']).toBeUndefined()
  })

  it('refuses a stray } in a name template', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'app.exe': 'a' })
    const result = await s.run({ glob: 'app.exe', 'name-template': '{name}}' })
    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/'\}' without its '\{'/)
    expect(s.changes()).toEqual([])
  })

  it('renders no Markdown from file names in the summary of a stopped run', async () => {
    const s = closeAfterTest(await stage())
    await s.files({
      'x\n# HACKED [click](http://evil.example)/app.bin': 'a',
      'y/app.bin': 'b'
    })
    const result = await s.run({ glob: '**/app.bin' })
    expect(result.code).toBe(1)
    expect(result.summary).not.toMatch(/^# HACKED/m)
    expect(result.summary).toContain('<p>')
    expect(result.summary).toContain('\\n# HACKED')
  })
})
