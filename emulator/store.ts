/**
 * The emulator's state: repositories, their downloads, and the uploaded bytes on disk.
 *
 * The metadata (repositories, downloads, counts) lives in a {@link Catalog}: in memory for the
 * emulator ({@link MemoryCatalog}), in SQLite for the server (`sqlite-catalog.ts`). The bytes
 * are the same for both: they live at `<storageDir>/<S3 key>` (`downloads/owner/repo/name`),
 * so a human can look at them. Uploads stream into `<storageDir>/.incoming/` and are renamed
 * into place only once S3 would have accepted them, so a failed upload never replaces good
 * bytes.
 *
 * The server (`durable`) keeps each upload under a name of its own, `<storageDir>/objects/<uuid>`,
 * instead: the record is pointed at the new file in one transaction, and only then is the old
 * file removed. A kill at any moment leaves the record with bytes that match it, and at most a
 * file nothing refers to, which the next start removes ({@link DownloadStore.sweep}).
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import type { StoredDownload } from './types.js'

/** A stored download plus what only the emulator needs. */
export interface DownloadRecord extends StoredDownload {
  /** The S3 key: `downloads/owner/repo/name`. */
  key: string
  downloadCount: number
  /** The Content-Type field of the successful upload (S3 serves the object with it). */
  objectContentType?: string
}

/** What the create request asked for, validated. */
export interface NewDownload {
  name: string
  description: string
  contentType: string
  mimeType: string
  declaredSize: number
  /** Default: now (seeds may backdate). */
  createdAt?: string
}

/** The digest and size of an upload that reached the end of its file part. */
export interface UploadResult {
  size: number
  md5: string
  sha256: string
  contentType: string
}

/** An uploaded object, opened, with what describes those bytes. */
export interface OpenObject {
  /** Open for reading; the caller closes it. */
  handle: FileHandle
  size: number
  mtime: Date
  md5: string
  contentType: string
}

/** GitHub's timestamps: ISO 8601 in whole seconds (`2013-06-24T15:49:14Z`). */
export function githubTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * Where the metadata lives: repositories, downloads and their counts. Every call is
 * synchronous and each write is done (and, for a persistent catalog, durable) when it returns,
 * so an answer sent after it never acknowledges something a crash could lose.
 *
 * Records a catalog hands out are its view at that moment; the writes ({@link saveObject},
 * {@link countDownload}) take a record and store what it says.
 */
export interface Catalog {
  /** Every repository served, canonical `owner/name`. */
  repoNames(): string[]
  /** The canonical `owner/name` for a repo (matched case-insensitively), or undefined. */
  resolveRepo(repo: string): string | undefined
  /** A served repo's downloads (canonical name), sorted by id. */
  list(repo: string): DownloadRecord[]
  get(repo: string, id: number): DownloadRecord | undefined
  findByName(repo: string, name: string): DownloadRecord | undefined
  findByKey(key: string): DownloadRecord | undefined
  /** Whether this very download is still stored (not deleted, not replaced by a namesake). */
  isLive(record: DownloadRecord): boolean
  /** Stores a new download with a fresh id, never one used before. */
  insert(repo: string, input: NewDownload, key: string): DownloadRecord
  /** Takes a download out; nothing when it is gone already. */
  delete(record: DownloadRecord): void
  /** Stores what `record` says about its object: uploaded, size, digests, Content-Type. */
  saveObject(record: DownloadRecord): void
  /** One more download through `html_url`; `record.downloadCount` follows. */
  countDownload(record: DownloadRecord): void
  /** The files (absolute paths) of every download stored, of every repository. */
  filePaths(): string[]
  close(): void
}

/** Checks an `owner/name` given on the command line or in the options. */
export function checkRepoName(repo: string): void {
  if (!/^[^/\s]+\/[^/\s]+$/.test(repo)) throw new Error(`repo must be owner/name: ${repo}`)
}

/** The emulator's catalog: plain maps, gone when the process ends. */
export class MemoryCatalog implements Catalog {
  /** Lower-cased `owner/name` → canonical `owner/name`: GitHub matches repos case-insensitively. */
  private readonly repos = new Map<string, string>()
  private readonly byRepo = new Map<string, Map<number, DownloadRecord>>()
  private readonly byKey = new Map<string, DownloadRecord>()
  private nextId = 1

