import type { Emulator, Hop } from '../../emulator/index.js'
import { mulberry32 } from '../../emulator/faults.js'
import {
  REPO,
  api,
  createDownload,
  postForm,
  rawRequest,
  s3Code,
  specParts,
  rawCreate,
  emulatorPerTest,
  startEmulator
} from './helpers.js'

let emulator: Emulator
emulatorPerTest(
  (started) => (emulator = started),
  () => emulator
)

describe('API faults', () => {
  it('answers a scripted status once, then behaves', async () => {
    emulator.faults.inject({ hop: 'create', status: 503 })
    const failed = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      body: { name: 'a.txt', size: 1 }
    })
    expect(failed).toMatchObject({ status: 503, body: { message: 'Service Unavailable' } })
    expect(failed.headers.get('x-ratelimit-remaining')).not.toBeNull()
    expect(emulator.downloads(REPO)).toEqual([])
    await createDownload(emulator, 'a.txt', 1)
    expect(emulator.faults.injected).toEqual({ 'create:503': 1 })
    expect(emulator.faults.total).toBe(1)
    expect(emulator.requests.map((r) => [r.hop, r.status, r.fault])).toEqual([
      ['create', 503, 'create:503'],
      ['create', 201, undefined]
    ])
  })

  it('hits only its hop and match, `times` times, in the order injected', async () => {
    emulator.faults.inject({
      hop: 'create',
      status: 500,
      times: 2,
      match: (req) => req.name === 'b.txt'
    })
    emulator.faults.inject({ hop: 'create', status: 502, message: 'Bad Gateway!' })
    expect((await api(emulator, `/repos/${REPO}/downloads`)).status).toBe(200)
    const statuses: number[] = []
    for (const name of ['b.txt', 'b.txt', 'b.txt']) {
      const answer = await api(emulator, `/repos/${REPO}/downloads`, {
        method: 'POST',
        body: { name, size: 1 }
      })
      statuses.push(answer.status)
      if (answer.status === 502) expect(answer.body).toEqual({ message: 'Bad Gateway!' })
    }
    expect(statuses).toEqual([500, 500, 502])
    expect(emulator.faults.injected).toEqual({ 'create:500': 2, 'create:502': 1 })
  })

  it('resets the connection before answering', async () => {
    emulator.faults.inject({ hop: 'create', reset: true })
    await expect(rawCreate(emulator, 'r.txt')).rejects.toThrow()
    expect(emulator.downloads(REPO)).toEqual([])
    expect(emulator.requests[0]).toMatchObject({ hop: 'create', status: 0, fault: 'create:reset' })
  })

  it('commits, then loses the answer: the retry meets already_exists', async () => {
    emulator.faults.inject({ hop: 'create', resetAfterCommit: true })
    await expect(rawCreate(emulator, 'c.txt')).rejects.toThrow()
    expect(emulator.downloads(REPO)).toEqual([expect.objectContaining({ name: 'c.txt' })])
    const retry = await rawCreate(emulator, 'c.txt')
    expect(retry.status).toBe(422)
    expect(JSON.parse(retry.body)).toMatchObject({
      errors: [{ resource: 'Download', field: 'name', code: 'already_exists' }]
    })

    emulator.faults.inject({ hop: 'delete', resetAfterCommit: true })
    const id = emulator.downloads(REPO)[0]?.id ?? 0
    await expect(
      rawRequest(`${emulator.apiUrl}/repos/${REPO}/downloads/${id}`, {
        method: 'DELETE',
        headers: { Authorization: 'token emulator-token' }
      })
    ).rejects.toThrow()
    expect(emulator.downloads(REPO)).toEqual([])
  })

  it('imitates the primary rate limit', async () => {
    emulator.faults.inject({ hop: 'list', rateLimit: 'primary', resetInSeconds: 30 })
    const answer = await api(emulator, `/repos/${REPO}/downloads`)
    const now = Math.floor(Date.now() / 1000)
    expect(answer.status).toBe(403)
    expect(answer.headers.get('x-ratelimit-remaining')).toBe('0')
    const reset = Number(answer.headers.get('x-ratelimit-reset'))
    expect(reset).toBeGreaterThanOrEqual(now + 29)
    expect(reset).toBeLessThanOrEqual(now + 31)
    expect(answer.body).toEqual({ message: 'API rate limit exceeded for user ID 1.' })
    expect(emulator.faults.injected).toEqual({ 'list:primary-rate-limit': 1 })
  })

  it('imitates the secondary rate limit, with and without retry-after', async () => {
    emulator.faults.inject({ hop: 'create', rateLimit: 'secondary', retryAfterSeconds: 7 })
    emulator.faults.inject({ hop: 'create', rateLimit: 'secondary', retryAfterSeconds: null })
    const body = { name: 's.txt', size: 1 }
    const first = await api(emulator, `/repos/${REPO}/downloads`, { method: 'POST', body })
    expect(first.status).toBe(403)
    expect((first.body as { message: string }).message).toContain('secondary rate limit')
    expect(first.headers.get('retry-after')).toBe('7')
    expect(Number(first.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0)
    const second = await api(emulator, `/repos/${REPO}/downloads`, { method: 'POST', body })
    expect(second.status).toBe(403)
    expect(second.headers.get('retry-after')).toBeNull()
  })

  it('delays the answer', async () => {
    emulator.faults.inject({ hop: 'get', delayMs: 300, status: 500 })
    const started = Date.now()
    expect((await api(emulator, `/repos/${REPO}/downloads/1`)).status).toBe(500)
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
  })
})

