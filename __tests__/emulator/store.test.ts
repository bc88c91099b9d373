/**
 * The store's file operations on one key take turns: an upload being moved into place, the
 * removal of a deleted download's bytes and the opening of an object for a GET.
 */
import { createHash } from 'node:crypto'
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteCatalog } from '../../emulator/sqlite-catalog.js'
import { DownloadStore, type DownloadRecord } from '../../emulator/store.js'

/** An empty text download of `name`, as a create makes one. */
function textDownload(store: DownloadStore, name: string): DownloadRecord {
  return store.create(REPO, {
    name,
    description: '',
    contentType: 'text/plain',
    mimeType: 'text/plain',
    declaredSize: 0
  })
}

const REPO = 'octocat/hello-world'
let dir: string
let store: DownloadStore

// The emulator keeps its metadata in memory, the server in SQLite: the bytes' rules are the same.
describe.each([
  ['in memory', (): DownloadStore => new DownloadStore(dir, [REPO])],
  [
    'in SQLite',
    (): DownloadStore =>
      new DownloadStore(dir, [REPO], {
        catalog: new SqliteCatalog(join(dir, 'downloads.sqlite'), [REPO]),
        durable: true
      })
  ]
])('with the metadata %s', (_where, makeStore) => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emulator-store-test-'))
    store = makeStore()
  })

  afterEach(async () => {
    store.close()
    await rm(dir, { recursive: true, force: true })
  })

  const newDownload = (name: string): DownloadRecord => textDownload(store, name)

  /** An upload that reached the end of its file part, waiting in `.incoming`. */
  async function incoming(content: string): Promise<{ path: string; md5: string; size: number }> {
    const path = store.incomingPath()
    await writeFile(path, content)
    return { path, md5: createHash('md5').update(content).digest('hex'), size: content.length }
  }

  function result(upload: { md5: string; size: number }): {
    size: number
    md5: string
    sha256: string
    contentType: string
  } {
    return { size: upload.size, md5: upload.md5, sha256: '', contentType: 'text/plain' }
  }

  it('never leaves bytes behind when a delete lands while an upload is moved into place', async () => {
    const record = newDownload('race.txt')
    const upload = await incoming('late bytes')
    // Both start in the same tick. Before the key's operations took turns, the commit had found
    // the download live and went on to rename while the delete removed a file not there yet:
    // the bytes stayed on disk with nothing referring to them.
    const commit = store.commitUpload(record, upload.path, result(upload))
    const removal = store.remove(record)
    await Promise.all([commit, removal])
    await expect(access(store.objectPath(record.key))).rejects.toThrow()
    expect(await readdir(store.incomingDir)).toEqual([])
    expect(store.list(REPO)).toEqual([])
  })

  it('drops an upload for a download deleted before it was moved into place', async () => {
    const record = newDownload('gone.txt')
    const upload = await incoming('orphan')
    await store.remove(record)
    expect(await store.commitUpload(record, upload.path, result(upload))).toBe(false)
    await expect(access(store.objectPath(record.key))).rejects.toThrow()
    expect(await readdir(store.incomingDir)).toEqual([])
  })

  it('opens an object with the size and MD5 of the same upload while another lands', async () => {
    const record = newDownload('both.txt')
    const first = await incoming('first')
    await store.commitUpload(record, first.path, result(first))
    const second = await incoming('the second, longer')
    const commit = store.commitUpload(record, second.path, result(second))
    const object = await store.openObject(record.key)
    await commit
    expect(object).toBeDefined()
    if (!object) return
    try {
      const bytes = await object.handle.readFile()
      expect({ size: object.size, md5: object.md5 }).toEqual({
        size: bytes.length,
        md5: createHash('md5').update(bytes).digest('hex')
      })
      expect(bytes.toString()).toBe('the second, longer')
    } finally {
      await object.handle.close()
    }
    const stored = store.findByKey(record.key)?.filePath ?? ''
    expect(await readFile(stored, 'utf8')).toBe('the second, longer')
  })

  it('opens nothing for a download without bytes or one deleted', async () => {
    const record = newDownload('empty.txt')
    expect(await store.openObject(record.key)).toBeUndefined()
    const upload = await incoming('x')
    await store.commitUpload(record, upload.path, result(upload))
    const removal = store.remove(record)
    expect(await store.openObject(record.key)).toBeUndefined()
    await removal
  })
})

