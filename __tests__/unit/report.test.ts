import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { Download } from '../../src/downloads-api.js'
import type { PlanItem } from '../../src/plan.js'
import type { Published } from '../../src/publish.js'
import { createCoreFake } from '../helpers/core-fake.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const {
  OUTPUT_BUDGET,
  SUMMARY_BUDGET,
  compareNames,
  humanSize,
  setOutputs,
  setReleaseOutputs,
  writeSummary
} = await import('../../src/report.js')

const savedRunnerTemp = process.env.RUNNER_TEMP
let runnerTemp: string

beforeEach(async () => {
  fake.reset()
  runnerTemp = await mkdtemp(path.join(tmpdir(), 'report-test-'))
  process.env.RUNNER_TEMP = runnerTemp
})

afterEach(async () => {
  process.env.RUNNER_TEMP = savedRunnerTemp
  await rm(runnerTemp, { recursive: true, force: true })
})

function published(id: number, name: string, size: number, replaced?: Download): Published {
  return {
    source: { path: `/ws/dist/${name}`, name, size, contentType: 'application/zip' },
    download: {
      id,
      name,
      description: 'Nightly',
      size,
      contentType: 'application/zip',
      url: `https://api.github.com/repos/o/r/downloads/${id}`,
      htmlUrl: `https://github.com/downloads/o/r/${name}`,
      createdAt: '2013-06-24T15:49:14Z'
    },
    mimeType: name.endsWith('.txt') ? 'text/plain' : 'application/zip',
    sha256: `${String(id).repeat(12)}${'f'.repeat(52)}`.slice(0, 64),
    md5: 'd41d8cd98f00b204e9800998ecf8427e',
    status: replaced ? 'replaced' : 'created',
    replaced
  }
}

const zeta = published(3, 'zeta.zip', 2048)
const alpha = published(1, 'alpha.txt', 10)
const Beta = published(2, 'Beta.zip', 3 * 1024 * 1024)

describe('setOutputs', () => {
  it('lists the html_urls one per line in file-name order, and the count', () => {
    setOutputs([zeta, alpha, Beta])
    expect(fake.outputs.urls).toBe(
      [
        'https://github.com/downloads/o/r/Beta.zip',
        'https://github.com/downloads/o/r/alpha.txt',
        'https://github.com/downloads/o/r/zeta.zip'
      ].join('\n')
    )
    expect(fake.outputs.count).toBe('3')
  })

  it('gives downloads as JSON with exactly id, name, size, content_type, url, html_url, sha256, status', () => {
    setOutputs([zeta, alpha])
    const downloads = JSON.parse(fake.outputs.downloads) as Record<string, unknown>[]
    const keys = ['id', 'name', 'size', 'content_type', 'url', 'html_url', 'sha256', 'status']
    expect(downloads.map((d) => Object.keys(d))).toEqual([keys, keys])
    expect(downloads[0]).toEqual({
      id: 1,
      name: 'alpha.txt',
      size: 10,
      // The server's MIME type, which S3 stored, not the local guess.
      content_type: 'text/plain',
      url: 'https://api.github.com/repos/o/r/downloads/1',
      html_url: 'https://github.com/downloads/o/r/alpha.txt',
      sha256: alpha.sha256,
      status: 'created'
    })
  })

  it('says of each download whether it was created, replaced or already there', () => {
    const old = { ...zeta.download, id: 99 }
    const kept: Published = { ...Beta, status: 'unchanged' }
    setOutputs([published(3, 'zeta.zip', 2048, old), alpha, kept])
    const downloads = JSON.parse(fake.outputs.downloads) as { name: string; status: string }[]
    expect(downloads.map((d) => [d.name, d.status])).toEqual([
      ['Beta.zip', 'unchanged'],
      ['alpha.txt', 'created'],
      ['zeta.zip', 'replaced']
    ])
  })

  it("writes the whole list to the file named by 'downloads-file', under RUNNER_TEMP", async () => {
    setOutputs([zeta, alpha])
    const file = fake.outputs['downloads-file']
    expect(path.dirname(file)).toBe(runnerTemp)
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(JSON.parse(fake.outputs.downloads))
  })

  it('sets empty outputs and a count of 0 when nothing was published', async () => {
    setOutputs([])
    expect(fake.outputs).toEqual({
      urls: '',
      downloads: '[]',
      count: '0',
      'downloads-file': expect.any(String)
    })
    expect(JSON.parse(await readFile(fake.outputs['downloads-file'], 'utf8'))).toEqual([])
  })

  // GitHub fails a step whose output passes 1 MB: the outputs keep as many leading files as
  // fit in OUTPUT_BUDGET bytes, and a file that fills it to the byte is still kept.
  describe('at the output budget', () => {
    const cut = (kept: number) => `hold the first ${kept} of 2 files`

    it("keeps a 'downloads' entry that ends exactly at the budget, and cuts one a byte past it", () => {
      // The second entry grows with its sha256; measure the pair once with an empty one.
      const withSha = (sha256: string) => [alpha, { ...zeta, sha256 }]
      setOutputs(withSha(''))
      const room = OUTPUT_BUDGET - Buffer.byteLength(fake.outputs.downloads)

      // Mostly two-byte characters: the budget counts bytes, not characters.
      const filler = `${'é'.repeat(Math.floor(room / 2))}${room % 2 === 1 ? 'x' : ''}`
      fake.reset()
      setOutputs(withSha(filler))
      expect(Buffer.byteLength(fake.outputs.downloads)).toBe(OUTPUT_BUDGET)
      expect(JSON.parse(fake.outputs.downloads)).toHaveLength(2)
      expect(fake.log.filter((line) => line.startsWith('warning:'))).toEqual([])

      fake.reset()
      setOutputs(withSha(`${filler}x`))
      const downloads = JSON.parse(fake.outputs.downloads) as { name: string }[]
      expect(downloads.map((d) => d.name)).toEqual(['alpha.txt'])
      expect(fake.log.join('\n')).toContain(cut(1))
    })

    it("keeps a 'urls' line that ends exactly at the budget, and cuts one a byte past it", () => {
      const withUrl = (htmlUrl: string) => [
        alpha,
        { ...zeta, download: { ...zeta.download, htmlUrl } }
      ]
      const first = alpha.download.htmlUrl
      const exact = 'u'.repeat(OUTPUT_BUDGET - Buffer.byteLength(first) - 1)

      setOutputs(withUrl(exact))
      expect(fake.outputs.urls).toBe(`${first}\n${exact}`)
      expect(Buffer.byteLength(fake.outputs.urls)).toBe(OUTPUT_BUDGET)

      fake.reset()
      setOutputs(withUrl(`${exact}u`))
      expect(fake.outputs.urls).toBe(first)
      expect(fake.log.join('\n')).toContain(cut(1))
    })
  })
})

