import { createServer } from 'node:net'
import type { Emulator } from '../../emulator/index.js'
import { REPO, api, createDownload, emulatorPerTest, startEmulator } from './helpers.js'

/** A download's fields, in the order GitHub's list and get answers have them (the spec). */
const DOWNLOAD_FIELDS = [
  'url',
  'id',
  'html_url',
  'name',
  'description',
  'created_at',
  'size',
  'download_count',
  'content_type'
]

let emulator: Emulator
emulatorPerTest(
  (started) => (emulator = started),
  () => emulator
)

describe('authentication and repositories', () => {
  it('asks for a token, refuses unknown ones, takes `token` and `Bearer`', async () => {
    const none = await api(emulator, `/repos/${REPO}/downloads`, { token: null })
    expect(none).toMatchObject({ status: 401, body: { message: 'Requires authentication' } })
    const bad = await api(emulator, `/repos/${REPO}/downloads`, { token: 'nope' })
    expect(bad).toMatchObject({ status: 401, body: { message: 'Bad credentials' } })
    expect(bad.headers.get('content-type')).toBe('application/json; charset=utf-8')

    const bearer = await fetch(`${emulator.apiUrl}/repos/${REPO}/downloads`, {
      headers: { Authorization: 'Bearer emulator-token' }
    })
    expect(bearer.status).toBe(200)
  })

  it('answers 404 for unknown repositories and routes, and matches names case-insensitively', async () => {
    const missing = await api(emulator, '/repos/octocat/nope/downloads')
    expect(missing).toMatchObject({ status: 404, body: { message: 'Not Found' } })
    expect((await api(emulator, '/repos/octocat/hello-world/releases')).status).toBe(404)
    expect((await api(emulator, '/repos/Octocat/Hello-World/downloads')).status).toBe(200)
  })
})

describe('rate limits', () => {
  it('reports the budget on every answer and answers 403 once it is spent', async () => {
    await emulator.close()
    emulator = await startEmulator({ rateLimit: 3 })
    const remaining: (string | null)[] = []
    for (let i = 0; i < 3; i++) {
      const answer = await api(emulator, `/repos/${REPO}/downloads`)
      expect(answer.status).toBe(200)
      expect(answer.headers.get('x-ratelimit-limit')).toBe('3')
      expect(answer.headers.get('x-ratelimit-resource')).toBe('core')
      expect(Number(answer.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000)
      remaining.push(answer.headers.get('x-ratelimit-remaining'))
    }
    expect(remaining).toEqual(['2', '1', '0'])
    const spent = await api(emulator, `/repos/${REPO}/downloads`)
    expect(spent.status).toBe(403)
    expect(spent.body).toEqual({ message: 'API rate limit exceeded for user ID 1.' })
    expect(spent.headers.get('x-ratelimit-remaining')).toBe('0')
    expect(spent.headers.get('x-ratelimit-used')).toBe('3')
  })
})

describe('create, get, delete', () => {
  it('creates a download with the 2013 create response', async () => {
    const answer = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      body: {
        name: 'new_file.jpg',
        size: 114034,
        description: 'Latest release',
        content_type: '.jpg'
      }
    })
    expect(answer.status).toBe(201)
    const body = answer.body as Record<string, unknown>
    expect(Object.keys(body)).toEqual([
      ...DOWNLOAD_FIELDS,
      'policy',
      'signature',
      'bucket',
      'accesskeyid',
      'path',
      'acl',
      'expirationdate',
      'prefix',
      'mime_type',
      'redirect',
      'x-amz-meta-content-disposition',
      's3_url'
    ])
    expect(answer.headers.get('location')).toBe(body['url'])
    expect(body).toMatchObject({
      url: `${emulator.apiUrl}/repos/${REPO}/downloads/${String(body['id'])}`,
      html_url: `${emulator.apiUrl}/downloads/${REPO}/new_file.jpg`,
      name: 'new_file.jpg',
      description: 'Latest release',
      size: 0,
      download_count: 0,
      content_type: '.jpg',
      bucket: 'github',
      accesskeyid: 'AKIAEMULATOREXAMPLE',
      path: `downloads/${REPO}/new_file.jpg`,
      acl: 'private',
      prefix: `downloads/${REPO}`,
      mime_type: 'image/jpeg',
      redirect: false,
      'x-amz-meta-content-disposition': 'attachment; filename=new_file.jpg',
      s3_url: emulator.s3Url
    })
    expect(String(body['created_at'])).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(String(body['expirationdate'])).toMatch(/^21\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/)
    const policy = Buffer.from(String(body['policy']), 'base64').toString()
    expect(policy).toContain(`{'key': 'downloads/${REPO}/new_file.jpg'}`)
    expect(emulator.downloads(REPO)).toEqual([
      expect.objectContaining({
        name: 'new_file.jpg',
        declaredSize: 114034,
        uploaded: false,
        size: 0
      })
    ])
  })

  it('decides mime_type on the server', async () => {
    const given = await createDownload(emulator, 'a.bin', 1, { content_type: 'text/plain' })
    expect(given.mime_type).toBe('text/plain')
    const byName = await createDownload(emulator, 'b.zip', 1)
    expect(byName.mime_type).toBe('application/zip')
    const unknown = await createDownload(emulator, 'c.unknownext', 1, { content_type: 'weird' })
    expect(unknown.mime_type).toBe('application/octet-stream')
  })

  it('gets and deletes a download', async () => {
    const ticket = await createDownload(emulator, 'x.txt', 3)
    const got = await api(emulator, `/repos/${REPO}/downloads/${ticket.id}`)
    expect(got.status).toBe(200)
    expect(Object.keys(got.body as object)).toEqual(DOWNLOAD_FIELDS)
    const gone = await api(emulator, `/repos/${REPO}/downloads/${ticket.id}`, { method: 'DELETE' })
    expect(gone.status).toBe(204)
    expect(gone.headers.get('x-ratelimit-remaining')).not.toBeNull()
    expect((await api(emulator, `/repos/${REPO}/downloads/${ticket.id}`)).status).toBe(404)
    const again = await api(emulator, `/repos/${REPO}/downloads/${ticket.id}`, { method: 'DELETE' })
    expect(again).toMatchObject({ status: 404, body: { message: 'Not Found' } })
    expect(emulator.downloads(REPO)).toEqual([])
  })

  it('deletes the stored bytes with the download', async () => {
    const seeded = emulator.seed(REPO, { name: 'old.txt', content: 'old bytes' })
    expect(seeded).toMatchObject({ uploaded: true, size: 9 })
    const { access } = await import('node:fs/promises')
    await expect(access(seeded.filePath ?? '')).resolves.toBeUndefined()
    await api(emulator, `/repos/${REPO}/downloads/${seeded.id}`, { method: 'DELETE' })
    await expect(access(seeded.filePath ?? '')).rejects.toThrow()
  })
})

