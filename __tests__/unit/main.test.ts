import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { ACTION_DEFAULTS, createCoreFake } from '../helpers/core-fake.js'
import { FakeHttp, s3Error } from '../helpers/fake-http.js'
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
const { run } = await import('../../src/main.js')

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

describe('run', () => {
  it('publishes every matched file, sets the outputs and the summary, and cleans up', async () => {
    await write('dist/b.zip', 'bee')
    await write('dist/a.zip', 'ay')
    await write('dist/notes.txt', 'not matched')

    await run()

    expect(fake.failed).toEqual([])
    expect([...repo.downloads.values()].map((d) => [d.name, d.bytes?.toString()])).toEqual([
      ['a.zip', 'ay'],
      ['b.zip', 'bee']
    ])
    expect(fake.outputs.count).toBe('2')
    expect(fake.outputs.urls).toBe(`${repo.htmlUrl('a.zip')}\n${repo.htmlUrl('b.zip')}`)
    expect(fake.summary[0]).toBe('heading: Downloads for octo/demo: published')
    expect(http.closed).toBe(true)
    expect(await readdir(runnerTemp)).toEqual([])
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
    expect(fake.outputs).toEqual({ urls: '', downloads: '[]', count: '0' })
  })

  it('changes nothing when a name clashes and replace-existing is off', async () => {
    repo.seed('a.zip', Buffer.from('old'))
    await write('dist/a.zip', 'new')
    await write('dist/b.zip', 'bee')

    await run()

    expect(fake.failed).toEqual([
      "1 download already exists in octo/demo with the same name: a.zip. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files."
    ])
    expect(http.requests.map((r) => r.method)).toEqual(['GET'])
  })

  it('on a dry run reports the plan and changes nothing', async () => {
    repo.seed('a.zip', Buffer.from('old'))
    fake.inputs['dry-run'] = 'true'
    fake.inputs['replace-existing'] = 'true'
    await write('dist/a.zip', 'new')
    await write('dist/b.zip', 'bee')

    await run()

    expect(fake.failed).toEqual([])
    expect(http.requests.map((r) => r.method)).toEqual(['GET'])
    expect(fake.summary).toContain(
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