  constructor(repos: readonly string[]) {
    for (const repo of repos) {
      checkRepoName(repo)
      this.repos.set(repo.toLowerCase(), repo)
      this.byRepo.set(repo, new Map())
    }
  }

  repoNames(): string[] {
    return [...this.byRepo.keys()]
  }

  resolveRepo(repo: string): string | undefined {
    return this.repos.get(repo.toLowerCase())
  }

  private downloadsOf(repo: string): Map<number, DownloadRecord> {
    const canonical = this.resolveRepo(repo)
    const map = canonical === undefined ? undefined : this.byRepo.get(canonical)
    if (!map) throw new Error(`unknown repository: ${repo}`)
    return map
  }

  list(repo: string): DownloadRecord[] {
    return [...this.downloadsOf(repo).values()].sort((a, b) => a.id - b.id)
  }

  get(repo: string, id: number): DownloadRecord | undefined {
    return this.downloadsOf(repo).get(id)
  }

  findByName(repo: string, name: string): DownloadRecord | undefined {
    for (const record of this.downloadsOf(repo).values()) if (record.name === name) return record
    return undefined
  }

  findByKey(key: string): DownloadRecord | undefined {
    return this.byKey.get(key)
  }

  isLive(record: DownloadRecord): boolean {
    return this.byKey.get(record.key) === record
  }

  insert(repo: string, input: NewDownload, key: string): DownloadRecord {
    const record: DownloadRecord = {
      id: this.nextId++,
      repo,
      name: input.name,
      description: input.description,
      contentType: input.contentType,
      mimeType: input.mimeType,
      declaredSize: input.declaredSize,
      uploaded: false,
      size: 0,
      createdAt: input.createdAt ?? githubTimestamp(),
      key,
      downloadCount: 0
    }
    this.downloadsOf(repo).set(record.id, record)
    this.byKey.set(key, record)
    return record
  }

  delete(record: DownloadRecord): void {
    this.downloadsOf(record.repo).delete(record.id)
    if (this.byKey.get(record.key) === record) this.byKey.delete(record.key)
  }

  saveObject(): void {
    // The records handed out are the stored ones: what the caller set is stored already.
  }

  countDownload(record: DownloadRecord): void {
    record.downloadCount++
  }

  filePaths(): string[] {
    return [...this.byKey.values()].flatMap((record) =>
      record.filePath === undefined ? [] : [record.filePath]
    )
  }

  close(): void {
    // Nothing to release.
  }
}

/** How {@link DownloadStore} keeps the bytes. */
export interface StoreOptions {
  /** The metadata. Default: a {@link MemoryCatalog} of `repos`. */
  catalog?: Catalog
  /**
   * Flush an upload's bytes, and the rename that puts them in place, to the disk before the
   * upload is acknowledged (the server: a crash must not lose an acknowledged upload), keep
   * each upload under a fresh name in `objects/`, and remove at start-up the files nothing
   * refers to. Default false: the emulator's tests need no power-loss safety, and its bytes
   * live at their S3 key.
   */
  durable?: boolean
}

export class DownloadStore {
  readonly catalog: Catalog
  private readonly durable: boolean
  /** Per S3 key: the tail of the file operations queued on it (see {@link exclusive}). */
  private readonly keyLocks = new Map<string, Promise<void>>()
  readonly incomingDir: string
  /** Where the server (`durable`) keeps the bytes: one file per upload. */
  readonly objectsDir: string

  constructor(
    readonly storageDir: string,
    repos: readonly string[],
    options: StoreOptions = {}
  ) {
    this.catalog = options.catalog ?? new MemoryCatalog(repos)
    this.durable = options.durable ?? false
    this.incomingDir = join(storageDir, '.incoming')
    this.objectsDir = join(storageDir, 'objects')
    // What is left there is an upload a crash or a kill cut short: nothing refers to it.
    rmSync(this.incomingDir, { recursive: true, force: true })
    mkdirSync(this.incomingDir, { recursive: true })
    if (this.durable) this.sweep()
  }

