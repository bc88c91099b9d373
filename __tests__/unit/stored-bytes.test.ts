import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { Download } from '../../src/downloads-api.js'
import { ApiError, CancelledError, ProtocolError } from '../../src/errors.js'
import { isTransient, type RetryOptions } from '../../src/retry.js'
import { StoredBytes } from '../../src/stored-bytes.js'
import { FakeHttp } from '../helpers/fake-http.js'
import { rejectionOf } from '../helpers/rejection.js'

const page = 'https://ghe.example.test/downloads/octo/demo/app.zip'
const s3 = 'https://s3.example.test/github/downloads/octo/demo/app.zip?Signature=abc'
const existing: Download = {
  id: 4,
  name: 'app.zip',
  description: '',
  size: 0,
  contentType: 'application/zip',
  url: 'https://ghe.example.test/api/v3/repos/octo/demo/downloads/4',
  htmlUrl: page,
  createdAt: '2013-06-24T15:49:14Z'
}
const bytes = Buffer.from('previous release bytes \u0000\u00ff')
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')
const redirect = { status: 302, headers: { location: s3 } }
/** S3's answer for the object: its bytes, their length and their MD5 as a quoted ETag. */
const object = (body: Buffer = bytes, etag = `"${md5(body)}"`) => ({
  status: 200,
  headers: { 'content-length': String(body.length), etag },
  body
})

let dir: string
let http: FakeHttp

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stored-bytes-test-'))
  http = new FakeHttp()
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
  expect(http.unused()).toEqual([])
})

const retry: RetryOptions = { maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0, sleep: async () => {} }
const stored = () => new StoredBytes(http, retry)
const copyPath = () => path.join(dir, 'copy')

describe('StoredBytes.probe', () => {
  it('gives the size and the MD5 from a quoted MD5 ETag, asking with HEAD', async () => {
    http.on('HEAD', page, redirect)
    http.on('HEAD', s3, {
      status: 200,
      headers: { 'content-length': '1234', etag: '"0123456789ABCDEF0123456789abcdef"' }
    })

    expect(await stored().probe(existing)).toEqual({
      size: 1234,
      md5: '0123456789abcdef0123456789abcdef'
    })
    expect(http.requests.map((r) => r.method)).toEqual(['HEAD', 'HEAD'])
  })

  it('gives no MD5 for a multipart upload, whose ETag is not one', async () => {
    http.on('HEAD', page, redirect)
    http.on('HEAD', s3, { status: 200, headers: { 'content-length': '1234', etag: '"abc-2"' } })
    expect(await stored().probe(existing)).toEqual({ size: 1234, md5: null })
  })

  it('answers null when S3 has no object behind the redirect (a record without bytes)', async () => {
    http.on('HEAD', page, redirect)
    http.on('HEAD', s3, { status: 404 })
    expect(await stored().probe(existing)).toBeNull()
  })

  it('throws when the html_url itself answers 404: that says nothing about the bytes', async () => {
    http.on('HEAD', page, { status: 404 })
    const error = await rejectionOf<ApiError>(stored().probe(existing))
    expect(error).toBeInstanceOf(ApiError)
    expect(error.message).toBe(
      'The html_url of app.zip answered 404, so whether it holds bytes cannot be told.'
    )
    expect(http.requests).toHaveLength(1)
  })

  it('takes a 403 behind the redirect as unknown, not as no bytes, and says why', async () => {
    // A public object in a private bucket: Ceph's gateway (and S3) answer 403, not 404, for a
    // missing key to a reader that may not list the bucket.
    http.on('HEAD', page, redirect)
    http.on('HEAD', s3, { status: 403 })
    const error = await rejectionOf<ApiError>(stored().probe(existing))
    expect(error).toBeInstanceOf(ApiError)
    expect(error.message).toBe(
      'Fetching the stored app.zip answered 403. An object store answers 403 for an object it will not show, missing or not, so whether it holds bytes cannot be told.'
    )
    expect(isTransient(error)).toBe(false)
  })

  it('refuses a download listed without an html_url, asking nothing and not retrying', async () => {
    const error = await rejectionOf(stored().probe({ ...existing, htmlUrl: '' }))
    expect(error).toBeInstanceOf(ProtocolError)
    expect(error.message).toBe('The server lists app.zip without an html_url.')
    expect(http.requests).toHaveLength(0)
  })

  it('retries a 5xx', async () => {
    http.on('HEAD', page, { status: 503 }, redirect)
    http.on('HEAD', s3, { status: 200, headers: { 'content-length': '3', etag: '"abc-2"' } })
    expect(await stored().probe(existing)).toEqual({ size: 3, md5: null })
  })
})

