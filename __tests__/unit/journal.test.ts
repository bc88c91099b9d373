import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { finishedCleanly, Journal, namesToSettle, type JournalEntry } from '../../src/journal.js'

let dir: string
let file: string

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'journal-test-'))
  file = path.join(dir, 'journal.jsonl')
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const deleteEntry = (copy: string | null = '/tmp/run/previous-7'): JournalEntry => ({
  op: 'delete',
  name: 'app.zip',
  id: 7,
  description: 'v1',
  contentType: 'application/zip',
  copy,
  size: 3,
  md5: copy === null ? null : '47bce5c74f589f4867dbd57e9ca9f808'
})

const aRun: JournalEntry[] = [
  { op: 'run', repository: 'octo/demo', at: '2024-05-01T12:00:00.000Z' },
  deleteEntry(),
  { op: 'deleted', name: 'app.zip', id: 7 },
  { op: 'create', name: 'app.zip', size: 9 },
  { op: 'created', name: 'app.zip', id: 8 },
  { op: 'landed', name: 'app.zip', id: 8 },
  { op: 'create', name: 'b.zip', size: 1 },
  { op: 'removed', name: 'b.zip', id: null },
  { op: 'done' }
]

describe('Journal', () => {
  it('reads back every entry recorded, in order', async () => {
    const journal = Journal.open(file)
    for (const entry of aRun) await journal.record(entry)
    journal.close()

    expect(journal.entries).toEqual(aRun)
    expect(await Journal.read(file)).toEqual({ entries: aRun, skipped: 0 })
  })

  it('appends to a journal that exists (the post step writes after the main step)', async () => {
    const main = Journal.open(file)
    await main.record(aRun[0])
    main.close()
    const post = Journal.open(file)
    await post.record({ op: 'done' })
    post.close()

    expect((await Journal.read(file)).entries).toEqual([aRun[0], { op: 'done' }])
  })

  it('keeps the order of entries recorded at once (uploads in parallel), each on disk when it resolves', async () => {
    const journal = Journal.open(file)
    const recorded = aRun.map((entry) => journal.record(entry))
    // Written at once, in call order, before any sync has finished.
    expect(journal.entries).toEqual(aRun)
    await Promise.all(recorded)
    journal.close()

    expect(await Journal.read(file)).toEqual({ entries: aRun, skipped: 0 })
  })

  it('lets a sync still running finish when closed', async () => {
    const journal = Journal.open(file)
    const last = journal.record(aRun[0])
    journal.close()
    await last

    expect(await Journal.read(file)).toEqual({ entries: [aRun[0]], skipped: 0 })
  })

  it('is readable by its owner only: it names the saved copies', async () => {
    Journal.open(file).close()
    expect((await stat(file)).mode & 0o077).toBe(0)
  })

  it('refuses an entry once closed', () => {
    const journal = Journal.open(file)
    journal.close()
    expect(() => journal.record({ op: 'done' })).toThrow('the journal is closed')
  })

  it('passes over lines cut short, in the middle and at the end, and counts them', async () => {
    const lines = aRun.slice(0, 4).map((entry) => JSON.stringify(entry))
    await writeFile(
      file,
      `${lines[0]}\n${lines[1]}\n${lines[2].slice(0, 12)}\n${lines[3]}\n${JSON.stringify(aRun[4]).slice(0, 20)}`
    )

    expect(await Journal.read(file)).toEqual({
      entries: [aRun[0], aRun[1], aRun[3]],
      skipped: 2
    })
  })

  it('starts a fresh line when it reopens a journal that a kill cut mid-line', async () => {
    await writeFile(file, '{"op":"create","name":"a","size":1}\n{"op":"crea')
    const journal = Journal.open(file)
    await journal.record({ op: 'removed', name: 'a', id: null })
    journal.close()

    const { entries, skipped } = await Journal.read(file)
    expect(skipped).toBe(1)
    expect(entries).toEqual([
      { op: 'create', name: 'a', size: 1 },
      { op: 'removed', name: 'a', id: null }
    ])
  })

  it('passes over lines that are JSON but no entry', async () => {
    await writeFile(file, `null\n42\n"text"\n{"name":"app.zip"}\n\n${JSON.stringify(aRun[0])}\n`)
    expect(await Journal.read(file)).toEqual({ entries: [aRun[0]], skipped: 4 })
  })

  it('writes each entry as one whole line, whatever the name holds', async () => {
    const journal = Journal.open(file)
    await journal.record({ op: 'create', name: 'line\nbreak.zip', size: 1 })
    journal.close()
    expect(await readFile(file, 'utf8')).toBe(
      '{"op":"create","name":"line\\nbreak.zip","size":1}\n'
    )
  })
})