/** The server's catalog, whose next saves fail (as on a full disk) while `failing` is set. */
class FailingCatalog extends SqliteCatalog {
  failing = false
  override saveObject(record: DownloadRecord): void {
    if (this.failing) throw new Error('database or disk is full')
    super.saveObject(record)
  }
}

describe('the server (durable)', () => {
  let catalog: FailingCatalog

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emulator-store-test-'))
    catalog = new FailingCatalog(join(dir, 'downloads.sqlite'), [REPO])
    store = new DownloadStore(dir, [REPO], { catalog, durable: true })
  })

  afterEach(async () => {
    store.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function upload(record: DownloadRecord, content: string): Promise<boolean> {
    const path = store.incomingPath()
    await writeFile(path, content)
    const md5 = createHash('md5').update(content).digest('hex')
    return store.commitUpload(record, path, {
      size: content.length,
      md5,
      sha256: '',
      contentType: 'text/plain'
    })
  }

  const create = (name: string): DownloadRecord => textDownload(store, name)

  async function served(key: string): Promise<{ text: string; md5OfBytes: string; md5: string }> {
    const object = await store.openObject(key)
    if (!object) throw new Error(`nothing at ${key}`)
    try {
      const bytes = await object.handle.readFile()
      return {
        text: bytes.toString(),
        md5OfBytes: createHash('md5').update(bytes).digest('hex'),
        md5: object.md5
      }
    } finally {
      await object.handle.close()
    }
  }

  it('keeps the old bytes with their record when an overwrite could not be recorded', async () => {
    const record = create('over.txt')
    expect(await upload(record, 'first')).toBe(true)
    catalog.failing = true
    await expect(upload(record, 'the second, never acknowledged')).rejects.toThrow('full')
    catalog.failing = false
    // The bytes served are the ones the record describes: the first upload's.
    const object = await served(record.key)
    expect(object.text).toBe('first')
    expect(object.md5).toBe(object.md5OfBytes)
    // And the failed upload left no file behind.
    expect(await readdir(store.objectsDir)).toHaveLength(1)
  })

  it('keeps each upload under a name of its own, and an overwrite removes the old file', async () => {
    const record = create('twice.txt')
    await upload(record, 'one')
    const first = store.findByKey(record.key)?.filePath
    await upload(record, 'two')
    const second = store.findByKey(record.key)?.filePath
    expect(first).not.toBe(second)
    expect(await readdir(store.objectsDir)).toEqual([second?.split('/').pop()])
    await store.remove(store.findByKey(record.key) ?? record)
    expect(await readdir(store.objectsDir)).toEqual([])
  })

  it('removes at start-up the files that nothing refers to', async () => {
    const record = create('kept.txt')
    await upload(record, 'kept')
    store.close()
    // What kills left behind: an upload not yet recorded, an old file not yet removed, a
    // deleted download's bytes under the earlier layout, an upload still coming in.
    await writeFile(join(dir, 'objects', 'not-recorded'), 'x')
    await mkdir(join(dir, 'downloads', REPO), { recursive: true })
    await writeFile(join(dir, 'downloads', REPO, 'deleted.txt'), 'x')
    await writeFile(join(dir, '.incoming', 'partial'), 'x')

    catalog = new FailingCatalog(join(dir, 'downloads.sqlite'), [REPO])
    store = new DownloadStore(dir, [REPO], { catalog, durable: true })
    expect(await readdir(join(dir, 'objects'))).toHaveLength(1)
    expect(await readdir(join(dir, 'downloads', REPO))).toEqual([])
    expect(await readdir(join(dir, '.incoming'))).toEqual([])
    expect((await served(record.key)).text).toBe('kept')
  })
})
