import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import type { Emulator } from '../../emulator/index.js'
import { startEmulator } from './helpers.js'
import { S3Client, encodeKeySegment, signV2 } from '../../emulator/s3-client.js'
import { signPolicy } from '../../emulator/policy.js'
import { startFakeStore, type FakeStore } from './fake-store.js'
import { REPO, api, createDownload } from './helpers.js'

/**
 * `externalS3`: the API side hands uploads out to another S3 store. Here a fake store stands
 * in; `npm run test:ceph` runs the action against Ceph's gateway this way.
 */
let store: FakeStore
let emulator: Emulator

beforeEach(async () => {
  store = await startFakeStore()
  emulator = await startEmulator({ externalS3: store.config })
})

afterEach(async () => {
  await emulator.close()
  await store.close()
})

const KEY = `downloads/${REPO}/app.zip`
const md5 = (bytes: Buffer | string) => createHash('md5').update(bytes).digest('hex')
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex')
/** As if the action's upload had landed: the object, written straight into the store. */
const land = (key: string, bytes: string) =>
  new S3Client(store.config).put(key, Buffer.from(bytes), 'application/zip')

describe('create', () => {
  it('signs a JSON policy for the store’s bucket, a condition for every field, the exact size', async () => {
    const ticket = await createDownload(emulator, 'app.zip', 5)

    expect(emulator.s3Url).toBe(`${store.config.endpoint}/fake-bucket/`)
    expect(ticket.s3_url).toBe(`${store.config.endpoint}/fake-bucket/`)
    expect(ticket).toMatchObject({
      bucket: 'fake-bucket',
      accesskeyid: 'FAKEACCESSKEY',
      path: KEY,
      acl: 'private'
    })
    expect(ticket.signature).toBe(signPolicy(store.config.secretAccessKey, ticket.policy))
    const policy = JSON.parse(Buffer.from(ticket.policy, 'base64').toString('utf8')) as {
      expiration: string
      conditions: unknown[]
    }
    expect(policy.conditions).toEqual([
      { bucket: 'fake-bucket' },
      { key: KEY },
      { acl: 'private' },
      { success_action_status: '201' },
      ['starts-with', '$Filename', ''],
      ['starts-with', '$Content-Type', ''],
      ['content-length-range', 5, 5]
    ])
    expect(new Date(policy.expiration).getTime()).toBeGreaterThan(Date.now())
  })

  it('clears the key on the store, so a new download starts without bytes', async () => {
    await land(KEY, 'stale')
    await createDownload(emulator, 'app.zip', 5)
    expect(store.objects.has(KEY)).toBe(false)
    expect(store.requests).toContain(`DELETE /fake-bucket/${KEY}`)
  })

  it('the badSignature fault signs with a secret the store does not know', async () => {
    emulator.faults.inject({ hop: 'create', badSignature: true })
    const ticket = await createDownload(emulator, 'app.zip', 5)
    expect(ticket.signature).not.toBe(signPolicy(store.config.secretAccessKey, ticket.policy))
    expect(emulator.faults.injected).toEqual({ 'create:badSignature': 1 })
  })
})

describe('uploaded or not: the store says', () => {
  it('lists a download with size 0 until the store holds its object with the declared size', async () => {
    const ticket = await createDownload(emulator, 'app.zip', 5)
    const size = async () =>
      ((await api(emulator, `/repos/${REPO}/downloads`)).body as { size: number }[])[0]?.size

    expect(await size()).toBe(0)
    await land(KEY, 'four')
    expect(await size()).toBe(0)
    await land(KEY, 'right')
    expect(await size()).toBe(5)
    const single = await api(emulator, `/repos/${REPO}/downloads/${ticket.id}`)
    expect(single.body).toMatchObject({ size: 5 })
    // The positive answer is kept: no more HEADs for it.
    const heads = store.requests.filter((r) => r.startsWith('HEAD')).length
    await api(emulator, `/repos/${REPO}/downloads`)
    expect(store.requests.filter((r) => r.startsWith('HEAD'))).toHaveLength(heads)
  })

  it('refresh() makes downloads() tell what the store holds, hashes and all', async () => {
    await createDownload(emulator, 'app.zip', 5)
    await createDownload(emulator, 'empty.zip', 3)
    await land(KEY, 'right')

    await emulator.refresh()

    expect(emulator.downloads(REPO).map((d) => [d.name, d.uploaded, d.size, d.sha256])).toEqual([
      ['app.zip', true, 5, sha256('right')],
      ['empty.zip', false, 0, undefined]
    ])
    expect(emulator.downloads(REPO)[0].md5).toBe(md5('right'))
  })

  it('seeds into the store, and answers nothing about them before they are there', async () => {
    for (let i = 0; i < 20; i++) emulator.seed(REPO, { name: `s${i}.txt`, content: `seed ${i}` })
    const listed = (await api(emulator, `/repos/${REPO}/downloads?per_page=100`)).body as {
      name: string
      size: number
    }[]
    expect(listed).toHaveLength(20)
    for (let i = 0; i < 20; i++) {
      expect(store.objects.get(`downloads/${REPO}/s${i}.txt`)?.toString()).toBe(`seed ${i}`)
    }
    expect(listed.every((d) => d.size > 0)).toBe(true)
  })
})

