import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { JournalEntry } from '../../src/journal.js'
import { ACTION_DEFAULTS, createCoreFake } from '../helpers/core-fake.js'
import { FakeHttp, json, s3Error } from '../helpers/fake-http.js'
import { FakeRepository } from '../helpers/fake-repository.js'

let http: FakeHttp
let created = 0
const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
jest.unstable_mockModule('../../src/http.js', () => ({
  createHttpClient: () => {
    created++
    return http
  }
}))
const { run, runPost } = await import('../../src/main.js')

const savedEnv = { ...process.env }
let root: string
let workspace: string
let runnerTemp: string
let repo: FakeRepository

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'main-test-'))
  workspace = path.join(root, 'workspace')
  runnerTemp = path.join(root, 'temp')
  await mkdir(path.join(workspace, 'dist'), { recursive: true })
  await mkdir(runnerTemp)
  repo = new FakeRepository()
  http = new FakeHttp().fallback(repo.handle)
  created = 0
  fake.reset({
    ...ACTION_DEFAULTS,
    glob: 'dist/*.zip',
    repository: `${repo.owner}/${repo.repo}`,
    'api-url': repo.apiUrl,
    'max-attempts': '2'
  })
  process.env.GITHUB_WORKSPACE = workspace
  process.env.RUNNER_TEMP = runnerTemp
  // No real waits between attempts.
  process.env.UPLOAD_DOWNLOADS_RETRY_DELAY_MS = '0'
})

afterEach(async () => {
  process.env = { ...savedEnv }
  await rm(root, { recursive: true, force: true })
})

const write = (name: string, content: string) => writeFile(path.join(workspace, name), content)
const outputs = () =>
  JSON.parse(fake.outputs.downloads) as { name: string; status: string; sha256: string }[]
/** What RUNNER_TEMP holds besides the outputs' file: the run's own folder, if it was kept. */
const leftInRunnerTemp = async () =>
  (await readdir(runnerTemp)).filter(
    (entry) => entry !== path.basename(fake.outputs['downloads-file'] ?? '')
  )
/** The requests that change something on the server. */
const changes = () =>
  http.requests.filter((r) => r.method === 'POST' || r.method === 'DELETE').map((r) => r.url)