describe('setReleaseOutputs', () => {
  const old = (i: number, name: string): Download => ({
    ...zeta.download,
    id: 1000 + i,
    name
  })

  it('lists the pruned downloads by id and name, and sets checksums-path only when given', () => {
    setReleaseOutputs({ pruned: [old(1, 'a.zip'), old(2, 'b "2".zip')] })
    expect(fake.outputs).toEqual({
      pruned: JSON.stringify([
        { id: 1001, name: 'a.zip' },
        { id: 1002, name: 'b "2".zip' }
      ])
    })
    fake.reset()
    setReleaseOutputs({ checksumsPath: '/tmp/SHA256SUMS', pruned: [] })
    expect(fake.outputs).toEqual({ 'checksums-path': '/tmp/SHA256SUMS', pruned: '[]' })
    expect(fake.log.filter((line) => line.startsWith('warning:'))).toEqual([])
  })

  it("keeps 'pruned' under GitHub's output cap, and says the log has the rest", () => {
    const many = Array.from({ length: 12000 }, (_, i) =>
      old(i, `${'nightly-é-'.repeat(8)}${i}.zip`)
    )
    setReleaseOutputs({ pruned: many })
    expect(Buffer.byteLength(fake.outputs.pruned)).toBeLessThanOrEqual(OUTPUT_BUDGET)
    const listed = JSON.parse(fake.outputs.pruned) as { id: number; name: string }[]
    expect(listed.length).toBeGreaterThan(5000)
    expect(listed.length).toBeLessThan(12000)
    expect(listed).toEqual(many.slice(0, listed.length).map((d) => ({ id: d.id, name: d.name })))
    expect(fake.log).toContain(
      `warning: The 'pruned' output holds the first ${listed.length} of 12000 pruned downloads (GitHub caps an output at 1 MB); the log names every one.`
    )
  })
})

