import { rm } from 'node:fs/promises'
import * as path from 'node:path'
import type { Cancellation } from './cancellation.js'
import {
  LostCreateError,
  type Download,
  type NewDownload,
  type UploadTicket
} from './downloads-api.js'
import { ActionError, ApiError, CancelledError, ConflictError, describe } from './errors.js'
import type { SourceFile } from './files.js'
import type { HttpClient } from './http.js'
import type { Journal } from './journal.js'
import { digestsOf, LocalFile } from './local-file.js'
import * as log from './log.js'
import type { PlanItem } from './plan.js'
import type { RateLimitGate } from './rate-limits.js'
import { withRetry } from './retry.js'
import { isPolicyExpired, uploadToS3, type UploadResult } from './s3-upload.js'
import type { Tools } from './session.js'
import type { SavedCopy } from './stored-bytes.js'

/** What became of a file: it now has a download holding exactly its bytes. */
export interface Published {
  source: SourceFile
  download: Download
  /** The server's MIME type, which S3 stored with the bytes. */
  mimeType: string
  sha256: string
  md5: string
  status: 'created' | 'replaced' | 'unchanged'
  /** The download it replaced, if any. */
  replaced?: Download
}

/** What an upload leaves for the file's {@link Published}: the download and the bytes sent. */
type Landed = Pick<Published, 'download' | 'mimeType' | 'sha256' | 'md5'>

/**
 * A file's outcome, made once: a run keeps one for every file until it ends, so it is built
 * in one object literal rather than spread from another.
 */
function published(
  source: SourceFile,
  landed: Landed,
  status: 'created' | 'replaced',
  replaced?: Download
): Published {
  return {
    source,
    download: landed.download,
    mimeType: landed.mimeType,
    sha256: landed.sha256,
    md5: landed.md5,
    status,
    replaced
  }
}

/**
 * The download a file landed in, as the run keeps it to its end: the create's answer with the
 * size sent (GitHub answered 0 until the bytes reached S3), and the strings that repeat what
 * the run asked for shared with the request rather than kept twice.
 */
function landedDownload(download: Download, spec: NewDownload, bytes: number): Download {
  const same = (answered: string, asked: string): string => (answered === asked ? asked : answered)
  return {
    id: download.id,
    name: same(download.name, spec.name),
    description: same(download.description, spec.description),
    size: bytes,
    contentType: same(download.contentType, spec.contentType),
    url: download.url,
    htmlUrl: download.htmlUrl,
    createdAt: download.createdAt
  }
}

export interface PublisherOptions extends Tools {
  /** The same clients with the undo's larger retry budget. */
  undo: Tools
  http: HttpClient
  gate: RateLimitGate
  journal: Journal
  cancellation: Cancellation
  description: string
  /** Where copies of replaced downloads are kept until their successors landed. */
  tempDir: string
  /** Told the running byte count of each upload, for progress lines. */
  onProgress?: (source: SourceFile, bytesSent: number) => void
}

/** A delete whose outcome is unknown: its answer was lost and the server cannot be asked. */
class UnsureDeleteError extends ActionError {}

/** A saved copy of a replaced download, on disk. */
interface Copy extends SavedCopy {
  path: string
}

/**
 * API requests a replace may need: the delete, the create, and should the upload fail, the
 * delete of the new record and the create that puts the old bytes back.
 */
const REPLACE_REQUESTS = 4
/** A create, and the delete of its record should the upload fail. */
const CREATE_REQUESTS = 2

/**
 * Publishes one planned file. Nothing the user had is lost on the way, and nothing is left
 * half-made: the file is opened before anything changes; a replaced download's bytes are
 * saved and checked before it is deleted, and put back if its successor cannot land; a
 * record whose bytes never arrived is deleted again. Every change is announced in the
 * journal first, so that the post step can finish the undo when this process is killed.
 */
export class Publisher {
  constructor(private readonly options: PublisherOptions) {}

