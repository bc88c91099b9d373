/**
 * The hooks the action's end-to-end tests use to hit exact moments: commits and held answers;
 * and HEAD requests, which look without downloading.
 */
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { startEmulator, type Emulator } from '../../emulator/index.js'
import {
  REPO,
  api,
  createDownload,
  postForm,
  rawRequest,
  specParts,
  type HttpAnswer
} from './helpers.js'

let emulator: Emulator

beforeEach(async () => {
  emulator = await startEmulator()
})

afterEach(async () => {
  await emulator.close()
})

/** A create through node's http client, so a dropped connection is an error, not a retry. */
function rawCreate(name: string): Promise<HttpAnswer> {
  return rawRequest(`${emulator.apiUrl}/repos/${REPO}/downloads`, {
    headers: { Authorization: 'token emulator-token', 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify({ name, size: 5 }))
  })
}

function md5(content: Buffer | string): string {
  return createHash('md5').update(content).digest('hex')
}

describe('whenCommitted', () => {
  it('resolves with the request once its work is in the store, and for past commits at once', async () => {
    const committed = emulator.whenCommitted('create', 'b.txt')
    await createDownload(emulator, 'a.txt', 1)
    const b = await createDownload(emulator, 'b.txt', 1)
    const record = await committed
    expect(emulator.requests.indexOf(record)).toBe(1)
    expect(record).toMatchObject({ hop: 'create', status: 201, committed: true })
    // Asked after the fact: the first matching commit.
    expect(await emulator.whenCommitted('create')).toBe(emulator.requests[0])

    const upload = emulator.whenCommitted('s3', 'b.txt')
    expect((await postForm(emulator, specParts(b, 'bytes'))).status).toBe(201)
    expect(await upload).toMatchObject({ origin: 's3', hop: 's3', status: 201, committed: true })

    const removal = emulator.whenCommitted('delete', 'a.txt')
    const a = emulator.downloads(REPO).find((d) => d.name === 'a.txt')
    await api(emulator, `/repos/${REPO}/downloads/${a?.id}`, { method: 'DELETE' })
    expect(await removal).toMatchObject({ hop: 'delete', status: 204, committed: true })
  })

  it('does not count requests that changed nothing', async () => {
    const ticket = await createDownload(emulator, 'dup.txt', 5)
    const duplicate = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      body: { name: 'dup.txt', size: 5 }
    })
    expect(duplicate.status).toBe(422)
    const refused = specParts(ticket, 'hello').map((part) =>
      part.name === 'Signature' ? { ...part, value: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } : part
    )
    expect((await postForm(emulator, refused)).status).toBe(403)
    expect((await api(emulator, `/repos/${REPO}/downloads/999`, { method: 'DELETE' })).status).toBe(
      404
    )
    expect(emulator.requests.map((r) => [r.hop, r.status, r.committed])).toEqual([
      ['create', 201, true],
      ['create', 422, false],
      ['s3', 403, false],
      ['delete', 404, false]
    ])
    await expect(emulator.whenCommitted('s3', 'dup.txt', 50)).rejects.toThrow(
      'no s3 request for "dup.txt" committed within 50 ms'
    )
  })

  it('counts a commit whose answer was lost', async () => {
    emulator.faults.inject({ hop: 'create', resetAfterCommit: true })
    await expect(rawCreate('lost.txt')).rejects.toThrow()
    expect(await emulator.whenCommitted('create', 'lost.txt')).toMatchObject({
      status: 0,
      committed: true,
      fault: 'create:resetAfterCommit'
    })
  })

  it('refuses hops that commit nothing, and rejects pending waits when the emulator closes', async () => {
    // @ts-expect-error: not a hop that commits
    await expect(emulator.whenCommitted('list')).rejects.toThrow(TypeError)
    const pending = expect(emulator.whenCommitted('create', 'never.txt')).rejects.toThrow(
      'the emulator closed'
    )
    await emulator.close()
    await pending
  })
})

