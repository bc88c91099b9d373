/**
 * The emulator's state: repositories, their downloads, and the uploaded bytes on disk.
 *
 * Bytes live at `<storageDir>/<S3 key>` (`downloads/owner/repo/name`), so a human can look at
 * them. Uploads stream into `<storageDir>/.incoming/` and are renamed into place only once S3
 * would have accepted them, so a failed upload never replaces good bytes.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
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

export class DownloadStore {
  /** Lower-cased `owner/name` → canonical `owner/name`: GitHub matches repos case-insensitively. */
  private readonly repos = new Map<string, string>()
  private readonly byRepo = new Map<string, Map<number, DownloadRecord>>()
  private readonly byKey = new Map<string, DownloadRecord>()
  private nextId = 1
  /** Per S3 key: the tail of the file operations queued on it (see {@link exclusive}). */
  private readonly keyLocks = new Map<string, Promise<void>>()
  readonly incomingDir: string

  constructor(
    readonly storageDir: string,
    repos: readonly string[]
  ) {
    for (const repo of repos) {
      if (!/^[^/\s]+\/[^/\s]+$/.test(repo)) throw new Error(`repo must be owner/name: ${repo}`)
      this.repos.set(repo.toLowerCase(), repo)
      this.byRepo.set(repo, new Map())
    }
    this.incomingDir = join(storageDir, '.incoming')
    mkdirSync(this.incomingDir, { recursive: true })
  }

  /** Every repository, canonical `owner/name`. */
  repoNames(): string[] {
    return [...this.byRepo.keys()]
  }

  /** The canonical `owner/name` for a repo, or undefined when it does not exist. */
  resolveRepo(repo: string): string | undefined {
    return this.repos.get(repo.toLowerCase())
  }

  private downloadsOf(repo: string): Map<number, DownloadRecord> {
    const canonical = this.resolveRepo(repo)
    const map = canonical === undefined ? undefined : this.byRepo.get(canonical)
    if (!map) throw new Error(`unknown repository: ${repo}`)
    return map
  }

  /** A repo's downloads, sorted by id. */
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

  /** Whether the record is still stored (it may be deleted while its upload runs). */
  isLive(record: DownloadRecord): boolean {
    return this.byKey.get(record.key) === record
  }

  create(repo: string, input: NewDownload): DownloadRecord {
    const canonical = this.resolveRepo(repo)
    if (canonical === undefined) throw new Error(`unknown repository: ${repo}`)
    const key = `downloads/${canonical}/${input.name}`
    const record: DownloadRecord = {
      id: this.nextId++,
      repo: canonical,
      name: input.name,
      description: input.description,
      contentType: input.contentType,
      mimeType: input.mimeType,
      declaredSize: input.declaredSize,
      uploaded: false,
      size: 0,
      createdAt: githubTimestamp(),
      key,
      downloadCount: 0
    }
    this.downloadsOf(canonical).set(record.id, record)
    this.byKey.set(key, record)
    return record
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
    await this.exclusive(record.key, () => rm(this.objectPath(record.key), { force: true }))
  }

  /** Drops a download from the indexes (nothing on disk). */
  forget(record: DownloadRecord): void {
    this.downloadsOf(record.repo).delete(record.id)
    if (this.byKey.get(record.key) === record) this.byKey.delete(record.key)
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
      const target = this.objectPath(record.key)
      await mkdir(dirname(target), { recursive: true })
      await rename(incoming, target)
      record.uploaded = true
      record.size = result.size
      record.md5 = result.md5
      record.sha256 = result.sha256
      record.filePath = target
      record.objectContentType = result.contentType
      return true
    })
  }

  /**
   * Opens the uploaded bytes of `key` together with their size, MD5 and Content-Type, all of
   * one upload. Undefined when nothing is uploaded there.
   */
  async openObject(key: string): Promise<OpenObject | undefined> {
    return this.exclusive(key, async () => {
      const record = this.byKey.get(key)
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
