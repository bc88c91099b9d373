import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { ApiError, CancelledError, ConflictError, NetworkError } from '../../src/errors.js'
import { RateLimitGate } from '../../src/rate-limits.js'
import { isTransient, type RetryOptions } from '../../src/retry.js'
import { createCoreFake } from '../helpers/core-fake.js'
import { FakeHttp, json, type RecordedRequest } from '../helpers/fake-http.js'
import { rejectionOf } from '../helpers/rejection.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const { DownloadsApi, LostCreateError, nextLink } = await import('../../src/downloads-api.js')

const API = 'https://api.example.test'
const BASE = `${API}/repos/octo/demo/downloads`
const LIST = `${BASE}?per_page=100`

let http: FakeHttp
let delays: number[]

beforeEach(() => {
  fake.reset()
  http = new FakeHttp()
  delays = []
})

afterEach(() => {
  expect(http.unused()).toEqual([])
})

const retry = (): RetryOptions => ({
  maxAttempts: 3,
  baseDelayMs: 100,
  maxDelayMs: 1000,
  random: () => 0,
  sleep: async (ms) => {
    delays.push(ms)
  }
})

/** A client of octo/demo on the fake, with a rate-limit gate on a fake clock. */
function api(apiUrl = API, clock = { now: Date.UTC(2024, 0, 1) }, signal?: AbortSignal) {
  const gate = new RateLimitGate({
    maxWaitMs: 600_000,
    now: () => clock.now,
    sleep: async (ms) => {
      delays.push(ms)
      clock.now += ms
    }
  })
  return new DownloadsApi(
    http,
    { apiUrl, token: 'tkn-123', owner: 'octo', repo: 'demo' },
    retry(),
    gate,
    signal
  )
}

function downloadJson(id: number, name: string) {
  return {
    url: `${BASE}/${id}`,
    html_url: `https://www.example.test/downloads/octo/demo/${name}`,
    id,
    name,
    description: `about ${name}`,
    size: 1024,
    download_count: 40,
    content_type: '.zip'
  }
}

function created(id: number, name: string, overrides: Record<string, unknown> = {}) {
  return json(
    201,
    {
      ...downloadJson(id, name),
      size: 0,
      policy: 'eyJleHBpcmF0aW9uIjogIjIxMTMifQ==',
      signature: 'c2lnbmF0dXJl/+=',
      bucket: 'github',
      accesskeyid: 'AKIAEXAMPLE',
      path: `downloads/octo/demo/${name}`,
      acl: 'private',
      expirationdate: '2113-06-24T15:49:15.000Z',
      prefix: 'downloads/octo/demo/',
      mime_type: 'application/zip',
      redirect: false,
      s3_url: 'https://github.s3.amazonaws.com/',
      ...overrides
    },
    { location: `${BASE}/${id}` }
  )
}

const alreadyExists = json(422, {
  message: 'Validation Failed',
  errors: [{ resource: 'Download', field: 'name', code: 'already_exists' }]
})

const lines = (requests: RecordedRequest[]) => requests.map((r) => `${r.method} ${r.url}`)

const spec = { name: 'app.zip', size: 5, description: 'Nightly', contentType: 'application/zip' }