describe('holdAfterCommitMs', () => {
  it('creates, then holds the answer', async () => {
    emulator.faults.inject({ hop: 'create', holdAfterCommitMs: 200 })
    const answer = rawCreate('held.txt')
    const record = await emulator.whenCommitted('create', 'held.txt')
    // Stored, not answered yet.
    expect(record).toMatchObject({ status: 0, committed: true, fault: 'create:holdAfterCommit' })
    expect(emulator.downloads(REPO).map((d) => d.name)).toEqual(['held.txt'])
    expect((await answer).status).toBe(201)
    expect(record.status).toBe(201)
    expect(emulator.faults.injected).toEqual({ 'create:holdAfterCommit': 1 })
  })

  it('stores the upload, then holds the answer: the object is served meanwhile', async () => {
    const ticket = await createDownload(emulator, 'held.bin', 5)
    emulator.faults.inject({ hop: 's3', holdAfterCommitMs: 300 })
    const answer = postForm(emulator, specParts(ticket, 'hello'))
    const record = await emulator.whenCommitted('s3', 'held.bin')
    expect(record).toMatchObject({ status: 0, committed: true, fault: 's3:holdAfterCommit' })
    expect(emulator.downloads(REPO)[0]).toMatchObject({ uploaded: true, md5: md5('hello') })
    const served = await fetch(ticket.html_url)
    expect(await served.text()).toBe('hello')
    const done = await answer
    expect(done.status).toBe(201)
    expect(done.headers['etag']).toBe(`"${md5('hello')}"`)
  })

  it('deletes, then drops the answer when the client has gone', async () => {
    const seeded = emulator.seed(REPO, { name: 'bye.txt', content: 'bye' })
    emulator.faults.inject({ hop: 'delete', holdAfterCommitMs: 10 * 60 * 1000 })
    const client = request(`${emulator.apiUrl}/repos/${REPO}/downloads/${seeded.id}`, {
      method: 'DELETE',
      headers: { Authorization: 'token emulator-token' },
      agent: false
    })
    client.on('error', () => undefined)
    client.end()
    const record = await emulator.whenCommitted('delete', 'bye.txt')
    expect(record).toMatchObject({ status: 0, committed: true, fault: 'delete:holdAfterCommit' })
    expect(emulator.downloads(REPO)).toEqual([])
    client.destroy()
    // The emulator goes on serving, and closes without waiting out the hold.
    expect((await api(emulator, `/repos/${REPO}/downloads`)).body).toEqual([])
    await emulator.close()
    expect(record.status).toBe(0)
  })

  it('goes with resetAfterCommit (hold, then drop) but not with answers that do no work', () => {
    expect(() => emulator.faults.inject({ hop: 'list', holdAfterCommitMs: 10 })).toThrow(
      /needs hop create, delete or s3/
    )
    expect(() =>
      emulator.faults.inject({ hop: 'create', holdAfterCommitMs: 10, status: 503 })
    ).toThrow(RangeError)
    expect(() => emulator.faults.inject({ hop: 's3', holdAfterCommitMs: -1 })).toThrow(RangeError)
    emulator.faults.inject({ hop: 'create', holdAfterCommitMs: 10, resetAfterCommit: true })
  })

  it('holds, then resets, with resetAfterCommit', async () => {
    emulator.faults.inject({ hop: 'create', holdAfterCommitMs: 50, resetAfterCommit: true })
    await expect(rawCreate('both.txt')).rejects.toThrow()
    expect(emulator.requests[0]).toMatchObject({
      status: 0,
      committed: true,
      fault: 'create:resetAfterCommit'
    })
    expect(emulator.downloads(REPO).map((d) => d.name)).toEqual(['both.txt'])
  })
})

describe('HEAD', () => {
  it('on an html_url redirects and does not count as a download (a GET does)', async () => {
    const seeded = emulator.seed(REPO, { name: 'count.txt', content: 'count me' })
    const url = `${emulator.apiUrl}/downloads/${REPO}/count.txt`
    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' })
    expect(head.status).toBe(302)
    const count = async (): Promise<unknown> => {
      const got = await api(emulator, `/repos/${REPO}/downloads/${seeded.id}`)
      return (got.body as { download_count: number }).download_count
    }
    expect(await count()).toBe(0)
    expect(await (await fetch(url)).text()).toBe('count me')
    expect(await count()).toBe(1)
  })

  it('on an S3 object answers its ETag, length and type without a body, or 404', async () => {
    const ticket = await createDownload(emulator, 'head.txt', 5)
    const objectUrl = `${emulator.s3Url}${ticket.path}`
    const missing = await rawRequest(objectUrl, { method: 'HEAD' })
    expect({ status: missing.status, body: missing.body }).toEqual({ status: 404, body: '' })

    expect((await postForm(emulator, specParts(ticket, 'hello'))).status).toBe(201)
    const head = await rawRequest(objectUrl, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers).toMatchObject({
      etag: '"5d41402abc4b2a76b9719d911017c592"',
      'content-length': '5',
      'content-type': 'text/plain'
    })
    expect(head.body).toBe('')
  })
})
