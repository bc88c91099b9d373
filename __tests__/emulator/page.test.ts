/** `GET /:owner/:repo/downloads`: the Downloads page a browser shows. */
import type { Emulator } from '../../emulator/index.js'
import { PAGE_ROWS, renderDownloadsPage } from '../../emulator/downloads-page.js'
import { api, createDownload, emulatorPerTest, REPO } from './helpers.js'

let emulator: Emulator
emulatorPerTest(
  (started) => (emulator = started),
  () => emulator
)

/** What a browser shows of each row: the link's text and target, and the other cells. */
function rows(html: string): { name: string; href: string; cells: string[] }[] {
  const unescape = (text: string): string =>
    text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
  return [
    ...html.matchAll(
      /<tr>\n<td class="name"><a href="([^"]*)">([^<]*)<\/a><\/td>\n([\s\S]*?)<\/tr>/g
    )
  ].map(([, href, name, rest]) => ({
    name: unescape(name),
    href: unescape(href),
    cells: [...rest.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map(([, cell]) =>
      unescape(cell.replace(/<[^>]+>/g, ''))
    )
  }))
}

it('lists the uploaded downloads newest first, with description, size, date and count', async () => {
  const day = (n: number): Date => new Date(Date.UTC(2013, 5, n, 12))
  emulator.seed(REPO, { name: 'old.zip', content: 'x'.repeat(1500), createdAt: day(1) })
  emulator.seed(REPO, {
    name: 'new.tar.gz',
    description: 'Release 2',
    content: 'abc',
    createdAt: day(20)
  })
  emulator.seed(REPO, { name: 'middle.txt', content: '', createdAt: day(10) })
  // Created but never uploaded: nothing to download, so not on the page.
  emulator.seed(REPO, { name: 'half.zip', content: null, createdAt: day(30) })

  const oldUrl = `${emulator.apiUrl}/downloads/${REPO}/old.zip`
  expect((await fetch(oldUrl)).status).toBe(200)
  expect((await fetch(oldUrl)).status).toBe(200)

  // A page on github.com: no token.
  const res = await fetch(`${emulator.apiUrl}/Octocat/Hello-World/downloads`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
  expect(rows(await res.text())).toEqual([
    {
      name: 'new.tar.gz',
      href: `${emulator.apiUrl}/downloads/${REPO}/new.tar.gz`,
      cells: ['Release 2', '3 B', '2013-06-20', '0']
    },
    {
      name: 'middle.txt',
      href: `${emulator.apiUrl}/downloads/${REPO}/middle.txt`,
      cells: ['', '0 B', '2013-06-10', '0']
    },
    { name: 'old.zip', href: oldUrl, cells: ['', '1.5 kB', '2013-06-01', '2'] }
  ])
})

it('escapes hostile names and descriptions, and forbids scripts', async () => {
  const names = ['<img src=x onerror=alert(1)>.zip', `a&b "c" 'd'.txt`, '&lt;not-an-entity&gt;']
  for (const name of names) {
    emulator.seed(REPO, { name, description: '</script><script>alert(1)</script>', content: 'x' })
  }
  const res = await fetch(`${emulator.apiUrl}/${REPO}/downloads`)
  const html = await res.text()
  expect(html).not.toMatch(/<img|<script|onerror="/)
  const shown = rows(html)
  expect(shown.map((row) => row.name).sort()).toEqual([...names].sort())
  for (const row of shown) {
    expect(row.href).toBe(`${emulator.apiUrl}/downloads/${REPO}/${encodeURIComponent(row.name)}`)
    expect(row.cells[0]).toBe('</script><script>alert(1)</script>')
  }
  const csp = res.headers.get('content-security-policy') ?? ''
  expect(csp).toContain("default-src 'none'")
  expect(csp).not.toMatch(/script-src|unsafe-inline/)
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
})

it('says when there is nothing yet, and answers 404 for a repository it does not serve', async () => {
  const empty = await fetch(`${emulator.apiUrl}/${REPO}/downloads`)
  expect(await empty.text()).toContain('No downloads yet.')
  const missing = await fetch(`${emulator.apiUrl}/octocat/%3Cb%3Enope/downloads`)
  expect(missing.status).toBe(404)
  expect(missing.headers.get('content-type')).toBe('text/html; charset=utf-8')
  expect(await missing.text()).toContain('octocat/&#60;b&#62;nope')
})

describe('bounds, since anyone may load the page', () => {
  it('shows the newest 500 downloads and says how many there are', () => {
    const items = Array.from({ length: 501 }, (_, i) => ({
      id: i + 1,
      name: `build-${i + 1}.zip`,
      description: '',
      size: 1,
      createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString().replace(/\.\d+Z$/, 'Z'),
      downloadCount: 0,
      uploaded: true,
      htmlUrl: `http://127.0.0.1/downloads/${REPO}/build-${i + 1}.zip`,
      key: `downloads/${REPO}/build-${i + 1}.zip`,
      repo: REPO,
      contentType: 'application/zip',
      mimeType: 'application/zip',
      declaredSize: 1
    }))
    const html = renderDownloadsPage(REPO, items)
    expect(html.match(/<tr>/g)).toHaveLength(PAGE_ROWS + 1)
    expect(html).toContain('build-501.zip')
    expect(html).not.toContain('>build-1.zip<')
    expect(html).toContain(`The newest ${PAGE_ROWS} of 501 downloads`)
  })

  it('refuses a description over 64 KiB', async () => {
    const answer = await api(emulator, `/repos/${REPO}/downloads`, {
      method: 'POST',
      body: { name: 'big.txt', size: 1, description: 'x'.repeat(64 * 1024 + 1) }
    })
    expect(answer.status).toBe(422)
    expect(answer.body).toMatchObject({
      errors: [{ resource: 'Download', field: 'description', code: 'invalid' }]
    })
  })

  it('counts no download of a record without bytes', async () => {
    const ticket = await createDownload(emulator, 'empty.zip', 1)
    await fetch(ticket.html_url, { redirect: 'manual' })
    const listed = await api(emulator, `/repos/${REPO}/downloads/${ticket.id}`)
    expect(listed.body).toMatchObject({ download_count: 0 })
  })
})