describe('validation', () => {
  it('refuses a name that exists with 422 already_exists', async () => {
    await createDownload(emulator, 'dup.txt', 1)
    const answer = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      body: { name: 'dup.txt', size: 1 }
    })
    expect(answer.status).toBe(422)
    expect(answer.body).toEqual({
      message: 'Validation Failed',
      errors: [{ resource: 'Download', field: 'name', code: 'already_exists' }]
    })
  })

  it('reports missing and invalid fields', async () => {
    const missing = await api(emulator, `/repos/${REPO}/downloads`, { method: 'POST', body: {} })
    expect(missing).toMatchObject({
      status: 422,
      body: {
        message: 'Validation Failed',
        errors: [
          { resource: 'Download', field: 'name', code: 'missing_field' },
          { resource: 'Download', field: 'size', code: 'missing_field' }
        ]
      }
    })
    const invalid = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      body: { name: 'a/b', size: -1, description: 3 }
    })
    expect(invalid.body).toEqual({
      message: 'Validation Failed',
      errors: [
        { resource: 'Download', field: 'name', code: 'invalid' },
        { resource: 'Download', field: 'size', code: 'invalid' },
        { resource: 'Download', field: 'description', code: 'invalid' }
      ]
    })
    const malformed = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      rawBody: '{"name": '
    })
    expect(malformed).toMatchObject({ status: 400, body: { message: 'Problems parsing JSON' } })
  })
})