describe('namesToSettle', () => {
  const names = (entries: JournalEntry[]) => namesToSettle(entries).map((state) => state.name)

  it('leaves open a create whose record exists and whose bytes have not landed', () => {
    expect(
      namesToSettle([
        { op: 'create', name: 'app.zip', size: 9 },
        { op: 'created', name: 'app.zip', id: 8 }
      ])
    ).toEqual([{ name: 'app.zip', createPending: true, createdId: 8, landed: false }])
  })

  it('leaves open a create whose answer never came', () => {
    expect(names([{ op: 'create', name: 'app.zip', size: 9 }])).toEqual(['app.zip'])
  })

  it('settles a create whose bytes landed', () => {
    expect(
      names([
        { op: 'create', name: 'app.zip', size: 9 },
        { op: 'created', name: 'app.zip', id: 8 },
        { op: 'landed', name: 'app.zip', id: 8 }
      ])
    ).toEqual([])
  })

  it('settles a create that left no record (removed, id unknown)', () => {
    expect(
      names([
        { op: 'create', name: 'app.zip', size: 9 },
        { op: 'removed', name: 'app.zip', id: null }
      ])
    ).toEqual([])
  })

  it('settles a create whose record was removed again', () => {
    expect(
      names([
        { op: 'create', name: 'app.zip', size: 9 },
        { op: 'created', name: 'app.zip', id: 8 },
        { op: 'removed', name: 'app.zip', id: 8 }
      ])
    ).toEqual([])
  })

  it('leaves open a replaced download that is gone, with where its copy is', () => {
    expect(namesToSettle([deleteEntry(), { op: 'deleted', name: 'app.zip', id: 7 }])).toEqual([
      {
        name: 'app.zip',
        createPending: false,
        landed: false,
        replaced: { ...deleteEntry(), deleted: true }
      }
    ])
  })

  it('leaves open a delete that was announced but not confirmed: the server has the last word', () => {
    expect(namesToSettle([deleteEntry()])).toEqual([
      expect.objectContaining({ replaced: { ...deleteEntry(), deleted: false } })
    ])
  })

  it('settles a replace that stopped before the delete (kept)', () => {
    expect(names([deleteEntry(), { op: 'kept', name: 'app.zip', id: 7 }])).toEqual([])
  })

  it('settles a replace whose successor landed', () => {
    expect(names(aRun.slice(1, 6))).toEqual([])
  })

  it('leaves open a replace whose successor failed, until the copy is put back', () => {
    const failed: JournalEntry[] = [
      deleteEntry(),
      { op: 'deleted', name: 'app.zip', id: 7 },
      { op: 'create', name: 'app.zip', size: 9 },
      { op: 'created', name: 'app.zip', id: 8 },
      { op: 'removed', name: 'app.zip', id: 8 }
    ]
    expect(names(failed)).toEqual(['app.zip'])
    // The restore: its own create, created and landed, then restored.
    const restore: JournalEntry[] = [
      { op: 'create', name: 'app.zip', size: 3 },
      { op: 'created', name: 'app.zip', id: 9 },
      { op: 'landed', name: 'app.zip', id: 9 },
      { op: 'restored', name: 'app.zip', id: 9 }
    ]
    expect(names([...failed, ...restore.slice(0, 2)])).toEqual(['app.zip'])
    expect(names([...failed, ...restore])).toEqual([])
  })

  it('settles a replace whose copy was put back', () => {
    expect(
      names([
        deleteEntry(),
        { op: 'deleted', name: 'app.zip', id: 7 },
        { op: 'create', name: 'app.zip', size: 3 },
        { op: 'created', name: 'app.zip', id: 9 },
        { op: 'landed', name: 'app.zip', id: 9 },
        { op: 'restored', name: 'app.zip', id: 9 }
      ])
    ).toEqual([])
  })

  it('settles each name on its own', () => {
    expect(
      names([
        { op: 'create', name: 'a.zip', size: 1 },
        { op: 'create', name: 'b.zip', size: 1 },
        { op: 'created', name: 'a.zip', id: 1 },
        { op: 'created', name: 'b.zip', id: 2 },
        { op: 'landed', name: 'b.zip', id: 2 },
        { op: 'create', name: 'c.zip', size: 1 }
      ])
    ).toEqual(['a.zip', 'c.zip'])
  })
})

describe('finishedCleanly', () => {
  it('is true once the run recorded done, and only then', () => {
    expect(finishedCleanly(aRun)).toBe(true)
    expect(finishedCleanly(aRun.slice(0, -1))).toBe(false)
    expect(finishedCleanly([])).toBe(false)
  })
})