describe('the badSignature fault', () => {
  it('hands out a policy the emulator’s S3 refuses with SignatureDoesNotMatch, once', async () => {
    emulator.faults.inject({ hop: 'create', badSignature: true })
    const bad = await createDownload(emulator, 'bad.txt', 1)
    const good = await createDownload(emulator, 'good.txt', 1)
    const refused = await postForm(emulator, specParts(bad, 'b'))
    expect([refused.status, s3Code(refused.body.toString())]).toEqual([
      403,
      'SignatureDoesNotMatch'
    ])
    expect((await postForm(emulator, specParts(good, 'g'))).status).toBe(201)
    expect(emulator.faults.injected).toEqual({ 'create:badSignature': 1 })
  })

  it('goes with the create hop only, and not with an answer instead of the create', () => {
    expect(() => emulator.faults.inject({ hop: 'list', badSignature: true })).toThrow(
      'badSignature needs hop create, got list'
    )
    expect(() =>
      emulator.faults.inject({ hop: 'create', badSignature: true, status: 503 })
    ).toThrow('badSignature does not go with status, s3Code, rateLimit or reset')
  })
})

describe('S3 faults', () => {
  it('answers S3 XML errors with the code asked for', async () => {
    const ticket = await createDownload(emulator, 'slow.txt', 5)
    emulator.faults.inject({ hop: 's3', s3Code: 'SlowDown' })
    emulator.faults.inject({ hop: 's3', status: 500 })
    emulator.faults.inject({ hop: 's3', s3Code: 'RequestTimeout' })
    const answers = []
    for (let i = 0; i < 3; i++) answers.push(await postForm(emulator, specParts(ticket, 'hello')))
    expect(answers.map((a) => [a.status, s3Code(a.body)])).toEqual([
      [503, 'SlowDown'],
      [500, 'InternalError'],
      [400, 'RequestTimeout']
    ])
    expect(emulator.downloads(REPO)[0]?.uploaded).toBe(false)
    expect((await postForm(emulator, specParts(ticket, 'hello'))).status).toBe(201)
    expect(emulator.faults.injected).toEqual({
      's3:SlowDown': 1,
      's3:InternalError': 1,
      's3:RequestTimeout': 1
    })
  })

  it('matches S3 faults by download name', async () => {
    const a = await createDownload(emulator, 'a.txt', 5)
    const b = await createDownload(emulator, 'b.txt', 5)
    emulator.faults.inject({ hop: 's3', s3Code: 'InternalError', match: (r) => r.name === 'b.txt' })
    expect((await postForm(emulator, specParts(a, 'hello'))).status).toBe(201)
    expect((await postForm(emulator, specParts(b, 'hello'))).status).toBe(500)
  })

  it('resets mid-body without storing anything', async () => {
    const ticket = await createDownload(emulator, 'reset.bin', 3 * 1024 * 1024)
    emulator.faults.inject({ hop: 's3', reset: true })
    await expect(
      postForm(emulator, specParts(ticket, Buffer.alloc(3 * 1024 * 1024, 1)))
    ).rejects.toThrow()
    expect(emulator.downloads(REPO)[0]?.uploaded).toBe(false)
    expect(emulator.requests.at(-1)).toMatchObject({ hop: 's3', status: 0, fault: 's3:reset' })
  })

  it('stores the upload, then loses the answer', async () => {
    const ticket = await createDownload(emulator, 'lost.txt', 5)
    emulator.faults.inject({ hop: 's3', resetAfterCommit: true })
    await expect(postForm(emulator, specParts(ticket, 'hello'))).rejects.toThrow()
    expect(emulator.downloads(REPO)[0]).toMatchObject({ uploaded: true, size: 5 })
  })

  it('fails downloads from S3 (rules with an s3Code skip the github.com redirect)', async () => {
    emulator.seed(REPO, { name: 'd.txt', content: 'data' })
    emulator.faults.inject({ hop: 'download', s3Code: 'ServiceUnavailable' })
    const failed = await fetch(`${emulator.apiUrl}/downloads/${REPO}/d.txt`)
    expect(failed.status).toBe(503)
    expect(s3Code(await failed.text())).toBe('ServiceUnavailable')
    expect(emulator.requests.map((r) => `${r.origin}:${r.status}:${r.fault ?? ''}`)).toEqual([
      'api:302:',
      's3:503:download:ServiceUnavailable'
    ])
    const served = await fetch(`${emulator.apiUrl}/downloads/${REPO}/d.txt`)
    expect(await served.text()).toBe('data')
  })
})