describe('listing', () => {
  beforeEach(() => {
    for (let i = 1; i <= 250; i++) emulator.seed(REPO, { name: `file-${i}.txt`, content: `${i}` })
  })

  function links(header: string | null): Record<string, string> {
    const out: Record<string, string> = {}
    for (const part of (header ?? '').split(', ')) {
      const match = /^<([^>]+)>; rel="(\w+)"$/.exec(part)
      if (match?.[1] && match[2]) out[match[2]] = match[1]
    }
    return out
  }

  it('pages with Link headers until next is gone', async () => {
    let next: string | undefined = `${emulator.apiUrl}/repos/${REPO}/downloads?per_page=100`
    const ids: number[] = []
    const rels: string[][] = []
    while (next) {
      const res: Response = await fetch(next, {
        headers: { Authorization: 'token emulator-token' }
      })
      expect(res.status).toBe(200)
      const page = (await res.json()) as { id: number }[]
      ids.push(...page.map((item) => item.id))
      const link = links(res.headers.get('link'))
      rels.push(Object.keys(link))
      next = link['next']
    }
    expect(ids).toHaveLength(250)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    expect(rels).toEqual([
      ['next', 'last'],
      ['prev', 'next', 'last', 'first'],
      ['prev', 'first']
    ])
  })

  it('uses 30 per page by default and clamps per_page to 100', async () => {
    const first = await api(emulator, `/repos/${REPO}/downloads`)
    expect(first.body).toHaveLength(30)
    const link = links(first.headers.get('link'))
    expect(link['next']).toBe(`${emulator.apiUrl}/repos/${REPO}/downloads?page=2`)
    expect(link['last']).toBe(`${emulator.apiUrl}/repos/${REPO}/downloads?page=9`)
    const clamped = await api(emulator, `/repos/${REPO}/downloads?per_page=500&page=3`)
    expect(clamped.body).toHaveLength(50)
    expect((clamped.body as { name: string }[])[0]?.name).toBe('file-201.txt')
  })
})

describe('html_url', () => {
  it('redirects to the object on S3, which is missing until uploaded', async () => {
    const ticket = await createDownload(emulator, 'later.txt', 1)
    const redirect = await fetch(ticket.html_url, { redirect: 'manual' })
    expect(redirect.status).toBe(302)
    expect(redirect.headers.get('location')).toBe(`${emulator.s3Url}downloads/${REPO}/later.txt`)
    const object = await fetch(ticket.html_url)
    expect(object.status).toBe(404)
    expect(await object.text()).toContain('<Code>NoSuchKey</Code>')
  })

  it('serves seeded bytes through the redirect', async () => {
    emulator.seed(REPO, { name: 'a b+c.txt', content: 'seeded' })
    const res = await fetch(
      `${emulator.apiUrl}/downloads/${REPO}/${encodeURIComponent('a b+c.txt')}`
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain')
    expect(await res.text()).toBe('seeded')
  })
})

/** A port free right now (the server behind a reverse proxy is told its URL before it listens). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port'))
      )
    })
  })
}

describe('public URLs (a reverse proxy in front)', () => {
  it('puts the URLs clients reach it at in every answer', async () => {
    await emulator.close()
    // `localhost` stands for the proxy's name: the URLs must say it, not the listening address.
    // The ports are picked before the emulator binds them; another test may take one first.
    let apiPort: number
    let s3Port: number
    for (let attempt = 1; ; attempt++) {
      ;[apiPort, s3Port] = [await freePort(), await freePort()]
      try {
        emulator = await startEmulator({
          apiPort,
          s3Port,
          publicUrl: `http://localhost:${apiPort}`,
          s3PublicUrl: `http://localhost:${s3Port}/`
        })
        break
      } catch (error) {
        if (attempt === 5 || (error as { code?: string }).code !== 'EADDRINUSE') throw error
      }
    }
    expect(emulator.apiUrl).toBe(`http://localhost:${apiPort}`)
    const ticket = await createDownload(emulator, 'app.zip', 1)
    expect(ticket).toMatchObject({
      url: `http://localhost:${apiPort}/repos/${REPO}/downloads/${ticket.id}`,
      html_url: `http://localhost:${apiPort}/downloads/${REPO}/app.zip`,
      s3_url: `http://localhost:${s3Port}/`
    })
    await createDownload(emulator, 'other.zip', 1)
    const page = await api(emulator, `/repos/${REPO}/downloads?per_page=1`)
    expect(page.headers.get('link')).toContain(`<http://localhost:${apiPort}/repos/`)
    const redirect = await fetch(ticket.html_url, { redirect: 'manual' })
    expect(redirect.headers.get('location')).toBe(
      `http://localhost:${s3Port}/downloads/${REPO}/app.zip`
    )
  })
})