describe('StoredBytes.save', () => {
  it('follows the redirect to S3 and writes the bytes, giving their size and MD5', async () => {
    http.on('GET', page, redirect)
    http.on('GET', s3, object())

    expect(await stored().save(existing, copyPath())).toEqual({
      size: bytes.length,
      md5: md5(bytes)
    })
    expect(await readFile(copyPath())).toEqual(bytes)
  })

  it('never sends an Authorization header, to the html_url or to S3', async () => {
    http.on('GET', page, redirect)
    http.on('GET', s3, object())
    http.on('HEAD', page, redirect)
    http.on('HEAD', s3, object())

    await stored().save(existing, copyPath())
    await stored().probe(existing)

    expect(http.requests).toHaveLength(4)
    for (const request of http.requests) expect(request.headers).not.toHaveProperty('authorization')
  })

  it('only measures the bytes when given no destination', async () => {
    http.on('GET', page, redirect)
    http.on('GET', s3, object())
    expect(await stored().save(existing, null)).toEqual({ size: bytes.length, md5: md5(bytes) })
  })

  it('resolves a relative Location against the page', async () => {
    http.on('GET', page, { status: 301, headers: { location: '/storage/app.zip' } })
    http.on('GET', 'https://ghe.example.test/storage/app.zip', object())
    expect(await stored().save(existing, copyPath())).toMatchObject({ size: bytes.length })
  })

  it('answers null when the download has no bytes (404 behind the redirect)', async () => {
    http.on('GET', page, redirect)
    http.on('GET', s3, { status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' })
    expect(await stored().save(existing, copyPath())).toBeNull()
  })

  it('tries again when fewer bytes arrive than announced', async () => {
    const short = { status: 200, headers: { 'content-length': '100' }, body: bytes.subarray(0, 10) }
    http.on('GET', page, short, object())
    expect(await stored().save(existing, copyPath())).toEqual({
      size: bytes.length,
      md5: md5(bytes)
    })
    expect(await readFile(copyPath())).toEqual(bytes)
  })

  it('gives up when the bytes keep falling short, saying how many arrived', async () => {
    const short = { status: 200, headers: { 'content-length': '100' }, body: bytes.subarray(0, 10) }
    http.on('GET', page, short, short, short)
    await expect(stored().save(existing, copyPath())).rejects.toThrow(
      'Saving a copy of app.zip failed: Reading the stored app.zip stopped after 10 of 100 bytes. (gave up after 3 attempts)'
    )
  })

  it("tries again when the bytes do not have the MD5 of S3's ETag", async () => {
    const corrupted = Buffer.from(bytes)
    corrupted[0] ^= 0xff
    http.on('GET', page, object(corrupted, `"${md5(bytes)}"`), object())
    expect(await stored().save(existing, copyPath())).toEqual({
      size: bytes.length,
      md5: md5(bytes)
    })
    expect(await readFile(copyPath())).toEqual(bytes)
  })

  it('gives up when the MD5 keeps differing, naming both', async () => {
    const corrupted = Buffer.from(bytes)
    corrupted[0] ^= 0xff
    const bad = object(corrupted, `"${md5(bytes)}"`)
    http.on('GET', page, bad, bad, bad)
    await expect(stored().save(existing, copyPath())).rejects.toThrow(
      `Saving a copy of app.zip failed: The stored app.zip arrived with MD5 ${md5(corrupted)}, not S3's ETag ${md5(bytes)}. (gave up after 3 attempts)`
    )
  })

  it('accepts bytes under a multipart ETag, which is no MD5 to check', async () => {
    http.on('GET', page, redirect)
    http.on('GET', s3, object(bytes, '"0123456789abcdef0123456789abcdef-3"'))
    expect(await stored().save(existing, copyPath())).toEqual({
      size: bytes.length,
      md5: md5(bytes)
    })
  })

  it('refuses to follow a redirect to plain http on another machine', async () => {
    http.on('GET', page, { status: 302, headers: { location: 'http://s3.example.test/app.zip' } })
    await expect(stored().save(existing, copyPath())).rejects.toThrow(
      "app.zip's bytes are served over plain http (http://s3.example.test); refusing to fetch them."
    )
    expect(http.requests).toHaveLength(1)
  })

  it('stops after five redirects', async () => {
    http.onEvery('GET', page, { status: 302, headers: { location: page } })
    await expect(stored().save(existing, copyPath())).rejects.toThrow(
      'Fetching the stored app.zip was redirected more than 5 times.'
    )
    expect(http.requests).toHaveLength(6)
  })

  it('makes no further attempt once the run is cancelled', async () => {
    const controller = new AbortController()
    http.on('GET', page, () => {
      controller.abort()
      return { status: 503 }
    })
    const error = await rejectionOf(stored().save(existing, copyPath(), controller.signal))
    expect(error).toBeInstanceOf(CancelledError)
    expect(http.requests).toHaveLength(1)
  })

  it('says so when the copy cannot be written, without retrying', async () => {
    http.on('GET', page, object())
    const nowhere = path.join(dir, 'missing-folder', 'copy')
    await expect(stored().save(existing, nowhere)).rejects.toThrow(
      `Could not write the copy to ${nowhere}:`
    )
    expect(http.requests).toHaveLength(1)
  })
})