describe('DownloadsApi.list', () => {
  it('follows Link rel="next" through every page, asking for 100 a page', async () => {
    const page = (n: number) => `${BASE}?per_page=100&page=${n}`
    http.on(
      'GET',
      LIST,
      json(200, [downloadJson(1, 'a.zip'), downloadJson(2, 'b.zip')], {
        link: `<${page(2)}>; rel="next", <${page(3)}>; rel="last"`
      })
    )
    http.on(
      'GET',
      page(2),
      json(200, [downloadJson(3, 'c.zip')], {
        link: `<${page(1)}>; rel="prev", <${page(3)}>; rel="next", <${page(3)}>; rel="last", <${page(1)}>; rel="first"`
      })
    )
    http.on(
      'GET',
      page(3),
      json(200, [downloadJson(4, 'd.zip')], {
        link: `<${page(2)}>; rel="prev", <${page(1)}>; rel="first"`
      })
    )

    const downloads = await api().list()

    expect(downloads.map((d) => d.name)).toEqual(['a.zip', 'b.zip', 'c.zip', 'd.zip'])
    expect(lines(http.requests)).toEqual([`GET ${LIST}`, `GET ${page(2)}`, `GET ${page(3)}`])
    expect(http.requests.every((r) => new URL(r.url).searchParams.get('per_page') === '100')).toBe(
      true
    )
    expect(downloads[0]).toEqual({
      id: 1,
      name: 'a.zip',
      description: 'about a.zip',
      size: 1024,
      contentType: '.zip',
      url: `${BASE}/1`,
      htmlUrl: 'https://www.example.test/downloads/octo/demo/a.zip',
      createdAt: ''
    })
  })

  it('hands the pages over one at a time, asking for the next only when the caller wants it', async () => {
    const page2 = `${BASE}?per_page=100&page=2`
    http.on(
      'GET',
      LIST,
      json(200, [downloadJson(1, 'a.zip'), downloadJson(2, 'b.zip')], {
        link: `<${page2}>; rel="next"`
      })
    )
    http.on('GET', page2, json(200, [downloadJson(3, 'c.zip')]))

    const pages = api().pages()
    const first = await pages.next()
    expect(first.done).toBe(false)
    expect((first.value as { name: string }[]).map((d) => d.name)).toEqual(['a.zip', 'b.zip'])
    expect(lines(http.requests)).toEqual([`GET ${LIST}`])
    const second = await pages.next()
    expect((second.value as { name: string }[]).map((d) => d.name)).toEqual(['c.zip'])
    expect(await pages.next()).toEqual({ done: true, value: undefined })
    expect(lines(http.requests)).toEqual([`GET ${LIST}`, `GET ${page2}`])
  })

  it('sends the token as "token …" with GitHub\'s media type to the API', async () => {
    http.on('GET', LIST, json(200, []))
    await api().list()
    expect(http.requests[0].headers).toMatchObject({
      authorization: 'token tkn-123',
      accept: 'application/vnd.github+json'
    })
    expect(http.requests[0].headers['user-agent']).toBeTruthy()
  })

  it('refuses a next page on another origin, never sending the token there', async () => {
    http.on(
      'GET',
      LIST,
      json(200, [downloadJson(1, 'a.zip')], {
        link: '<https://evil.example.test/repos/octo/demo/downloads?page=2>; rel="next"'
      })
    )
    await expect(api().list()).rejects.toThrow(
      'The API sent the next page to another origin (https://evil.example.test); refusing to send the token there.'
    )
    expect(http.requests).toHaveLength(1)
  })

  it('keeps a path prefix of the api-url (GitHub Enterprise)', async () => {
    const ghe = 'https://ghe.example.test/api/v3'
    http.on('GET', `${ghe}/repos/octo/demo/downloads?per_page=100`, json(200, []))
    expect(await api(ghe).list()).toEqual([])
  })

  it('on 401 tells the user to check the token input, without retrying', async () => {
    http.on('GET', LIST, json(401, { message: 'Bad credentials' }))
    const error = await rejectionOf<ApiError>(api().list())
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(401)
    expect(error.message).toBe(
      "The token was refused (Bad credentials): check the 'token' input; it must be able to write octo/demo."
    )
    expect(http.requests).toHaveLength(1)
  })

  it("on 404 names the 'repository' and 'api-url' inputs", async () => {
    http.on('GET', LIST, json(404, { message: 'Not Found' }))
    const error = await rejectionOf(api().list())
    expect(error.message).toContain("check 'repository' (octo/demo)")
    expect(error.message).toContain(`'api-url' (${API})`)
    expect(error.message).toContain('GET /repos/octo/demo/downloads')
    expect(http.requests).toHaveLength(1)
  })

  it('on a 403 that is no rate limit says the token cannot write', async () => {
    http.on('GET', LIST, json(403, { message: 'Resource not accessible by integration' }))
    await expect(api().list()).rejects.toThrow(
      "Forbidden (Resource not accessible by integration): the token may read but not write octo/demo's downloads"
    )
  })

  it('retries 5xx answers and a lost connection, with growing waits', async () => {
    http.on(
      'GET',
      LIST,
      json(502, { message: 'Server Error' }),
      new NetworkError('GET api.example.test failed: ECONNRESET', undefined),
      json(200, [downloadJson(1, 'a.zip')])
    )
    expect(await api().list()).toHaveLength(1)
    expect(http.requests).toHaveLength(3)
    expect(delays).toEqual([50, 100])
  })

  it('gives up on 5xx after max-attempts, saying what it was doing', async () => {
    http.on('GET', LIST, ...Array.from({ length: 3 }, () => ({ status: 503, body: 'busy' })))
    await expect(api().list()).rejects.toThrow(
      'Listing the downloads of octo/demo failed: GET /repos/octo/demo/downloads answered 503 (HTTP 503) (gave up after 3 attempts)'
    )
  })

  it('waits out a primary rate limit until its reset, then carries on', async () => {
    const clock = { now: Date.UTC(2024, 0, 1) }
    const reset = clock.now + 30_000
    http.on(
      'GET',
      LIST,
      json(
        403,
        { message: 'API rate limit exceeded for installation.' },
        { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset / 1000) }
      ),
      json(200, [])
    )
    await api(API, clock).list()
    expect(http.requests).toHaveLength(2)
    expect(delays).toEqual([0, 31_000])
    expect(clock.now).toBe(reset + 1000)
  })

  it('refuses an answer that is not a list of downloads', async () => {
    http.on('GET', LIST, { status: 200, body: '<html>login</html>' })
    await expect(api().list()).rejects.toThrow(
      "The server's answer with the list of downloads is not JSON: <html>login</html>"
    )
  })
})