  /**
   * Removes the files under `objects/` and `downloads/` that no download refers to: what a
   * kill left between storing a file and pointing its record at it, or between pointing the
   * record elsewhere (an overwrite, a delete) and removing the old file.
   */
  private sweep(): void {
    const kept = new Set(this.catalog.filePaths().map((path) => resolve(path)))
    for (const folder of [this.objectsDir, join(this.storageDir, 'downloads')]) {
      let entries
      try {
        entries = readdirSync(folder, { recursive: true, withFileTypes: true })
      } catch {
        continue // not there (yet)
      }
      for (const entry of entries) {
        const path = resolve(entry.parentPath, entry.name)
        if (entry.isFile() && !kept.has(path)) rmSync(path, { force: true })
      }
    }
    mkdirSync(this.objectsDir, { recursive: true })
  }

  /** Every repository, canonical `owner/name`. */
  repoNames(): string[] {
    return this.catalog.repoNames()
  }

  /** The canonical `owner/name` for a repo, or undefined when it does not exist. */
  resolveRepo(repo: string): string | undefined {
    return this.catalog.resolveRepo(repo)
  }

  private canonical(repo: string): string {
    const canonical = this.resolveRepo(repo)
    if (canonical === undefined) throw new Error(`unknown repository: ${repo}`)
    return canonical
  }

  /** A repo's downloads, sorted by id. */
  list(repo: string): DownloadRecord[] {
    return this.catalog.list(this.canonical(repo))
  }

  get(repo: string, id: number): DownloadRecord | undefined {
    return this.catalog.get(this.canonical(repo), id)
  }

  findByName(repo: string, name: string): DownloadRecord | undefined {
    return this.catalog.findByName(this.canonical(repo), name)
  }

  findByKey(key: string): DownloadRecord | undefined {
    return this.catalog.findByKey(key)
  }

  /** Whether the record is still stored (it may be deleted while its upload runs). */
  isLive(record: DownloadRecord): boolean {
    return this.catalog.isLive(record)
  }

  create(repo: string, input: NewDownload): DownloadRecord {
    const canonical = this.canonical(repo)
    return this.catalog.insert(canonical, input, `downloads/${canonical}/${input.name}`)
  }

  /** Stores what `record` now says about its object (an external store's answer). */
  saveObject(record: DownloadRecord): void {
    this.catalog.saveObject(record)
  }

  /** Counts a download through `html_url`. */
  countDownload(record: DownloadRecord): void {
    this.catalog.countDownload(record)
  }

