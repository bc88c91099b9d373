import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { Artifact } from '../../src/files.js'
import { RateLimitGate } from '../../src/rate-limits.js'
import type { RetryOptions } from '../../src/retry.js'
import { createCoreFake } from '../helpers/core-fake.js'
import { FakeHttp, json, s3Error } from '../helpers/fake-http.js'
import { FakeRepository } from '../helpers/fake-repository.js'
import { rejectionOf } from '../helpers/rejection.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const { DownloadsApi } = await import('../../src/downloads-api.js')
const { Publisher } = await import('../../src/publish.js')

let root: string
let tempDir: string
let repo: FakeRepository
let http: FakeHttp

beforeEach(async () => {
  fake.reset()
  root = await mkdtemp(path.join(tmpdir(), 'publish-test-'))
  tempDir = path.join(root, 'runner-temp')
  await mkdir(tempDir)
  repo = new FakeRepository()
  http = new FakeHttp().fallback(repo.handle)
})

afterEach(async () => {
  await rm(root, { recursive: true, force: true })
  expect(http.unused()).toEqual([])
})

const retry: RetryOptions = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0, sleep: async () => {} }

function publisher(onProgress?: (artifact: Artifact, sent: number) => void) {
  const api = new DownloadsApi(
    http,
    { apiUrl: repo.apiUrl, token: 'tkn', owner: repo.owner, repo: repo.repo },
    retry,
    new RateLimitGate({ maxWaitMs: 0 })
  )
  return new Publisher({ api, http, retry, description: 'Nightly build', tempDir, onProgress })
}