describe('run', () => {
  it('publishes every matched file, sets the outputs and the summary, and cleans up', async () => {
    await write('dist/b.zip', 'bee')
    await write('dist/a.zip', 'ay')
    await write('dist/notes.txt', 'not matched')

    await run()

    expect(fake.failed).toEqual([])
    // Both upload at once: their ids need not follow the names.
    const stored = [...repo.downloads.values()].map((d) => [d.name, d.bytes?.toString()])
    expect(stored.sort()).toEqual([
      ['a.zip', 'ay'],
      ['b.zip', 'bee']
    ])
    expect(fake.outputs.count).toBe('2')
    expect(fake.outputs.urls).toBe(`${repo.htmlUrl('a.zip')}\n${repo.htmlUrl('b.zip')}`)
    expect(outputs().map((d) => [d.name, d.status])).toEqual([
      ['a.zip', 'created'],
      ['b.zip', 'created']
    ])
    expect(fake.summary[0]).toBe('heading: Downloads for octo/demo: published')
    expect(http.closed).toBe(true)
    // The journal and its folder are gone: nothing for the post step.
    expect(await leftInRunnerTemp()).toEqual([])
  })

  it('on a re-run with the same bytes changes nothing and reports the downloads unchanged', async () => {
    await write('dist/a.zip', 'ay')
    await write('dist/b.zip', 'bee')
    await run()
    const first = outputs()
    http.requests.length = 0
    fake.reset(fake.inputs)

    await run()

    expect(fake.failed).toEqual([])
    expect(changes()).toEqual([])
    expect(outputs()).toEqual(first.map((d) => ({ ...d, status: 'unchanged' })))
    expect(fake.summary[fake.summary.length - 1]).toMatch(
      /^raw: 0 files uploaded, .*; 2 unchanged$/
    )
  })

  it('replaces a download left without bytes by an earlier run, without replace-existing', async () => {
    repo.seed('a.zip', undefined)
    await write('dist/a.zip', 'ay')

    await run()

    expect(fake.failed).toEqual([])
    expect([...repo.downloads.values()].map((d) => [d.id, d.name, d.bytes?.toString()])).toEqual([
      [2, 'a.zip', 'ay']
    ])
    expect(outputs().map((d) => d.status)).toEqual(['replaced'])
  })

  it('fails on a bad input before any request', async () => {
    fake.inputs.concurrency = '0'
    await run()
    expect(fake.failed).toEqual([
      "Input 'concurrency' must be a whole number from 1 to 32; got '0'."
    ])
    expect(created).toBe(0)
  })

  it('fails when no file matches, naming the patterns and the workspace', async () => {
    await run()
    expect(fake.failed).toEqual([
      `No files matched 'dist/*.zip' in ${workspace}. Check the 'glob' input and that the build step wrote its files there.`
    ])
    expect(created).toBe(0)
  })

  it('only warns when no file matches and if-no-files-found is warn', async () => {
    fake.inputs['if-no-files-found'] = 'warn'
    await run()
    expect(fake.failed).toEqual([])
    expect(fake.log.filter((l) => l.startsWith('warning:'))).toHaveLength(1)
    expect(fake.outputs).toEqual({
      urls: '',
      downloads: '[]',
      count: '0',
      'downloads-file': expect.any(String)
    })
  })

  it('changes nothing when a name clashes and replace-existing is off', async () => {
    repo.seed('a.zip', Buffer.from('old'))
    await write('dist/a.zip', 'new')
    await write('dist/b.zip', 'bee')

    await run()

    expect(fake.failed).toEqual([
      "1 download already exists in octo/demo with the same name and other bytes: a.zip. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files."
    ])
    expect(changes()).toEqual([])
    expect(repo.byName('a.zip')?.bytes?.toString()).toBe('old')
  })

  it('on a dry run reports the plan and changes nothing', async () => {
    repo.seed('a.zip', Buffer.from('old'))
    fake.inputs['dry-run'] = 'true'
    fake.inputs['replace-existing'] = 'true'
    await write('dist/a.zip', 'new')
    await write('dist/b.zip', 'bee')

    await run()

    expect(fake.failed).toEqual([])
    expect(changes()).toEqual([])
    expect(fake.summaryEntries()).toContain(
      'table: File | Size | Action\na.zip | 3 B | replace download 1\nb.zip | 3 B | create'
    )
    expect(fake.outputs.count).toBe('0')
  })

  it('publishes the other files when one fails, and fails the step naming it', async () => {
    await write('dist/a.zip', 'ay')
    await write('dist/b.zip', 'bee')
    http.onEvery('POST', repo.s3Url, (request) =>
      request.text.includes('name="Filename"\r\n\r\nb.zip')
        ? s3Error(403, 'AccessDenied', 'Access Denied')
        : repo.handle(request)
    )

    await run()

    expect(fake.failed).toEqual(['b.zip: S3 refused b.zip: AccessDenied: Access Denied'])
    expect([...repo.downloads.values()].map((d) => d.name)).toEqual(['a.zip'])
    expect(fake.outputs.count).toBe('1')
    expect(fake.summary).toContain('heading: Not published')
  })

  it('names at most 20 files left half-done in its warning, and lists them all in the log', async () => {
    for (let i = 0; i < 25; i++) await write(`dist/f${String(i).padStart(2, '0')}.zip`, `f${i}`)
    // S3 refuses every upload and the record cannot be deleted again: each name is left
    // half-done, for the post step.
    http.onEvery('POST', repo.s3Url, () => s3Error(403, 'AccessDenied', 'Access Denied'))
    http.onEvery(
      'DELETE',
      (url: string) => url.startsWith(`${repo.base}/`),
      () => json(403, { message: 'Forbidden' })
    )

    await run()

    const warning = fake.log.find((line) => line.startsWith('warning: Left half-done'))
    expect(warning).toContain('f19.zip, … and 5 more (all 25 in the log)')
    expect(warning).not.toContain('f24.zip')
    expect(fake.log).toContain('info:   f24.zip')
  })

  it('fails a file whose download somebody else deleted after its bytes landed, checking page by page', async () => {
    await write('dist/a.zip', 'ay')
    await write('dist/b.zip', 'bee')
    await write('dist/c.zip', 'sea')
    const isList = (url: string) => url.startsWith(`${repo.base}?`)
    const listed = (request: Parameters<typeof repo.handle>[0]) =>
      JSON.parse(String(repo.handle(request).body)) as { id: number; name: string }[]
    const page2 = `${repo.base}?per_page=100&page=2`
    let deleted: number | undefined
    http.on(
      'GET',
      isList,
      // The plan's listing: nothing there yet.
      (request) => repo.handle(request),
      // The check after the uploads: b.zip was deleted meanwhile, and the list comes in two pages.
      (request) => {
        const b = [...repo.downloads.values()].find((d) => d.name === 'b.zip')
        if (b !== undefined) repo.downloads.delete((deleted = b.id))
        return json(200, listed(request).slice(0, 1), { link: `<${page2}>; rel="next"` })
      },
      (request) => json(200, listed(request).slice(1))
    )

    await run()

    expect(http.sent('GET', repo.base).map((r) => r.url)).toEqual([
      `${repo.base}?per_page=100`,
      `${repo.base}?per_page=100`,
      page2,
      // Not listed: asked for by itself before it is called gone.
      `${repo.base}/${deleted}`
    ])
    expect(fake.failed).toEqual([
      expect.stringMatching(
        /^b\.zip: its bytes landed, but download \d+ was deleted since by somebody else/
      )
    ])
    expect(outputs().map((d) => d.name)).toEqual(['a.zip', 'c.zip'])
    expect(fake.outputs.count).toBe('2')
  })

  it("keeps the listing's word when the server cannot look up one download", async () => {
    await write('dist/a.zip', 'ay')
    await write('dist/b.zip', 'bee')
    http.on(
      'GET',
      (url: string) => url.startsWith(`${repo.base}?`),
      (request) => repo.handle(request),
      (request) => {
        const b = [...repo.downloads.values()].find((d) => d.name === 'b.zip')
        if (b !== undefined) repo.downloads.delete(b.id)
        return repo.handle(request)
      }
    )
    http.on('GET', (url: string) => url.startsWith(`${repo.base}/`), json(405, { message: 'No' }))

    await run()

    expect(fake.failed).toEqual([
      expect.stringMatching(/^b\.zip: its bytes landed, but download \d+ was deleted since/)
    ])
    expect(outputs().map((d) => d.name)).toEqual(['a.zip'])
  })

  it('does not call a download gone that moved onto a page already read while the list was paged', async () => {
    await write('dist/a.zip', 'ay')
    await write('dist/b.zip', 'bee')
    const other = repo.seed('other.zip', Buffer.from('other'))
    const isList = (url: string) => url.startsWith(`${repo.base}?`)
    const listed = (request: Parameters<typeof repo.handle>[0]) =>
      JSON.parse(String(repo.handle(request).body)) as { id: number; name: string }[]
    const page2 = `${repo.base}?per_page=100&page=2`
    http.on(
      'GET',
      isList,
      (request) => repo.handle(request),
      // Page 1 of the final check: other.zip and the first of this run's downloads.
      (request) => json(200, listed(request).slice(0, 2), { link: `<${page2}>; rel="next"` }),
      // Somebody deletes other.zip before page 2 is read: everything moves up one place, and
      // the second of this run's downloads is on page 1 now, which was read already.
      (request) => {
        repo.downloads.delete(other.id)
        return json(200, listed(request).slice(2))
      }
    )

    await run()

    expect(fake.failed).toEqual([])
    expect(
      outputs()
        .map((d) => d.name)
        .sort()
    ).toEqual(['a.zip', 'b.zip'])
    expect(fake.outputs.count).toBe('2')
  })

  it('gives each failed file one error, the last of which fails the step', async () => {
    await write('dist/a.zip', 'ay')
    await write('dist/b.zip', 'bee')
    http.onEvery('POST', repo.s3Url, s3Error(403, 'AccessDenied', 'Access Denied'))

    await run()

    expect(fake.log.filter((l) => l.startsWith('error:'))).toEqual([
      'error: a.zip: S3 refused a.zip: AccessDenied: Access Denied'
    ])
    expect(fake.failed).toEqual(['b.zip: S3 refused b.zip: AccessDenied: Access Denied'])
    expect(repo.downloads.size).toBe(0)
  })
})