describe('writeSummary', () => {
  const base = { planned: [], dryRun: false, repository: 'o/r', elapsedMs: 2000 }

  it('tables what landed in name order, with sizes, digests, links and totals', async () => {
    const old = { ...zeta.download, id: 99 }
    await writeSummary({
      ...base,
      published: [published(3, 'zeta.zip', 2048, old), Beta],
      failed: []
    })
    expect(fake.summaryEntries()).toEqual([
      'heading: Downloads for o/r: published',
      [
        'table: File | Size | SHA-256 | Download | Status',
        `Beta.zip | 3.0 MiB | <code>222222222222</code> | <a href="https://github.com/downloads/o/r/Beta.zip">https://github.com/downloads/o/r/Beta.zip</a> | created`,
        `zeta.zip | 2.0 KiB | <code>333333333333</code> | <a href="https://github.com/downloads/o/r/zeta.zip">https://github.com/downloads/o/r/zeta.zip</a> | replaced download 99`
      ].join('\n'),
      'raw: 2 files uploaded, 3.0 MiB in 2.0 s (1.5 MiB/s)'
    ])
  })

  it('lists the files that failed, with their reasons, escaped', async () => {
    await writeSummary({
      ...base,
      published: [alpha],
      failed: [
        { name: 'b<1>.zip', message: 'S3 refused b<1>.zip: AccessDenied: "no"' },
        { name: 'c.zip', message: 'The token was refused' }
      ]
    })
    expect(fake.summary[0]).toBe('heading: Downloads for o/r: 2 failed')
    expect(fake.summary).toContain('heading: Not published')
    expect(fake.summaryEntries()).toContain(
      'list: b&lt;1&gt;.zip: S3 refused b&lt;1&gt;.zip: AccessDenied: &quot;no&quot;\nc.zip: The token was refused'
    )
    expect(fake.summary[fake.summary.length - 1]).toBe(
      'raw: 1 file uploaded, 10 B in 2.0 s (5 B/s)'
    )
  })

  it('has no table when nothing landed, and no rate for no time', async () => {
    await writeSummary({
      ...base,
      elapsedMs: 0,
      published: [],
      failed: [{ name: 'a', message: 'x' }]
    })
    expect(fake.summaryEntries().some((entry) => entry.startsWith('table:'))).toBe(false)
    expect(fake.summary[fake.summary.length - 1]).toBe('raw: 0 files uploaded, 0 B in 0.0 s')
  })

  it('writes a long table a piece at a time and cuts it under the budget, saying where the rest is', async () => {
    const many = Array.from({ length: 6000 }, (_, i) =>
      published(i + 1, `${'long-name-'.repeat(6)}${String(i).padStart(5, '0')}.zip`, 100)
    )
    const summary = fake.module.summary as unknown as { write: () => Promise<unknown> }
    const write = jest.spyOn(summary, 'write')
    await writeSummary({ ...base, published: many, failed: [] })

    const pieces = fake.summary.filter((entry) => entry.startsWith('raw (continued): '))
    // Flushed after each piece: no more than one piece of the table is held at a time.
    expect(pieces.length).toBeGreaterThan(5)
    expect(write.mock.calls.length).toBeGreaterThan(pieces.length)
    for (const piece of pieces) expect(piece.length).toBeLessThan(80 * 1024)
    const html = fake.summary
      .filter((entry) => entry.startsWith('raw'))
      .map((entry) => entry.replace(/^raw( \(continued\))?: /, ''))
      .join('')
    expect(Buffer.byteLength(html)).toBeLessThan(SUMMARY_BUDGET)

    const table = fake.summaryEntries().find((entry) => entry.startsWith('table:')) ?? ''
    const rows = table.split('\n')
    expect(rows[0]).toBe('table: File | Size | SHA-256 | Download | Status')
    expect(rows[1]).toMatch(/^long-name-.*00000\.zip \| 100 B \|/)
    const kept = rows.length - 2
    expect(kept).toBeGreaterThan(1000)
    expect(kept).toBeLessThan(6000)
    expect(rows[rows.length - 1]).toBe(
      `… and ${6000 - kept} more (GitHub caps a job summary at 1 MiB): the 'downloads-file' output has the whole list. |  |  |  | `
    )
    write.mockRestore()
  })

  it('on a dry run shows the plan and says nothing changed', async () => {
    const plan: PlanItem[] = [
      { action: 'create', source: alpha.source },
      {
        action: 'replace',
        source: zeta.source,
        replaces: { ...zeta.download, id: 42 },
        reason: 'replace-existing'
      }
    ]
    await writeSummary({ ...base, dryRun: true, planned: plan, published: [], failed: [] })
    expect(fake.summaryEntries()).toEqual([
      'heading: Downloads for o/r: dry run, nothing changed',
      'table: File | Size | Action\nalpha.txt | 10 B | create\nzeta.zip | 2.0 KiB | replace download 42'
    ])
  })
})

describe('compareNames', () => {
  it('orders names as their UTF-8 bytes do, astral characters after the whole BMP', () => {
    const alphabet = [
      'a',
      'B',
      'é',
      '\u4e2d',
      '\ud7ff',
      '\ue000',
      '\uff21',
      '\ufffd',
      '😀',
      '𐀀',
      '-',
      '.'
    ]
    let seed = 7
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const names = Array.from({ length: 400 }, () =>
      Array.from({ length: 1 + random(4) }, () => alphabet[random(alphabet.length)]).join('')
    )
    for (const a of names.slice(0, 60)) {
      for (const b of names) {
        const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
        expect([a, b, Math.sign(compareNames(a, b))]).toEqual([a, b, bytes])
      }
    }
    expect(['\uff21', '😀', 'z'].sort(compareNames)).toEqual(['z', '\uff21', '😀'])
  })
})

describe('humanSize', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [20 * 1024 ** 2, '20.0 MiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
    [3 * 1024 ** 4, '3.0 TiB'],
    [2048 * 1024 ** 4, '2048.0 TiB']
  ])('%i bytes → %s', (bytes, text) => {
    expect(humanSize(bytes)).toBe(text)
  })
})