describe('random faults', () => {
  async function run(seed: number): Promise<(string | undefined)[]> {
    const em = await startEmulator()
    try {
      em.faults.random({ seed, rate: 0.5, hops: ['list', 'get'] })
      for (let i = 0; i < 30; i++) {
        await rawRequest(`${em.apiUrl}/repos/${REPO}/downloads`, {
          method: 'GET',
          headers: { Authorization: 'token emulator-token' }
        }).catch(() => undefined)
      }
      return em.requests.map((r) => r.fault)
    } finally {
      await em.close()
    }
  }

  it('is deterministic for a seed', async () => {
    const first = await run(42)
    expect(await run(42)).toEqual(first)
    expect(await run(43)).not.toEqual(first)
    const kinds = new Set(first.filter((label) => label !== undefined))
    expect(kinds.size).toBeGreaterThan(1)
    for (const label of kinds) {
      expect(label).toMatch(/^list:(500|502|503|reset|secondary-rate-limit)$/)
    }
  })

  it('draws only for the listed hops and stops on clear()', async () => {
    emulator.faults.random({ seed: 1, rate: 1, hops: ['delete'] })
    expect((await api(emulator, `/repos/${REPO}/downloads`)).status).toBe(200)
    emulator.seed(REPO, { name: 'x.txt', content: 'x' })
    const id = emulator.downloads(REPO)[0]?.id ?? 0
    await rawRequest(`${emulator.apiUrl}/repos/${REPO}/downloads/${id}`, {
      method: 'DELETE',
      headers: { Authorization: 'token emulator-token' }
    }).catch(() => undefined)
    expect(emulator.faults.total).toBe(1)
    emulator.faults.clear()
    expect(emulator.faults.total).toBe(0)
    expect((await api(emulator, `/repos/${REPO}/downloads`)).status).toBe(200)
  })

  it('uses a seeded PRNG', () => {
    const a = mulberry32(7)
    const b = mulberry32(7)
    const draws = Array.from({ length: 5 }, () => a())
    expect(Array.from({ length: 5 }, () => b())).toEqual(draws)
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true)
  })

  it('picks transient S3 kinds for uploads', async () => {
    const ticket = await createDownload(emulator, 'random.txt', 5)
    const hops: Hop[] = ['s3']
    emulator.faults.random({ seed: 5, rate: 1, hops })
    for (let i = 0; i < 12; i++) {
      await postForm(emulator, specParts(ticket, 'hello')).catch(() => undefined)
    }
    for (const label of Object.keys(emulator.faults.injected)) {
      expect(label).toMatch(
        /^s3:(InternalError|SlowDown|ServiceUnavailable|RequestTimeout|reset|resetAfterCommit)$/
      )
    }
    expect(emulator.faults.total).toBe(12)
  })
})
