/**
 * The hooks the action's end-to-end tests use to hit exact moments: commits, held answers,
 * upload progress and the upload bandwidth limit.
 */
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Emulator } from '../../emulator/index.js'
import {
  BOUNDARY,
  REPO,
  api,
  createDownload,
  eventually,
  multipartBody,
  postForm,
  rawRequest,
  specParts,
  type HttpAnswer,
  type Ticket,
  rawCreate,
  emulatorPerTest,
  startEmulator
} from './helpers.js'

const MiB = 1024 * 1024
let emulator: Emulator
emulatorPerTest(
  (started) => (emulator = started),
  () => emulator
)

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
    await expect(rawCreate(emulator, 'lost.txt')).rejects.toThrow()
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
    const answer = rawCreate(emulator, 'held.txt')
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
    await expect(rawCreate(emulator, 'both.txt')).rejects.toThrow()
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

/** The spec's form around a file of `size` bytes, streamed; `sent()` says how much went out. */
function streamUpload(
  emulator: Emulator,
  ticket: Ticket,
  size: number
): { answer: Promise<HttpAnswer>; sent: () => number; abort: () => void } {
  const marker = 'FILE-CONTENT-MARKER'
  const form = multipartBody(specParts(ticket, marker))
  const at = form.indexOf(marker)
  const head = form.subarray(0, at)
  const tail = form.subarray(at + marker.length)
  let sent = 0
  const chunk = Buffer.alloc(64 * 1024, 7)
  const body = Readable.from(
    (function* () {
      sent += head.length
      yield head
      for (let left = size; left > 0; left -= chunk.length) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
        sent += piece.length
        yield piece
      }
      yield tail
    })()
  )
  const client = request(emulator.s3Url, {
    method: 'POST',
    agent: false,
    headers: {
      'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`,
      'Content-Length': String(head.length + size + tail.length)
    }
  })
  const answer = new Promise<HttpAnswer>((resolve, reject) => {
    client.on('response', (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: {}, body: '' }))
    })
    client.on('error', reject)
  })
  body.pipe(client)
  return {
    answer,
    sent: () => sent,
    abort: () => {
      body.destroy()
      // A reset, not a FIN: a FIN would reach the server only after the bytes ahead of it.
      client.socket?.resetAndDestroy()
      client.destroy()
    }
  }
}

describe('whenUploadReceived', () => {
  it('resolves mid-upload, and at once for what an upload already received', async () => {
    await emulator.close()
    emulator = await startEmulator({ uploadBytesPerSecond: 256 * 1024 })
    const content = Buffer.alloc(512 * 1024, 1)
    const ticket = await createDownload(emulator, 'progress.bin', content.length)
    const started = Date.now()
    const answer = postForm(emulator, specParts(ticket, content))
    await emulator.whenUploadReceived('progress.bin', 128 * 1024)
    // At 256 KiB/s, 384 KiB are still to come: the upload cannot have finished.
    expect(emulator.requests.at(-1)).toMatchObject({ hop: 's3', status: 0, committed: false })
    expect(emulator.downloads(REPO)[0]?.uploaded).toBe(false)
    expect((await answer).status).toBe(201)
    // The option paces it: 512 KiB at 256 KiB/s take about 2 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500)
    await emulator.whenUploadReceived('progress.bin', content.length)
    await expect(
      emulator.whenUploadReceived('progress.bin', content.length + 1, 50)
    ).rejects.toThrow(
      `no S3 POST for "progress.bin" received ${content.length + 1} bytes of its file within 50 ms (the most was ${content.length})`
    )
  })

  it('rejects on timeout and on bad arguments; only accepted forms count', async () => {
    const ticket = await createDownload(emulator, 'refused.bin', 5)
    const refused = specParts(ticket, 'hello').map((part) =>
      part.name === 'Signature' ? { ...part, value: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } : part
    )
    expect((await postForm(emulator, refused)).status).toBe(403)
    await expect(emulator.whenUploadReceived('refused.bin', 0, 50)).rejects.toThrow(
      'no upload of it started'
    )
    await expect(emulator.whenUploadReceived('refused.bin', -1)).rejects.toThrow(RangeError)
    expect((await postForm(emulator, specParts(ticket, 'hello'))).status).toBe(201)
    await emulator.whenUploadReceived('refused.bin', 5)
  })
})

describe('upload bandwidth', () => {
  it('reads a 4 MiB upload at 1 MiB/s in about 4 s; a change applies to later uploads', async () => {
    const content = Buffer.alloc(4 * MiB, 3)
    const ticket = await createDownload(emulator, 'slow.bin', content.length)
    emulator.setUploadBandwidth(MiB)
    const started = Date.now()
    const answer = postForm(emulator, specParts(ticket, content))
    await emulator.whenUploadReceived('slow.bin', 0)
    emulator.setUploadBandwidth(null)
    const done = await answer
    expect(done.status).toBe(201)
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500)
    expect(emulator.downloads(REPO)[0]).toMatchObject({ size: content.length, md5: md5(content) })

    // Unlimited again for the next one.
    const fast = await createDownload(emulator, 'fast.bin', 5)
    expect((await postForm(emulator, specParts(fast, 'quick'))).status).toBe(201)
  })

  it('slows the client through TCP flow control instead of buffering the body', async () => {
    emulator.setUploadBandwidth(4 * MiB)
    const size = 128 * MiB
    const ticket = await createDownload(emulator, 'huge.bin', size)
    const upload = streamUpload(emulator, ticket, size)
    upload.answer.catch(() => undefined)
    await emulator.whenUploadReceived('huge.bin', 4 * MiB)
    // What the client got out is what the kernel's buffers and the server's 1 MiB stream
    // buffer hold beyond what was read: about 10 MiB here, far from all of it.
    expect(upload.sent()).toBeLessThan(64 * MiB)
    upload.abort()
    // The partial upload is dropped once the reads reach the reset; nothing is kept.
    await eventually(
      async () => (await readdir(join(emulator.storageDir, '.incoming'))).length === 0
    )
    expect(emulator.downloads(REPO)[0]?.uploaded).toBe(false)
  })

  it('refuses rates that are not positive numbers', async () => {
    expect(() => emulator.setUploadBandwidth(0)).toThrow(RangeError)
    expect(() => emulator.setUploadBandwidth(Number.NaN)).toThrow(RangeError)
    await expect(startEmulator({ uploadBytesPerSecond: -5 })).rejects.toThrow(RangeError)
  })
})