describe('runPost', () => {
  const OLD = 'previous bytes'
  const md5 = (text: string) => createHash('md5').update(text).digest('hex')

  /** A main step's folder as a kill left it: its journal, and the copies it names. */
  async function leftBehind(entries: JournalEntry[], copies: Record<string, string> = {}) {
    const dir = path.join(runnerTemp, 'upload-downloads-killed')
    await mkdir(dir)
    for (const [name, content] of Object.entries(copies)) {
      await writeFile(path.join(dir, name), content)
    }
    const journal = path.join(dir, 'journal.jsonl')
    await writeFile(journal, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''))
    fake.state.journal = journal
    return dir
  }

  it('after a clean run says that nothing was left half-done, asking the server nothing', async () => {
    await write('dist/a.zip', 'ay')
    await run()
    http.requests.length = 0

    await runPost()

    expect(fake.failed).toEqual([])
    expect(fake.log).toContain('info: Post step: the main step left nothing half-done.')
    expect(http.requests).toEqual([])
  })

  it('puts back a replaced download from its saved copy when the main step was killed', async () => {
    const dir = await leftBehind(
      [
        { op: 'run', repository: 'octo/demo', at: '2024-05-01T12:00:00.000Z' },
        {
          op: 'delete',
          name: 'a.zip',
          id: 7,
          description: 'v1',
          contentType: 'application/zip',
          copy: path.join(runnerTemp, 'upload-downloads-killed', 'previous-7'),
          size: OLD.length,
          md5: md5(OLD)
        },
        { op: 'deleted', name: 'a.zip', id: 7 },
        { op: 'create', name: 'a.zip', size: 2 }
      ],
      { 'previous-7': OLD }
    )
    // The kill came after the new record was made and before its bytes landed.
    repo.seed('a.zip', undefined)

    await runPost()

    expect(fake.failed).toEqual([])
    expect(
      [...repo.downloads.values()].map((d) => [d.name, d.description, d.bytes?.toString()])
    ).toEqual([['a.zip', 'v1', OLD]])
    expect(fake.log).toContainEqual(
      expect.stringMatching(
        /^info: a\.zip: deleted 1 record without bytes; put back the previous version from its saved copy \(download \d+\)$/
      )
    )
    expect(fake.summary[0]).toBe(
      'heading: Downloads for octo/demo: the post step settled what the main step left half-done'
    )
    await expect(readdir(dir)).rejects.toThrow('ENOENT')
  })

  it('leaves a download whose new bytes landed after all as it is', async () => {
    await leftBehind([
      { op: 'create', name: 'a.zip', size: 2 },
      { op: 'created', name: 'a.zip', id: 1 }
    ])
    repo.seed('a.zip', Buffer.from('ay'))

    await runPost()

    expect(fake.failed).toEqual([])
    expect(changes()).toEqual([])
    expect(fake.log).toContain('info: a.zip: whole: download 1 holds its bytes')
  })

  it('fails the post step, naming the file, when a saved copy is gone', async () => {
    await leftBehind([
      {
        op: 'delete',
        name: 'a.zip',
        id: 7,
        description: '',
        contentType: 'application/zip',
        copy: path.join(runnerTemp, 'upload-downloads-killed', 'previous-7'),
        size: OLD.length,
        md5: md5(OLD)
      },
      { op: 'deleted', name: 'a.zip', id: 7 }
    ])

    await runPost()

    expect(fake.failed).toEqual([
      `a.zip: download 7 was deleted and its saved copy at ${path.join(runnerTemp, 'upload-downloads-killed', 'previous-7')} is gone: it cannot be put back`
    ])
  })
})