  /**
   * Runs `work` once every file operation queued earlier on `key` has finished. Moving an
   * upload into place, removing a deleted download's bytes and opening an object for a GET
   * take turns, in the order they were asked for, so none of them sees another half done.
   */
  private async exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.keyLocks.get(key) ?? Promise.resolve()
    let release = (): void => undefined
    const turn = new Promise<void>((resolve) => (release = resolve))
    const tail = previous.then(() => turn)
    this.keyLocks.set(key, tail)
    await previous
    try {
      return await work()
    } finally {
      release()
      if (this.keyLocks.get(key) === tail) this.keyLocks.delete(key)
    }
  }

  /**
   * Deletes a download and its bytes. The download disappears at once; its bytes go once an
   * upload being moved into place for it has finished.
   */
  async remove(record: DownloadRecord): Promise<void> {
    this.forget(record)
    const path = this.durable ? record.filePath : this.objectPath(record.key)
    if (path !== undefined) await this.exclusive(record.key, () => rm(path, { force: true }))
  }

  /** Drops a download from the catalog (nothing on disk). */
  forget(record: DownloadRecord): void {
    this.catalog.delete(record)
  }

  /** Where the bytes of `key` live. */
  objectPath(key: string): string {
    return join(this.storageDir, ...key.split('/'))
  }

  /** A fresh path for an upload in progress. */
  incomingPath(): string {
    return join(this.incomingDir, randomUUID())
  }

  /**
   * Moves a finished upload into place and marks the download uploaded. A later upload to the
   * same key overwrites, as S3 does. If the download was deleted meanwhile, S3 still took the
   * bytes but nothing refers to them, so they are dropped. True when the bytes were stored.
   */
  async commitUpload(
    record: DownloadRecord,
    incoming: string,
    result: UploadResult
  ): Promise<boolean> {
    return this.exclusive(record.key, async () => {
      if (!this.isLive(record)) {
        await rm(incoming, { force: true })
        return false
      }
      if (this.durable) return this.commitDurably(record, incoming, result)
      const target = this.objectPath(record.key)
      await mkdir(dirname(target), { recursive: true })
      await rename(incoming, target)
      record.uploaded = true
      record.size = result.size
      record.md5 = result.md5
      record.sha256 = result.sha256
      record.filePath = target
      record.objectContentType = result.contentType
      this.catalog.saveObject(record)
      return true
    })
  }

  /**
   * The server's commit: the bytes, flushed, under a fresh name; then the record points at them
   * (one transaction); then the previous file goes. Until the record is saved, it keeps
   * describing the previous bytes, which stay where it says.
   */
  private async commitDurably(
    record: DownloadRecord,
    incoming: string,
    result: UploadResult
  ): Promise<boolean> {
    const target = join(this.objectsDir, randomUUID())
    await syncFile(incoming)
    await mkdir(this.objectsDir, { recursive: true })
    await rename(incoming, target)
    // The rename is an entry in the folder: flushed with the folder.
    await syncFile(this.objectsDir)
    // The file the download has now (the record handed in may predate another upload).
    const previous = this.catalog.findByKey(record.key)?.filePath
    const next: DownloadRecord = {
      ...record,
      uploaded: true,
      size: result.size,
      md5: result.md5,
      sha256: result.sha256,
      filePath: target,
      objectContentType: result.contentType
    }
    try {
      this.catalog.saveObject(next)
    } catch (err) {
      await rm(target, { force: true })
      throw err
    }
    // A catalog in memory stores the records it hands out: this one now says what was saved.
    Object.assign(record, next)
    // Deleted while the bytes were flushed: nothing refers to them.
    if (!this.isLive(record)) {
      await rm(target, { force: true })
      return false
    }
    if (previous !== undefined && resolve(previous) !== resolve(target)) {
      await rm(previous, { force: true })
    }
    return true
  }

  /**
   * Opens the uploaded bytes of `key` together with their size, MD5 and Content-Type, all of
   * one upload. Undefined when nothing is uploaded there.
   */
  async openObject(key: string): Promise<OpenObject | undefined> {
    return this.exclusive(key, async () => {
      const record = this.catalog.findByKey(key)
      if (!record?.uploaded || record.filePath === undefined || record.md5 === undefined) {
        return undefined
      }
      const handle = await open(record.filePath, 'r')
      try {
        const info = await handle.stat()
        return {
          handle,
          size: info.size,
          mtime: info.mtime,
          md5: record.md5,
          contentType: record.objectContentType ?? 'application/octet-stream'
        }
      } catch (err) {
        await handle.close()
        throw err
      }
    })
  }

  /** Stores bytes directly (test seeding): an existing, uploaded download. */
  seedUploaded(record: DownloadRecord, content: Buffer): void {
    const target = this.objectPath(record.key)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, content)
    record.uploaded = true
    record.size = content.length
    record.md5 = createHash('md5').update(content).digest('hex')
    record.sha256 = createHash('sha256').update(content).digest('hex')
    record.filePath = target
    record.objectContentType = record.mimeType
    this.catalog.saveObject(record)
  }

  /** Releases the catalog (a database closes). */
  close(): void {
    this.catalog.close()
  }
}

/** Flushes a file, or a folder's entries, to the disk. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** A copy with exactly the public {@link StoredDownload} fields. */
export function toStoredDownload(record: DownloadRecord): StoredDownload {
  const out: StoredDownload = {
    id: record.id,
    repo: record.repo,
    name: record.name,
    description: record.description,
    contentType: record.contentType,
    mimeType: record.mimeType,
    declaredSize: record.declaredSize,
    uploaded: record.uploaded,
    size: record.size,
    createdAt: record.createdAt
  }
  if (record.md5 !== undefined) out.md5 = record.md5
  if (record.sha256 !== undefined) out.sha256 = record.sha256
  if (record.filePath !== undefined) out.filePath = record.filePath
  return out
}