  async publish(item: PlanItem): Promise<Published> {
    const { source } = item
    if (item.action === 'unchanged') {
      return {
        source,
        download: item.existing,
        // Lists may give a bare extension (`.zip`) where a create answered a MIME type.
        mimeType: item.existing.contentType.includes('/')
          ? item.existing.contentType
          : source.contentType,
        sha256: item.digests.sha256,
        md5: item.digests.md5,
        status: 'unchanged'
      }
    }
    this.options.cancellation.check()
    const file = await LocalFile.open(source)
    try {
      if (item.action === 'create') {
        const release = await this.options.gate.reserve(
          CREATE_REQUESTS,
          `Creating ${source.name}`,
          this.options.cancellation.signal
        )
        try {
          const landed = await this.createAndUpload(this.specOf(source), file, 'forward')
          return published(source, landed, 'created')
        } finally {
          release()
        }
      }
      return await this.replace(item.replaces, item.reason === 'no-bytes', file)
    } finally {
      await file.close()
    }
  }

  private specOf(source: SourceFile): NewDownload {
    return {
      name: source.name,
      size: source.size,
      description: this.options.description,
      contentType: source.contentType
    }
  }

  /**
   * Replaces a download. The old download is gone from its delete until the new bytes land
   * (the API keys downloads by name, and S3 by a key made of the name, so the two cannot
   * coexist): that window is kept to the create and the upload, everything that can fail
   * earlier (the file, the copy, the rate limit budget) is checked before the delete.
   */
  private async replace(old: Download, empty: boolean, file: LocalFile): Promise<Published> {
    const { journal, cancellation, gate } = this.options
    const name = file.source.name
    const release = await gate.reserve(REPLACE_REQUESTS, `Replacing ${name}`, cancellation.signal)
    let copy: Copy | null = null
    // The copy goes only once the name is settled: the new bytes landed, the old ones are
    // back, or the old download was never deleted. Whatever else happens (a journal write
    // that fails, an error nobody foresaw) it stays, for the post step.
    let settled = true
    try {
      // Saved (or found empty) again even when the plan found no bytes: one 404 from S3 is
      // no proof, and a download is deleted without a copy only on two.
      copy = await this.saveCopy(old)
      if (empty && copy !== null) {
        throw new ConflictError(
          `${name} (download ${old.id}) holds bytes after all (S3 answered 404 for it a moment ago); it was left as it is. Run the job again to compare it afresh.`
        )
      }
      cancellation.check()
      await journal.record({
        op: 'delete',
        name,
        id: old.id,
        description: old.description,
        contentType: old.contentType,
        copy: copy?.path ?? null,
        size: copy?.size ?? 0,
        md5: copy?.md5 ?? null
      })
      settled = false
      try {
        await this.deleteForReplace(old)
      } catch (error) {
        settled = !(error instanceof UnsureDeleteError)
        throw error
      }
      try {
        await journal.record({ op: 'deleted', name, id: old.id })
        log.info(`Deleted the previous ${name} (download ${old.id}).`)
        const landed = await this.createAndUpload(this.specOf(file.source), file, 'forward')
        settled = true
        return published(file.source, landed, 'replaced', old)
      } catch (error) {
        const outcome = await this.restore(old, copy, error)
        settled = outcome.restored
        throw outcome.error
      }
    } finally {
      release()
      if (copy !== null && settled) await rm(copy.path, { force: true })
    }
  }

  /**
   * Deletes the download being replaced. When the delete fails, asks the server whether it
   * happened anyway (its answer may have been lost): if the download is still there the
   * replace stops, leaving it as it was.
   */
  private async deleteForReplace(old: Download): Promise<void> {
    const { api, journal } = this.options
    try {
      await api.delete(old.id, { mustExist: true })
    } catch (error) {
      if (error instanceof ConflictError) {
        await journal.record({ op: 'kept', name: old.name, id: old.id })
        throw new ConflictError(
          `${describe(error)}: another run or a person is changing ${old.name} at the same time. This run left ${old.name} to them; run the job again once they are done.`,
          { cause: error }
        )
      }
      // Asked with the undo's client: a cancelled run still needs the answer.
      const stillThere = await this.options.undo.api.exists(old.id).catch(() => undefined)
      if (stillThere === false) return
      if (stillThere === undefined) {
        // The delete may have happened with its answer lost: the copy is all that is sure.
        throw new UnsureDeleteError(
          `${describe(error)} Whether the existing ${old.name} (download ${old.id}) was deleted cannot be told, so its copy is kept and the post step checks.`,
          { cause: error }
        )
      }
      await journal.record({ op: 'kept', name: old.name, id: old.id })
      throw new ActionError(
        `${describe(error)} The existing ${old.name} (download ${old.id}) was left as it is.`,
        { cause: error }
      )
    }
  }