async function artifact(name: string, content: string): Promise<Artifact> {
  const file = path.join(root, name)
  await writeFile(file, content)
  return { path: file, name, size: Buffer.byteLength(content), contentType: 'application/zip' }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
const trace = () => http.requests.map((r) => `${r.method} ${r.url}`)
const slowDown = () => s3Error(503, 'SlowDown', 'Please reduce your request rate.')
const S3_DENIED = s3Error(403, 'AccessDenied', 'Access Denied')

describe('Publisher.publish, a new file', () => {
  it('creates the download and puts its bytes on S3', async () => {
    const sent: number[] = []
    const file = await artifact('app.zip', 'new bytes')

    const result = await publisher((_a, n) => sent.push(n)).publish({ artifact: file })

    expect(result).toEqual({
      artifact: file,
      download: expect.objectContaining({ id: 1, name: 'app.zip', size: 9 }),
      mimeType: 'application/zip',
      sha256: sha256('new bytes'),
      md5: createHash('md5').update('new bytes').digest('hex')
    })
    expect(result.replaced).toBeUndefined()
    expect(repo.byName('app.zip')?.bytes?.toString()).toBe('new bytes')
    expect(repo.byName('app.zip')?.description).toBe('Nightly build')
    expect(sent[sent.length - 1]).toBe(9)
  })

  it('deletes the download it created when the upload fails', async () => {
    http.on('POST', repo.s3Url, S3_DENIED)
    const file = await artifact('app.zip', 'new bytes')

    await expect(publisher().publish({ artifact: file })).rejects.toThrow(
      'S3 refused app.zip: AccessDenied: Access Denied'
    )

    expect(repo.downloads.size).toBe(0)
    expect(trace()).toEqual([`POST ${repo.base}`, `POST ${repo.s3Url}`, `DELETE ${repo.base}/1`])
    expect(fake.log).toContain('info: Deleted download 1 (app.zip): its bytes never arrived.')
  })

  it('retries a busy S3, then gives up and deletes the download', async () => {
    http.on('POST', repo.s3Url, slowDown(), slowDown(), slowDown())
    const file = await artifact('app.zip', 'new bytes')
    await expect(publisher().publish({ artifact: file })).rejects.toThrow(
      'Uploading app.zip to S3 failed: S3 refused app.zip: SlowDown: Please reduce your request rate. (gave up after 3 attempts)'
    )
    expect(repo.downloads.size).toBe(0)
  })

  it('warns, naming the download, when the cleanup delete fails too', async () => {
    http.on('POST', repo.s3Url, S3_DENIED)
    http.on('DELETE', `${repo.base}/1`, json(403, { message: 'Must have admin rights' }))
    const file = await artifact('app.zip', 'new bytes')

    await expect(publisher().publish({ artifact: file })).rejects.toThrow('AccessDenied')

    expect(fake.log.filter((l) => l.startsWith('warning:'))).toEqual([
      expect.stringMatching(
        /^warning: Could not delete download 1 \(app\.zip\), whose bytes never arrived: .*Must have admin rights.*\. Delete it by hand\.$/
      )
    ])
  })

  it('when the policy has expired, deletes the download, creates it again and uploads', async () => {
    http.on(
      'POST',
      repo.s3Url,
      s3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.')
    )
    const file = await artifact('app.zip', 'new bytes')

    const result = await publisher().publish({ artifact: file })

    expect(result.download.id).toBe(2)
    expect([...repo.downloads.keys()]).toEqual([2])
    expect(repo.byName('app.zip')?.bytes?.toString()).toBe('new bytes')
    expect(trace()).toEqual([
      `POST ${repo.base}`,
      `POST ${repo.s3Url}`,
      `DELETE ${repo.base}/1`,
      `POST ${repo.base}`,
      `POST ${repo.s3Url}`
    ])
    // The second form carries the second download's policy (the fake repository checks it).
    expect(http.requests[4].text).toContain('policy-2')
    expect(fake.log).toContain(
      'info: The upload policy for app.zip expired: creating the download again.'
    )
  })
})

describe('Publisher.publish, replacing a download', () => {
  const OLD = 'old release bytes'

  it('saves a copy, deletes the old download, creates the new one, then drops the copy', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1')
    const file = await artifact('app.zip', 'new bytes')

    const result = await publisher().publish({ artifact: file, replaces: old })

    expect(result.replaced).toEqual(old)
    expect(result.download.id).toBe(2)
    expect([...repo.downloads.values()].map((d) => [d.id, d.name, d.bytes?.toString()])).toEqual([
      [2, 'app.zip', 'new bytes']
    ])
    expect(trace()).toEqual([
      `GET ${old.htmlUrl}`,
      `GET ${repo.s3Url}downloads/octo/demo/app.zip`,
      `DELETE ${repo.base}/1`,
      `POST ${repo.base}`,
      `POST ${repo.s3Url}`
    ])
    expect(await readdir(tempDir)).toEqual([])
  })

  it('puts the old download back, name, description and bytes, when the new one cannot land', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1 (stable)')
    http.on('POST', repo.s3Url, slowDown(), slowDown(), slowDown())
    const file = await artifact('app.zip', 'new bytes')

    const error = await rejectionOf<Error>(publisher().publish({ artifact: file, replaces: old }))

    expect(error.message).toBe(
      'Uploading app.zip to S3 failed: S3 refused app.zip: SlowDown: Please reduce your request rate. (gave up after 3 attempts) The previous version of app.zip was restored.'
    )
    const [restored, ...others] = repo.downloads.values()
    expect(others).toEqual([])
    expect(restored).toMatchObject({ name: 'app.zip', description: 'v1 (stable)' })
    expect(restored.bytes?.toString()).toBe(OLD)
    const creates = http.sent('POST', repo.base).filter((r) => r.url === repo.base)
    expect(JSON.parse(creates[creates.length - 1].text)).toEqual({
      name: 'app.zip',
      size: OLD.length,
      description: 'v1 (stable)',
      content_type: 'application/zip'
    })
    expect(await readdir(tempDir)).toEqual([])
  })

  it('keeps the saved copy and says where it is when restoring fails too', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1')
    http.on('POST', repo.s3Url, S3_DENIED, S3_DENIED)
    const file = await artifact('app.zip', 'new bytes')

    const error = await rejectionOf<Error>(publisher().publish({ artifact: file, replaces: old }))

    const copy = path.join(tempDir, 'previous-1-app.zip')
    expect(error.message).toBe(
      `S3 refused app.zip: AccessDenied: Access Denied Restoring the previous version of app.zip failed too (S3 refused app.zip: AccessDenied: Access Denied); its bytes are at ${copy} until the job ends.`
    )
    expect(await readFile(copy, 'utf8')).toBe(OLD)
    expect(repo.downloads.size).toBe(0)
  })

  it('keeps the saved copy when restoring fails too, and says where it is', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1')
    // The new upload and the restore's upload are both refused.
    http.on('POST', repo.s3Url, S3_DENIED, S3_DENIED)
    const file = await artifact('app.zip', 'new bytes')

    const error = await rejectionOf(publisher().publish({ artifact: file, replaces: old }))

    expect(repo.downloads.size).toBe(0)
    expect(error.message).toContain('S3 refused app.zip: AccessDenied: Access Denied')
    expect(error.message).toContain('Restoring the previous version of app.zip failed too')
    const copy = path.join(tempDir, 'previous-1-app.zip')
    expect(error.message).toContain(copy)
    expect(await readFile(copy, 'utf8')).toBe(OLD)
  })

  it('asks the server whether a delete that failed happened before restoring', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1')
    http.on('DELETE', `${repo.base}/1`, { status: 500 }, { status: 500 }, { status: 500 })
    const file = await artifact('app.zip', 'new bytes')

    const error = await rejectionOf(publisher().publish({ artifact: file, replaces: old }))

    // The old download is still there, untouched; nothing was created.
    expect(error.message).toMatch(/Deleting download 1 failed/)
    expect(repo.byName('app.zip')?.bytes?.toString()).toBe(OLD)
    expect(repo.downloads.size).toBe(1)
    expect(await readdir(tempDir)).toEqual([])
  })

  it('leaves the old download alone when its copy cannot be saved', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1')
    http.on('GET', old.htmlUrl, { status: 403, body: 'Forbidden' })
    const file = await artifact('app.zip', 'new bytes')

    await expect(publisher().publish({ artifact: file, replaces: old })).rejects.toThrow(
      'Could not save a copy of the existing app.zip before replacing it, so it was left as it is: Fetching the existing app.zip answered 403.'
    )
    expect(http.sent('DELETE')).toEqual([])
    expect(repo.byName('app.zip')?.bytes?.toString()).toBe(OLD)
  })

  it('replaces a download that never had bytes, with nothing to restore', async () => {
    const old = repo.seed('app.zip', undefined, 'unfinished')
    http.on('POST', repo.s3Url, S3_DENIED)
    const file = await artifact('app.zip', 'new bytes')

    await expect(publisher().publish({ artifact: file, replaces: old })).rejects.toThrow(
      /^S3 refused app\.zip: AccessDenied: Access Denied$/
    )
    expect(fake.log).toContain(
      'info: The existing app.zip has no bytes (an unfinished upload): nothing to keep.'
    )
    expect(repo.downloads.size).toBe(0)
  })

  it('does not restore when the old download could not be deleted (it is still there)', async () => {
    const old = repo.seed('app.zip', Buffer.from(OLD), 'v1')
    http.on('DELETE', `${repo.base}/1`, json(403, { message: 'Must have admin rights' }))
    const file = await artifact('app.zip', 'new bytes')

    await expect(publisher().publish({ artifact: file, replaces: old })).rejects.toThrow(
      /^Forbidden \(Must have admin rights\)/
    )
    expect([...repo.downloads.values()].map((d) => [d.id, d.bytes?.toString()])).toEqual([[1, OLD]])
    expect(http.sent('POST')).toEqual([])
    expect(await readdir(tempDir)).toEqual([])
  })
})
