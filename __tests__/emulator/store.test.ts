/**
 * The store's file operations on one key take turns: an upload being moved into place, the
 * removal of a deleted download's bytes and the opening of an object for a GET.
 */
import { createHash } from 'node:crypto'
import { access, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteCatalog } from '../../emulator/sqlite-catalog.js'
import { DownloadStore, type DownloadRecord } from '../../emulator/store.js'

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

  function newDownload(name: string): DownloadRecord {
    return store.create(REPO, {
      name,
      description: '',
      contentType: 'text/plain',
      mimeType: 'text/plain',
      declaredSize: 0
    })
  }

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
    expect(await readFile(store.objectPath(record.key), 'utf8')).toBe('the second, longer')
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
