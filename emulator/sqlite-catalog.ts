/**
 * The server's catalog: repositories, downloads and their counts in a SQLite database
 * (`node:sqlite`, built into Node 24), so that a restart keeps everything.
 *
 * Every write is one statement, and so one transaction, committed before the call returns;
 * each is run to its end (`run()`, or `all()` for a RETURNING statement), so a commit that
 * fails (a full disk) throws instead of being lost in the statement's reset: `get()` would
 * return the row before the commit and drop its error;
 * the journal is a write-ahead log synced on every commit (`synchronous = FULL`), so nothing
 * an answer acknowledged is lost in a crash, power loss included. The database is opened in
 * exclusive locking mode and locked at once: a second server on the same folder fails to
 * start instead of serving a view that the first one changes behind its back.
 */
import { dirname, isAbsolute, join, relative } from 'node:path'
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite'
import {
  checkRepoName,
  githubTimestamp,
  type Catalog,
  type DownloadRecord,
  type NewDownload
} from './store.js'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS repos (
  lower TEXT PRIMARY KEY,
  name TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS downloads (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  repo TEXT NOT NULL,
  name TEXT NOT NULL,
  key TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL,
  content_type TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  declared_size INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  uploaded INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL DEFAULT 0,
  md5 TEXT,
  sha256 TEXT,
  file_path TEXT,
  object_content_type TEXT,
  download_count INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS downloads_by_repo ON downloads (repo, id);
`

type Row = Record<string, SQLOutputValue>

function text(row: Row, column: string): string {
  const value = row[column]
  if (typeof value !== 'string') throw new Error(`downloads.${column} is not text`)
  return value
}

function integer(row: Row, column: string): number {
  const value = row[column]
  if (typeof value !== 'number') throw new Error(`downloads.${column} is not an integer`)
  return value
}

function optionalText(row: Row, column: string): string | undefined {
  const value = row[column]
  return typeof value === 'string' ? value : undefined
}

export class SqliteCatalog implements Catalog {
  private readonly db: DatabaseSync
  /** The folder the database is in: bytes' paths are stored relative to it. */
  private readonly base: string
  /** Lower-cased `owner/name` → canonical, of the repositories served. */
  private readonly served = new Map<string, string>()
  private readonly statements = new Map<string, StatementSync>()

  /**
   * Opens (or creates) the database at `file`. The repositories served are `repos`; a
   * repository keeps the spelling it was first given. With no `repos`, every repository the
   * database knows is served.
   */
  constructor(file: string, repos: readonly string[]) {
    for (const repo of repos) checkRepoName(repo)
    this.base = dirname(file)
    this.db = new DatabaseSync(file, { timeout: 0 })
    try {
      this.db.exec('PRAGMA locking_mode = EXCLUSIVE')
      this.db.exec('PRAGMA journal_mode = WAL')
      this.db.exec('PRAGMA synchronous = FULL')
      this.db.exec('BEGIN IMMEDIATE')
    } catch (err) {
      this.db.close()
      throw new Error(
        `${file} is in use (is another server running on this folder?): ${String(err)}`,
        { cause: err }
      )
    }
    try {
      this.db.exec(SCHEMA)
      const insert = this.db.prepare('INSERT OR IGNORE INTO repos (lower, name) VALUES (?, ?)')
      for (const repo of repos) insert.run(repo.toLowerCase(), repo)
      this.db.exec('COMMIT')
    } catch (err) {
      this.db.exec('ROLLBACK')
      this.db.close()
      throw err
    }
    const wanted = new Set(repos.map((repo) => repo.toLowerCase()))
    const all = this.db.prepare('SELECT lower, name FROM repos ORDER BY rowid').all()
    for (const row of all) {
      const lower = text(row, 'lower')
      if (repos.length === 0 || wanted.has(lower)) this.served.set(lower, text(row, 'name'))
    }
  }

  /** A prepared statement, prepared once. */
  private sql(source: string): StatementSync {
    let statement = this.statements.get(source)
    if (!statement) {
      statement = this.db.prepare(source)
      this.statements.set(source, statement)
    }
    return statement
  }

  repoNames(): string[] {
    return [...this.served.values()]
  }

  resolveRepo(repo: string): string | undefined {
    return this.served.get(repo.toLowerCase())
  }

  private record(row: Row): DownloadRecord {
    const record: DownloadRecord = {
      id: integer(row, 'id'),
      repo: text(row, 'repo'),
      name: text(row, 'name'),
      description: text(row, 'description'),
      contentType: text(row, 'content_type'),
      mimeType: text(row, 'mime_type'),
      declaredSize: integer(row, 'declared_size'),
      uploaded: integer(row, 'uploaded') === 1,
      size: integer(row, 'size'),
      createdAt: text(row, 'created_at'),
      key: text(row, 'key'),
      downloadCount: integer(row, 'download_count')
    }
    const md5 = optionalText(row, 'md5')
    const sha256 = optionalText(row, 'sha256')
    const filePath = optionalText(row, 'file_path')
    const objectContentType = optionalText(row, 'object_content_type')
    if (md5 !== undefined) record.md5 = md5
    if (sha256 !== undefined) record.sha256 = sha256
    if (filePath !== undefined) record.filePath = join(this.base, filePath)
    if (objectContentType !== undefined) record.objectContentType = objectContentType
    return record
  }

  private one(sql: string, ...params: (string | number)[]): DownloadRecord | undefined {
    const row = this.sql(sql).get(...params)
    return row === undefined ? undefined : this.record(row)
  }

  list(repo: string): DownloadRecord[] {
    return this.sql('SELECT * FROM downloads WHERE repo = ? ORDER BY id')
      .all(repo)
      .map((row) => this.record(row))
  }

  get(repo: string, id: number): DownloadRecord | undefined {
    return this.one('SELECT * FROM downloads WHERE repo = ? AND id = ?', repo, id)
  }

  findByName(repo: string, name: string): DownloadRecord | undefined {
    return this.one('SELECT * FROM downloads WHERE repo = ? AND name = ?', repo, name)
  }

  findByKey(key: string): DownloadRecord | undefined {
    return this.one('SELECT * FROM downloads WHERE key = ?', key)
  }

  isLive(record: DownloadRecord): boolean {
    // Ids are never reused (AUTOINCREMENT), so the id tells this download from a namesake.
    return this.sql('SELECT 1 FROM downloads WHERE id = ?').get(record.id) !== undefined
  }

  /** Runs a RETURNING write to its end (so its commit's failure throws): its one row. */
  private written(sql: string, ...params: (string | number | null)[]): Row | undefined {
    return this.sql(sql).all(...params)[0]
  }

  insert(repo: string, input: NewDownload, key: string): DownloadRecord {
    const row = this.written(
      `INSERT INTO downloads (repo, name, key, description, content_type, mime_type,
           declared_size, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      repo,
      input.name,
      key,
      input.description,
      input.contentType,
      input.mimeType,
      input.declaredSize,
      input.createdAt ?? githubTimestamp()
    )
    if (row === undefined) throw new Error(`storing the download ${input.name} returned nothing`)
    return this.record(row)
  }

  delete(record: DownloadRecord): void {
    this.sql('DELETE FROM downloads WHERE id = ?').run(record.id)
  }

  saveObject(record: DownloadRecord): void {
    const filePath =
      record.filePath === undefined
        ? null
        : isAbsolute(record.filePath)
          ? relative(this.base, record.filePath)
          : record.filePath
    this.sql(
      `UPDATE downloads SET uploaded = ?, size = ?, md5 = ?, sha256 = ?, file_path = ?,
           object_content_type = ? WHERE id = ?`
    ).run(
      record.uploaded ? 1 : 0,
      record.size,
      record.md5 ?? null,
      record.sha256 ?? null,
      filePath,
      record.objectContentType ?? null,
      record.id
    )
  }

  countDownload(record: DownloadRecord): void {
    const row = this.written(
      'UPDATE downloads SET download_count = download_count + 1 WHERE id = ? RETURNING download_count',
      record.id
    )
    record.downloadCount =
      row === undefined ? record.downloadCount + 1 : integer(row, 'download_count')
  }

  filePaths(): string[] {
    return this.sql('SELECT file_path FROM downloads WHERE file_path IS NOT NULL')
      .all()
      .map((row) => join(this.base, text(row, 'file_path')))
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }
}