describe('html_url and delete', () => {
  it('redirects a GET and a HEAD to URLs presigned for that method', async () => {
    emulator.seed(REPO, { name: 'read me.txt', content: 'the bytes' })
    const htmlUrl = `${emulator.apiUrl}/downloads/${REPO}/read%20me.txt`

    const get = await fetch(htmlUrl, { redirect: 'manual' })
    const location = get.headers.get('location') ?? ''
    expect(get.status).toBe(302)
    expect(location).toMatch(
      new RegExp(
        `^${store.config.endpoint}/fake-bucket/downloads/octocat/hello-world/read%20me\\.txt\\?AWSAccessKeyId=FAKEACCESSKEY&Expires=\\d+&Signature=[^&]+&response-content-disposition=`
      )
    )
    const served = await fetch(htmlUrl)
    expect(await served.text()).toBe('the bytes')
    // Saved, not shown: an uploaded page does not run on the store's origin.
    expect(served.headers.get('content-disposition')).toBe(
      "attachment; filename*=UTF-8''read%20me.txt"
    )
    expect(new URL(location).searchParams.get('response-content-disposition')).toBe(
      "attachment; filename*=UTF-8''read%20me.txt"
    )
    const head = await fetch(htmlUrl, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe('9')
    // A GET's URL does not answer a HEAD: the method is signed.
    expect((await fetch(location, { method: 'HEAD' })).status).toBe(403)
  })

  it('a download without bytes: its html_url leads to the store’s 404', async () => {
    await createDownload(emulator, 'app.zip', 5)
    const res = await fetch(`${emulator.apiUrl}/downloads/${REPO}/app.zip`, { method: 'HEAD' })
    expect(res.status).toBe(404)
  })

  it('a delete removes the object from the store too', async () => {
    const seeded = emulator.seed(REPO, { name: 'app.zip', content: 'bytes' })
    const answer = await api(emulator, `/repos/${REPO}/downloads/${seeded.id}`, {
      method: 'DELETE'
    })
    expect(answer.status).toBe(204)
    expect(store.objects.has(KEY)).toBe(false)
  })
})

describe('what the emulator cannot do when the uploads go past it', () => {
  it('refuses S3 fault rules, the bandwidth limit and the upload waits, saying why', () => {
    expect(() => emulator.faults.inject({ hop: 's3', status: 503 })).toThrow(
      /cannot hit: with externalS3/
    )
    expect(() => emulator.faults.inject({ hop: 'download', s3Code: 'InternalError' })).toThrow(
      /cannot hit/
    )
    expect(() => emulator.setUploadBandwidth(1024)).toThrow(/not available with externalS3/)
    expect(() => emulator.whenUploadReceived('a', 1)).toThrow(/not available with externalS3/)
    expect(() => emulator.whenCommitted('s3')).toThrow(/not available with externalS3/)
    // Lifting a limit that cannot be set is fine.
    expect(() => emulator.setUploadBandwidth(null)).not.toThrow()
  })

  it('does not start its own S3 server', () => {
    expect(emulator.s3Url.startsWith(store.config.endpoint)).toBe(true)
  })
})

describe('the S3 client', () => {
  it('signs as AWS’s signature-version-2 example does', () => {
    // AWS "Signing and Authenticating REST Requests", the GET Object example.
    expect(
      signV2(
        'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg'
      )
    ).toBe('bWq2s1WEIj+Ydj0vQ697zp+IXMU=')
  })

  it("percent-encodes a key's segments strictly, keeping the slashes", () => {
    expect(encodeKeySegment("x!'()*+ é.bin")).toBe('x%21%27%28%29%2A%2B%20%C3%A9.bin')
    const client = new S3Client(store.config)
    expect(client.objectUrl('a/b c/d')).toBe(`${store.config.endpoint}/fake-bucket/a/b%20c/d`)
  })

  it('refuses an endpoint that is not http(s) and a bucket name S3 would not take', () => {
    expect(() => new S3Client({ ...store.config, endpoint: 'ftp://x' })).toThrow(/http\(s\)/)
    expect(() => new S3Client({ ...store.config, bucket: 'No_Such' })).toThrow(/bucket name/)
  })
})
