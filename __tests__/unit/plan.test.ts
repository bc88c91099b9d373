import { afterEach, describe, expect, it } from '@jest/globals'
import type { Download } from '../../src/downloads-api.js'
import type { SourceFile } from '../../src/files.js'
import {
  COMPARE_BYTES_LIMIT,
  describeItem,
  makePlan,
  type ClashInspector,
  type Digests
} from '../../src/plan.js'
import type { StoredObject } from '../../src/stored-bytes.js'

const source = (name: string, size = 10): SourceFile => ({
  path: `/ws/dist/${name}`,
  name,
  size,
  contentType: 'application/zip'
})

const download = (id: number, name: string): Download => ({
  id,
  name,
  description: '',
  size: 10,
  contentType: 'application/zip',
  url: `https://api.github.com/repos/o/r/downloads/${id}`,
  htmlUrl: `https://github.com/downloads/o/r/${name}`,
  createdAt: '2013-06-24T15:49:14Z'
})

/** Every local file's MD5 is `local-<name>`, unless the stored bytes were made to match. */
const digestsOf = (a: SourceFile): Digests => ({ md5: `local-${a.name}`, sha256: `sha-${a.name}` })

/**
 * An inspector over a fake S3: `stored` maps a download name to what S3 holds for it (null: no
 * bytes, an Error: it cannot tell); a name not in the map holds other bytes of the same size.
 * Records which downloads were read back in full.
 */
function inspector(
  stored: Record<string, StoredObject | null | Error> = {},
  fullMd5: Record<string, string | Error> = {}
): ClashInspector & { readBack: string[] } {
  const readBack: string[] = []
  return {
    readBack,
    async stored(d) {
      const object = d.name in stored ? stored[d.name] : { size: 10, md5: 'someone-elses' }
      if (object instanceof Error) throw object
      return object
    },
    async storedMd5(d) {
      readBack.push(d.name)
      const md5 = fullMd5[d.name] ?? 'someone-elses'
      if (md5 instanceof Error) throw md5
      return md5
    },
    async digestsOf(a) {
      return digestsOf(a)
    },
    // Every record is an hour old unless a test says otherwise.
    ageSeconds: (d) => ages.get(d.name) ?? 3600
  }
}

const ages = new Map<string, number>()

const files = ['a.zip', 'b.zip', 'c.zip', 'd.zip'].map((name) => source(name))
const existing = [download(7, 'b.zip'), download(8, 'other.zip'), download(9, 'd.zip')]