  /**
   * Creates the download and uploads the bytes; on failure, deletes the record it created.
   * `forward` work (a new file) stops when the run is cancelled; `undo` work (putting a
   * replaced download back) never does, and has the larger retry budget.
   */
  private async createAndUpload(
    spec: NewDownload,
    file: LocalFile,
    mode: 'forward' | 'undo'
  ): Promise<Landed> {
    const { http, journal, onProgress, cancellation, undo } = this.options
    const { api, retry } = mode === 'forward' ? this.options : undo
    const signal = mode === 'forward' ? cancellation.signal : undefined
    const { source } = file
    await journal.record({ op: 'create', name: spec.name, size: spec.size })
    let ticket: UploadTicket = await this.createRecord(spec, mode)
    await journal.record({ op: 'created', name: spec.name, id: ticket.download.id })
    try {
      const result: UploadResult = await withRetry(
        `Uploading ${spec.name} to S3`,
        { ...retry, signal },
        async () => {
          try {
            return await uploadToS3(http, ticket, file, {
              onProgress: onProgress && ((sent) => onProgress(source, sent)),
              signal
            })
          } catch (error) {
            if (!isPolicyExpired(error)) throw error
            // The signed form is dead; only a new download resource brings a new one.
            log.info(`The upload policy for ${spec.name} expired: creating the download again.`)
            await api.delete(ticket.download.id)
            await journal.record({ op: 'removed', name: spec.name, id: ticket.download.id })
            ticket = await this.createRecord(spec, mode)
            await journal.record({ op: 'created', name: spec.name, id: ticket.download.id })
            // A policy that is dead on arrival again and again means a clock is off.
            throw new ActionError(
              `${describe(error)} (if every policy arrives expired, the server's clock is off)`,
              { transient: true, retryAfterMs: 0 }
            )
          }
        }
      )
      await journal.record({ op: 'landed', name: spec.name, id: ticket.download.id })
      return {
        download: landedDownload(ticket.download, spec, result.bytes),
        mimeType: ticket.mimeType === spec.contentType ? spec.contentType : ticket.mimeType,
        sha256: result.sha256,
        md5: result.md5
      }
    } catch (error) {
      const id = ticket.download.id
      try {
        await undo.api.delete(id)
        await journal.record({ op: 'removed', name: spec.name, id })
        log.info(`Deleted download ${id} (${spec.name}): its bytes never arrived.`)
      } catch (cleanup) {
        log.warning(
          `Could not delete download ${id} (${spec.name}), whose bytes never arrived: ${describe(cleanup)}. The post step tries again.`
        )
      }
      throw error
    }
  }

  /**
   * The create, and what a lost answer leaves behind: a record the server made that this run
   * never heard of. It holds no bytes, so it is found by name and deleted (and, when a retry
   * met it as `already_exists`, the create is made once more). `already_exists` with no lost
   * answer is another writer's record, which is left alone.
   */
  private async createRecord(spec: NewDownload, mode: 'forward' | 'undo'): Promise<UploadTicket> {
    const { journal } = this.options
    const { api, retry } = mode === 'forward' ? this.options : this.options.undo
    // Each round clears what the last one left; a flaky network may lose the next answer too.
    for (let round = 1; ; round++) {
      try {
        return await api.create(spec)
      } catch (error) {
        const again = round < retry.maxAttempts
        if (error instanceof LostCreateError) {
          const cleared = await this.clearEmptyRecords(spec.name)
          if (cleared) await journal.record({ op: 'removed', name: spec.name, id: null })
          const left = cleared
            ? 'No record of it was left behind.'
            : 'A record of it may be left behind: the post step checks.'
          if (error.cause instanceof CancelledError) {
            throw new CancelledError(`${describe(error.cause).replace(/\.?$/, '.')} ${left}`)
          }
          if (error.exists && cleared && again) {
            log.info(
              `The answer to creating ${spec.name} was lost, but the server made it: deleted that one, creating it again.`
            )
            continue
          }
          throw new ActionError(`${describe(error)} ${left}`, { cause: error })
        }
        if (error instanceof ApiError && error.codes.includes('already_exists')) {
          // Putting a download back: the name was this run's a moment ago, so the record in
          // the way is most likely one of its own that lost its bytes. Clear it, try again.
          if (mode === 'undo' && again && (await this.clearEmptyRecords(spec.name))) continue
          throw new ConflictError(
            `A download named ${spec.name} was created by somebody else while this run worked (another run of this workflow?); this run left it alone.`,
            { cause: error }
          )
        }
        throw error
      }
    }
  }

