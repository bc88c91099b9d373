import { describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  downloadsOutput,
  fetchBytes,
  onCeph,
  REPO,
  sha256,
  closeAfterTest,
  stage
} from './harness.js'

const MiB = 1024 * 1024

/** Writes `size` random bytes to `file` a MiB at a time; resolves to their SHA-256. */
async function writeRandomFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let left = size; left > 0; left -= MiB) {
      const chunk = randomBytes(Math.min(MiB, left))
      hash.update(chunk)
      yield chunk
    }
  }
  await pipeline(Readable.from(chunks()), createWriteStream(file))
  return hash.digest('hex')
}

/** The SHA-256 of what a download's html_url serves, read as a stream. */
async function fetchSha256(url: string): Promise<string> {
  const res = await fetch(url, { redirect: 'follow' })
  if (res.status !== 200 || res.body === null) throw new Error(`GET ${url} answered ${res.status}`)
  const hash = createHash('sha256')
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) hash.update(chunk)
  return hash.digest('hex')
}

describe('the bundled action against the emulator', () => {
  it('publishes every matched file byte-exact, with outputs and a summary', async () => {
    const s = closeAfterTest(await stage())
    const files: Record<string, Buffer | string> = {
      'out/app-1.0.0.tar.gz': randomBytes(300_000),
      'out/read me.txt': 'spaces in the name\n',
      'out/résumé-ünïcödé.bin': randomBytes(1234),
      'out/empty.dat': '',
      'out/skip.log': 'excluded',
      'out/nested/deeper.zip': randomBytes(70_000)
    }
    await s.files(files)
    await mkdir(path.join(s.workspace, 'out', 'just-a-dir.zip'))

    const result = await s.run({
      glob: 'out/**\n# a comment\n!out/*.log',
      description: 'Release 1.0.0'
    })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    const published = downloadsOutput(result)
    const names = [
      'app-1.0.0.tar.gz',
      'deeper.zip',
      'empty.dat',
      'read me.txt',
      'résumé-ünïcödé.bin'
    ]
    expect(published.map((d) => d.name)).toEqual(names)
    expect(result.outputs.count).toBe('5')
    expect(result.outputs.urls.split('\n')).toEqual(published.map((d) => d.html_url))

    const source = (name: string): Buffer | string =>
      Object.entries(files).find(([file]) => path.basename(file) === name)?.[1] ?? 'missing'
    for (const d of published) {
      const expected = source(d.name)
      expect(d.sha256).toBe(sha256(expected))
      expect(d.size).toBe(Buffer.byteLength(expected))
      expect(sha256(await fetchBytes(d.html_url))).toBe(sha256(expected))
    }
    // Files upload four at a time, so ids need not follow the name order.
    const stored = s.emulator.downloads(REPO).sort((a, b) => (a.name < b.name ? -1 : 1))
    expect(stored.map((d) => [d.name, d.uploaded, d.description])).toEqual(
      names.map((n) => [n, true, 'Release 1.0.0'])
    )
    // The store holds exactly the bytes (on Ceph: as the gateway serves them).
    for (const d of stored) expect(d.sha256).toBe(sha256(source(d.name)))
    expect(published.find((d) => d.name === 'app-1.0.0.tar.gz')?.content_type).toBe(
      'application/gzip'
    )
    expect(result.summary).toContain('read me.txt')
    expect(result.summary).toContain(published[0].html_url)
    const s3Requests = s.emulator.requests.filter((r) => r.origin === 's3')
    if (onCeph) {
      // The uploads went to the gateway, past the emulator.
      expect(s3Requests).toEqual([])
      return
    }
    // The token goes to the API origin only.
    expect(s3Requests.length).toBeGreaterThanOrEqual(5)
    for (const r of s3Requests) expect(r.headers.authorization).toBeUndefined()
  })

  it('sends one API request per file beyond the two listings, over kept-alive connections', async () => {
    const s = closeAfterTest(await stage())
    const files: Record<string, string> = {}
    for (let i = 0; i < 60; i++) files[`part-${String(i).padStart(2, '0')}.txt`] = `part ${i}\n`
    await s.files(files)

    const result = await s.run({ glob: '*.txt', concurrency: '4' })

    expect(result.code).toBe(0)
    const api = s.emulator.requests.filter((r) => r.origin === 'api')
    // The listing before, one create per file, and one listing after that checks them.
    expect(api.map((r) => r.hop).sort()).toEqual(
      ['list', 'list', ...Array<string>(60).fill('create')].sort()
    )
    // Four at a time: at most four connections per origin (five for the API, the listing's own).
    expect(new Set(api.map((r) => r.connection)).size).toBeLessThanOrEqual(5)
    // The emulator's S3 server sees the uploads; on Ceph they go past it, to the gateway.
    const s3 = s.emulator.requests.filter((r) => r.origin === 's3')
    expect(s3).toHaveLength(onCeph ? 0 : 60)
    expect(new Set(s3.map((r) => r.connection)).size).toBeLessThanOrEqual(4)
    expect(s.emulator.downloads(REPO).filter((d) => d.uploaded)).toHaveLength(60)
  })

  it('logs progress for a large file at most every 10%, and totals in the summary', async () => {
    const s = closeAfterTest(await stage())
    const big = randomBytes(24 * 1024 * 1024)
    await s.files({ 'image.iso': big })

    const result = await s.run({ glob: 'image.iso' })

    expect(result.code).toBe(0)
    const progress = result.stdout.split('\n').filter((l) => /^image\.iso: \d+% \(/.test(l))
    expect(progress.length).toBeGreaterThanOrEqual(2)
    expect(progress.length).toBeLessThanOrEqual(11)
    expect(progress[progress.length - 1]).toMatch(
      /^image\.iso: 100% \(24\.0 MiB of 24\.0 MiB, [\d.]+ [KMG]iB\/s\)$/
    )
    const [published] = downloadsOutput(result)
    expect(result.summary).toContain(`<code>${sha256(big).slice(0, 12)}</code>`)
    expect(result.summary).toContain('24.0 MiB')
    expect(result.summary).toMatch(/1 file uploaded, 24\.0 MiB in [\d.]+ s \([\d.]+ [KMG]iB\/s\)/)
    expect(published.sha256).toBe(sha256(big))
  })

  it('publishes a 200 MiB file byte-exact, and a re-run finds it unchanged', async () => {
    const s = closeAfterTest(await stage())
    const file = path.join(s.workspace, 'big.iso')
    const expected = await writeRandomFile(file, 200 * MiB)

    const result = await s.run({ glob: 'big.iso' })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    const [published] = downloadsOutput(result)
    expect(published).toMatchObject({ name: 'big.iso', size: 200 * MiB, sha256: expected })
    expect(await fetchSha256(published.html_url)).toBe(expected)
    expect(s.emulator.downloads(REPO).map((d) => [d.name, d.size, d.sha256])).toEqual([
      ['big.iso', 200 * MiB, expected]
    ])
    // A big file is compared by the stored ETag (its MD5), not by reading it back.
    const changes = s.changes().length
    const again = await s.run({ glob: 'big.iso' })
    expect(again.code).toBe(0)
    expect(downloadsOutput(again).map((d) => [d.name, d.status])).toEqual([
      ['big.iso', 'unchanged']
    ])
    expect(s.changes()).toHaveLength(changes)
  }, 180_000)

  it('finds a clash past the first page of 100 downloads and refuses it, changing nothing', async () => {
    const s = closeAfterTest(await stage())
    for (let i = 0; i < 150; i++)
      s.emulator.seed(REPO, { name: `old-${i}.txt`, content: `old ${i}` })
    await s.files({ 'old-140.txt': 'new 140', 'old-7.txt': 'new 7', 'fresh.txt': 'fresh' })

    const result = await s.run({ glob: '*.txt' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toContain('old-140.txt')
    expect(result.errors[0]).toContain('old-7.txt')
    expect(result.errors[0]).toContain('replace-existing')
    expect(s.changes()).toEqual([])
    expect(s.emulator.downloads(REPO)).toHaveLength(150)
    // Every page was read: 150 at 100 a page.
    expect(s.emulator.requests.filter((r) => r.hop === 'list')).toHaveLength(2)
  })

  it('replaces a download past the first page when replace-existing is true', async () => {
    const s = closeAfterTest(await stage())
    for (let i = 0; i < 120; i++)
      s.emulator.seed(REPO, { name: `old-${i}.txt`, content: `old ${i}`, description: `was ${i}` })
    await s.files({ 'old-110.txt': 'the new 110' })

    const result = await s.run({ glob: '*.txt', 'replace-existing': 'true', description: 'new' })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    const [published] = downloadsOutput(result)
    expect(published.name).toBe('old-110.txt')
    expect((await fetchBytes(published.html_url)).toString()).toBe('the new 110')
    const stored = s.emulator.downloads(REPO)
    expect(stored).toHaveLength(120)
    expect(stored.filter((d) => d.name === 'old-110.txt').map((d) => d.description)).toEqual([
      'new'
    ])
    expect(result.summary).toContain('replaced')
  })

  it('a dry run reports the plan and changes nothing', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'a.txt', content: 'old a' })
    await s.files({ 'a.txt': 'new a', 'b.txt': 'b' })

    const result = await s.run({ glob: '*.txt', 'replace-existing': 'true', 'dry-run': 'true' })

    expect(result.code).toBe(0)
    expect(s.changes()).toEqual([])
    expect(result.stdout).toContain('replace a.txt')
    expect(result.stdout).toContain('create b.txt')
    expect(result.summary).toContain('dry run')
    expect(result.outputs.count).toBe('0')
    expect(result.outputs.urls).toBe('')
    expect(JSON.parse(result.outputs.downloads)).toEqual([
      {
        id: null,
        name: 'a.txt',
        size: 5,
        content_type: 'text/plain',
        url: null,
        html_url: null,
        sha256: sha256('new a'),
        planned: 'replace'
      },
      {
        id: null,
        name: 'b.txt',
        size: 1,
        content_type: 'text/plain',
        url: null,
        html_url: null,
        sha256: sha256('b'),
        planned: 'create'
      }
    ])
  })
})