describe('DownloadsApi.create', () => {
  it('posts name, size, description and content_type as JSON and hands back the ticket', async () => {
    http.on('POST', BASE, created(9, 'app.zip'))
    const ticket = await api().create(spec)

    expect(JSON.parse(http.requests[0].text)).toEqual({
      name: 'app.zip',
      size: 5,
      description: 'Nightly',
      content_type: 'application/zip'
    })
    expect(http.requests[0].headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      authorization: 'token tkn-123'
    })
    expect(ticket).toEqual({
      download: expect.objectContaining({ id: 9, name: 'app.zip' }),
      s3Url: 'https://github.s3.amazonaws.com/',
      key: 'downloads/octo/demo/app.zip',
      acl: 'private',
      accessKeyId: 'AKIAEXAMPLE',
      policy: 'eyJleHBpcmF0aW9uIjogIjIxMTMifQ==',
      signature: 'c2lnbmF0dXJl/+=',
      mimeType: 'application/zip'
    })
  })

  it('masks the policy, signature and access key id', async () => {
    http.on('POST', BASE, created(9, 'app.zip'))
    await api().create(spec)
    expect(fake.secrets).toEqual(
      expect.arrayContaining(['eyJleHBpcmF0aW9uIjogIjIxMTMifQ==', 'c2lnbmF0dXJl/+=', 'AKIAEXAMPLE'])
    )
  })

  it('says clearly when the answer lacks the signed form', async () => {
    const answer = created(9, 'app.zip')
    const body = JSON.parse(answer.body) as Record<string, unknown>
    delete body.policy
    http.on('POST', BASE, { ...answer, body: JSON.stringify(body) })
    await expect(api().create(spec)).rejects.toThrow(
      'The created download lacks policy: the server does not look like the Downloads API.'
    )
    expect(http.requests).toHaveLength(1)
  })

  it('surfaces 422 already_exists with its code, touching nothing', async () => {
    http.on('POST', BASE, alreadyExists)
    const error = await rejectionOf<ApiError>(api().create(spec))
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(422)
    expect(error.codes).toEqual(['already_exists'])
    expect(error.message).toBe(
      'The server refused the request (Validation Failed: name already_exists).'
    )
    expect(isTransient(error)).toBe(false)
    expect(lines(http.requests)).toEqual([`POST ${BASE}`])
  })

  it('retries a 5xx', async () => {
    http.on('POST', BASE, json(500, { message: 'Server Error' }), created(9, 'app.zip'))
    expect((await api().create(spec)).download.id).toBe(9)
    expect(http.requests).toHaveLength(2)
  })

  it('after a lost answer, says when a retry met the record its own first attempt made', async () => {
    http.on(
      'POST',
      BASE,
      new NetworkError(
        'POST api.example.test failed: UND_ERR_SOCKET: other side closed',
        undefined
      ),
      alreadyExists
    )

    const error = await rejectionOf(api().create(spec))

    // The caller finds that record by name and clears it: the API client deletes nothing.
    expect(error).toBeInstanceOf(LostCreateError)
    expect(error).toMatchObject({
      exists: true,
      message: 'The answer to creating app.zip was lost, and the server made it.'
    })
    expect(lines(http.requests)).toEqual([`POST ${BASE}`, `POST ${BASE}`])
  })

  it('after a lost answer, says that a record may be left behind when the create fails for good', async () => {
    http.on(
      'POST',
      BASE,
      json(502, { message: 'Bad Gateway' }),
      json(403, { message: 'Resource not accessible by integration' })
    )

    const error = await rejectionOf(api().create(spec))

    expect(error).toBeInstanceOf(LostCreateError)
    expect(error).toMatchObject({ exists: false })
    expect(error.message).toMatch(
      /^Creating app\.zip failed after an answer was lost, so the server may hold a record of it: Forbidden \(Resource not accessible by integration\)/
    )
  })

  it('makes no further attempt once the run is cancelled', async () => {
    const controller = new AbortController()
    http.on('POST', BASE, () => {
      controller.abort()
      return json(503, { message: 'Service Unavailable' })
    })

    const error = await rejectionOf(api(API, undefined, controller.signal).create(spec))

    // The 503 may have been a gateway's after the server acted: the caller must look.
    expect(error).toBeInstanceOf(LostCreateError)
    expect(error.cause).toBeInstanceOf(CancelledError)
    expect(http.requests).toHaveLength(1)
  })
})