  /**
   * Deletes the records named `name` that hold no bytes. Resolves to whether none is left
   * (a record with bytes is somebody's file and stays).
   */
  async clearEmptyRecords(name: string): Promise<boolean> {
    const { api, storedBytes } = this.options.undo
    try {
      for (const download of await api.findByName(name)) {
        if ((await storedBytes.probe(download)) !== null) continue
        await api.delete(download.id)
        log.info(`Deleted download ${download.id} (${name}): a record without bytes.`)
      }
      return true
    } catch (error) {
      log.warning(`Could not check ${name} for a record without bytes: ${describe(error)}`)
      return false
    }
  }

  /** Saves a download's bytes, checked against S3's size and MD5, before it is replaced. */
  private async saveCopy(download: Download): Promise<Copy | null> {
    // Named by id only: any valid download name fits in a file name then.
    const copyPath = path.join(this.options.tempDir, `previous-${download.id}`)
    let saved: SavedCopy | null
    try {
      saved = await this.options.storedBytes.save(
        download,
        copyPath,
        this.options.cancellation.signal
      )
    } catch (error) {
      await rm(copyPath, { force: true })
      if (error instanceof CancelledError) throw error
      throw new ActionError(
        `Could not save a copy of the existing ${download.name} before replacing it, so it was left as it is: ${describe(error)}`,
        { cause: error }
      )
    }
    if (saved === null) {
      log.info(
        `The existing ${download.name} has no bytes (an unfinished upload): nothing to keep.`
      )
      return null
    }
    return { ...saved, path: copyPath }
  }

  /**
   * Puts a replaced download back after its successor failed, from the saved copy. Returns
   * the error to raise, saying what really happened, and whether the copy landed.
   */
  async restore(
    previous: Pick<Download, 'id' | 'name' | 'description' | 'contentType'>,
    copy: Copy | null,
    cause: unknown
  ): Promise<{ error: Error; restored: boolean }> {
    // The same kind of error as the cause, with what became of the old download added.
    const failure = (note: string): Error =>
      cause instanceof CancelledError
        ? new CancelledError(`${describe(cause).replace(/\.?$/, '.')} ${note}`)
        : new ActionError(`${describe(cause)} ${note}`, { cause })
    if (copy === null) {
      return {
        error: failure('The download it replaced held no bytes, so there was nothing to put back.'),
        restored: true
      }
    }
    try {
      const id = await this.putBack(previous, copy)
      return {
        error: failure(`The previous version of ${previous.name} was put back (download ${id}).`),
        restored: true
      }
    } catch (restoreError) {
      return {
        error: failure(
          `Putting back the previous version of ${previous.name} failed too (${describe(restoreError)}); its bytes are kept at ${copy.path}, and the post step tries again.`
        ),
        restored: false
      }
    }
  }

  /** Uploads a saved copy as the download it was; resolves to the new id. */
  async putBack(
    previous: Pick<Download, 'id' | 'name' | 'description' | 'contentType'>,
    copy: Copy
  ): Promise<number> {
    const source = {
      path: copy.path,
      name: previous.name,
      size: copy.size,
      contentType: previous.contentType
    }
    // Checked before a byte is sent: what goes back must be exactly what was saved.
    if ((await digestsOf(source)).md5 !== copy.md5) {
      throw new ActionError(
        `the copy of ${previous.name} at ${copy.path} no longer has the MD5 it was saved with`
      )
    }
    const backup = await LocalFile.open(source)
    try {
      const spec = {
        name: previous.name,
        size: copy.size,
        description: previous.description,
        contentType: previous.contentType
      }
      const restored = await this.createAndUpload(spec, backup, 'undo')
      await this.options.journal.record({
        op: 'restored',
        name: previous.name,
        id: restored.download.id
      })
      log.info(`Put back the previous ${previous.name} as download ${restored.download.id}.`)
      return restored.download.id
    } finally {
      await backup.close()
    }
  }
}