describe('makePlan', () => {
  afterEach(() => {
    ages.clear()
  })

  it('leaves alone a record without bytes that is minutes old: another run may be uploading it', async () => {
    ages.set('b.zip', 60)
    const empty = [{ ...download(7, 'b.zip'), size: 0 }]
    await expect(makePlan(files, empty, true, 'o/r', inspector({ 'b.zip': null }))).rejects.toThrow(
      /b\.zip \(created 60 s ago and without bytes yet: another run may be uploading it\)/
    )
  })

  it('does not take an S3 404 for "no bytes" when the server lists a size', async () => {
    const listed = [{ ...download(7, 'b.zip'), size: 10 }]
    await expect(
      makePlan(files, listed, false, 'o/r', inspector({ 'b.zip': null }))
    ).rejects.toThrow(/b\.zip \(S3 has no object for it, but the server lists 10 bytes\)/)
  })

  it('creates every file when nothing clashes', async () => {
    const plan = await makePlan(files, [download(1, 'unrelated.zip')], false, 'o/r', inspector())
    expect(plan).toEqual(files.map((a) => ({ action: 'create', source: a })))
  })

  it('without replace-existing, stops with one error listing every clash', async () => {
    await expect(makePlan(files, existing, false, 'o/r', inspector())).rejects.toThrow(
      "2 downloads already exist in o/r with the same name and other bytes: b.zip, d.zip. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files."
    )
  })

  it('says "already exists" for a single clash', async () => {
    await expect(
      makePlan(files, [download(7, 'b.zip')], false, 'o/r', inspector())
    ).rejects.toThrow(
      /^1 download already exists in o\/r with the same name and other bytes: b\.zip\. /
    )
  })

  it('with replace-existing, marks which download each file replaces', async () => {
    const plan = await makePlan(files, existing, true, 'o/r', inspector())
    expect(plan.map((item) => [item.source.name, item.action])).toEqual([
      ['a.zip', 'create'],
      ['b.zip', 'replace'],
      ['c.zip', 'create'],
      ['d.zip', 'replace']
    ])
    expect(plan[1]).toEqual({
      action: 'replace',
      source: files[1],
      replaces: existing[0],
      reason: 'replace-existing'
    })
  })

  it('replaces a download without bytes (an unfinished upload) even without replace-existing', async () => {
    // As GitHub listed one: size 0, and S3 has no object for it.
    const empty = { ...download(7, 'b.zip'), size: 0 }
    const plan = await makePlan(
      [source('b.zip')],
      [empty],
      false,
      'o/r',
      inspector({ 'b.zip': null })
    )
    expect(plan).toEqual([
      { action: 'replace', source: source('b.zip'), replaces: empty, reason: 'no-bytes' }
    ])
  })

  it('leaves a download that already holds exactly these bytes unchanged, without replace-existing', async () => {
    const plan = await makePlan(
      [source('b.zip')],
      [download(7, 'b.zip')],
      false,
      'o/r',
      inspector({ 'b.zip': { size: 10, md5: 'local-b.zip' } })
    )
    expect(plan).toEqual([
      {
        action: 'unchanged',
        source: source('b.zip'),
        existing: download(7, 'b.zip'),
        digests: digestsOf(source('b.zip'))
      }
    ])
  })

  it('takes a download of another size as other bytes', async () => {
    await expect(
      makePlan(
        [source('b.zip', 11)],
        [download(7, 'b.zip')],
        false,
        'o/r',
        inspector({ 'b.zip': { size: 10, md5: 'local-b.zip' } })
      )
    ).rejects.toThrow('already exists in o/r with the same name and other bytes: b.zip.')
  })

  it('without an MD5 ETag, reads a small download back to compare it', async () => {
    const inspect = inspector({ 'b.zip': { size: 10, md5: null } }, { 'b.zip': 'local-b.zip' })
    const plan = await makePlan([source('b.zip')], [download(7, 'b.zip')], false, 'o/r', inspect)
    expect(plan.map((item) => item.action)).toEqual(['unchanged'])
    expect(inspect.readBack).toEqual(['b.zip'])
  })

  it('without an MD5 ETag, never reads a large download back, and says why it cannot tell', async () => {
    const big = COMPARE_BYTES_LIMIT + 1
    const inspect = inspector({ 'b.zip': { size: big, md5: null } }, { 'b.zip': 'local-b.zip' })
    await expect(
      makePlan([source('b.zip', big)], [download(7, 'b.zip')], false, 'o/r', inspect)
    ).rejects.toThrow(
      'with the same name and other bytes: b.zip (the server gives no MD5 to compare with).'
    )
    expect(inspect.readBack).toEqual([])
  })

  it('takes a read-back that fails as other bytes', async () => {
    const inspect = inspector(
      { 'b.zip': { size: 10, md5: null } },
      { 'b.zip': new Error('connection reset') }
    )
    const plan = await makePlan([source('b.zip')], [download(7, 'b.zip')], true, 'o/r', inspect)
    expect(plan.map((item) => item.action)).toEqual(['replace'])
  })

  it('never replaces unasked a download whose bytes cannot be looked at, and says so', async () => {
    const inspect = inspector({ 'b.zip': new Error('Fetching the stored b.zip answered 403.') })
    await expect(
      makePlan([source('b.zip')], [download(7, 'b.zip')], false, 'o/r', inspect)
    ).rejects.toThrow(
      'b.zip (its bytes could not be read: Fetching the stored b.zip answered 403.). Nothing was changed.'
    )
    const plan = await makePlan([source('b.zip')], [download(7, 'b.zip')], true, 'o/r', inspect)
    expect(plan).toEqual([
      {
        action: 'replace',
        source: source('b.zip'),
        replaces: download(7, 'b.zip'),
        reason: 'replace-existing'
      }
    ])
  })
})

describe('describeItem', () => {
  it('gives each action its line for the log and the dry run', () => {
    const a = source('a.zip')
    const old = download(7, 'a.zip')
    expect([
      describeItem({ action: 'create', source: a }),
      describeItem({ action: 'replace', source: a, replaces: old, reason: 'replace-existing' }),
      describeItem({ action: 'replace', source: a, replaces: old, reason: 'no-bytes' }),
      describeItem({ action: 'unchanged', source: a, existing: old, digests: digestsOf(a) })
    ]).toEqual([
      'create a.zip',
      'replace a.zip (download 7)',
      'replace a.zip (download 7 holds no bytes: an unfinished upload)',
      'unchanged a.zip (download 7 already holds these bytes)'
    ])
  })
})