describe('DownloadsApi.delete', () => {
  it('deletes by id with the token', async () => {
    http.on('DELETE', `${BASE}/5`, { status: 204 })
    await api().delete(5)
    expect(http.requests[0].headers.authorization).toBe('token tkn-123')
  })

  it('takes 404 as already deleted', async () => {
    http.on('DELETE', `${BASE}/5`, json(404, { message: 'Not Found' }))
    await expect(api().delete(5)).resolves.toBeUndefined()
  })

  it('retries a 503', async () => {
    http.on('DELETE', `${BASE}/5`, { status: 503 }, { status: 204 })
    await api().delete(5)
    expect(http.requests).toHaveLength(2)
  })

  it('with mustExist, takes a first-try 404 as somebody else having deleted it', async () => {
    http.on('DELETE', `${BASE}/5`, json(404, { message: 'Not Found' }))
    const error = await rejectionOf(api().delete(5, { mustExist: true }))
    expect(error).toBeInstanceOf(ConflictError)
    expect(error.message).toBe(
      'download 5 was deleted by somebody else while this run was replacing it'
    )
    expect(http.requests).toHaveLength(1)
  })

  it('with mustExist, takes a 404 after a lost answer as its own earlier try having done it', async () => {
    http.on(
      'DELETE',
      `${BASE}/5`,
      new NetworkError('DELETE api.example.test failed: ECONNRESET', undefined),
      json(404, { message: 'Not Found' })
    )
    await expect(api().delete(5, { mustExist: true })).resolves.toBeUndefined()
    expect(http.requests).toHaveLength(2)
  })
})

describe('DownloadsApi and the rate limit budget', () => {
  it('tells the gate the budget each answer reports, so that a replace is not started without it', async () => {
    const clock = { now: Date.UTC(2024, 0, 1) }
    const gate = new RateLimitGate({ maxWaitMs: 0, now: () => clock.now })
    const client = new DownloadsApi(
      http,
      { apiUrl: API, token: 'tkn-123', owner: 'octo', repo: 'demo' },
      retry(),
      gate
    )
    http.on(
      'GET',
      LIST,
      json(200, [], {
        'x-ratelimit-remaining': '2',
        'x-ratelimit-reset': String(clock.now / 1000 + 3600)
      })
    )

    await client.list()

    await expect(gate.reserve(4, 'Replacing app.zip')).rejects.toThrow(
      /^Replacing app\.zip was not started: GitHub's primary rate limit is exhausted \(2 requests left/
    )
  })
})

describe('nextLink', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['<https://a.test/x?page=2>; rel="next"', 'https://a.test/x?page=2'],
    [
      '<https://a.test/x?page=1>; rel="prev", <https://a.test/x?page=3>; rel="next"',
      'https://a.test/x?page=3'
    ],
    ['<https://a.test/x?page=3>; rel=next', 'https://a.test/x?page=3'],
    ['<https://a.test/x?page=9>; rel="last", <https://a.test/x?page=1>; rel="first"', undefined]
  ])('%p → %p', (header, url) => {
    expect(nextLink(header)).toBe(url)
  })
})
