import * as core from '@actions/core'
import { rm } from 'node:fs/promises'
import * as path from 'node:path'
import type { DownloadsApi, Download, NewDownload, UploadTicket } from './downloads-api.js'
import { ActionError, describe } from './errors.js'
import type { Artifact } from './files.js'
import type { HttpClient } from './http.js'
import type { PlanItem } from './plan.js'
import { withRetry, type RetryOptions } from './retry.js'
import { isPolicyExpired, uploadToS3, type UploadResult } from './s3-upload.js'

/** A file that landed: its download and the digests of the bytes S3 took. */
export interface Published {
  artifact: Artifact
  download: Download
  /** The server's MIME type, which S3 stored with the bytes. */
  mimeType: string
  sha256: string
  md5: string
  /** The download it replaced, if any. */
  replaced?: Download
}

export interface PublisherOptions {
  api: DownloadsApi
  http: HttpClient
  retry: RetryOptions
  description: string
  /** Where copies of replaced downloads are kept until their successors landed. */
  tempDir: string
  /** Told the running byte count of each upload, for progress lines. */
  onProgress?: (artifact: Artifact, bytesSent: number) => void
}

/**
 * Publishes one planned file: create the download, then POST its bytes to S3. Nothing the
 * user had is lost on the way: a replaced download's bytes are saved before it is deleted
 * and put back if its successor cannot be uploaded, and a download created for a file that
 * never arrived is deleted again, so no record without bytes is left behind.
 */
export class Publisher {
  constructor(private readonly options: PublisherOptions) {}

  async publish(item: PlanItem): Promise<Published> {
    const { artifact, replaces } = item
    const spec = {
      name: artifact.name,
      size: artifact.size,
      description: this.options.description,
      contentType: artifact.contentType
    }
    if (replaces === undefined) return this.createAndUpload(spec, artifact)

    const backup = await this.saveCopy(replaces)
    let deleted = false
    let keepCopy = false
    try {
      await this.options.api.delete(replaces.id)
      deleted = true
      core.info(`Deleted the previous ${replaces.name} (download ${replaces.id}).`)
      const published = await this.createAndUpload(spec, artifact)
      return { ...published, replaced: replaces }
    } catch (error) {
      const outcome = await this.restore(replaces, backup, error, deleted)
      keepCopy = outcome.keepCopy
      throw outcome.error
    } finally {
      if (backup !== null && !keepCopy) await rm(backup.path, { force: true })
    }
  }

  /** Creates the download and uploads the bytes; on failure, deletes what it created. */
  private async createAndUpload(spec: NewDownload, artifact: Artifact): Promise<Published> {
    const { api, http, retry, onProgress } = this.options
    let ticket: UploadTicket = await api.create(spec)
    try {
      const result: UploadResult = await withRetry(
        `Uploading ${artifact.name} to S3`,
        retry,
        async () => {
          try {
            return await uploadToS3(http, ticket, artifact, {
              onProgress: onProgress && ((sent) => onProgress(artifact, sent))
            })
          } catch (error) {
            if (!isPolicyExpired(error)) throw error
            // The signed form is dead; only a new download resource brings a new one.
            core.info(
              `The upload policy for ${artifact.name} expired: creating the download again.`
            )
            await api.delete(ticket.download.id)
            ticket = await api.create(spec)
            // A policy that is dead on arrival again and again means a clock is off.
            throw new ActionError(
              `${describe(error)} (if every policy arrives expired, the server's clock is off)`,
              { transient: true, retryAfterMs: 0 }
            )
          }
        }
      )
      return {
        artifact,
        download: { ...ticket.download, size: result.bytes },
        mimeType: ticket.mimeType,
        sha256: result.sha256,
        md5: result.md5
      }
    } catch (error) {
      await api.delete(ticket.download.id).then(
        () =>
          core.info(
            `Deleted download ${ticket.download.id} (${artifact.name}): its bytes never arrived.`
          ),
        (cleanup: unknown) =>
          core.warning(
            `Could not delete download ${ticket.download.id} (${artifact.name}), whose bytes never arrived: ${describe(cleanup)}. Delete it by hand.`
          )
      )
      throw error
    }
  }

  /** Saves a download's bytes before it is replaced; null when it has none to lose. */
  private async saveCopy(download: Download): Promise<Artifact | null> {
    const copy = path.join(this.options.tempDir, `previous-${download.id}-${download.name}`)
    let size: number | null
    try {
      size = await this.options.api.saveBytes(download, copy)
    } catch (error) {
      throw new ActionError(
        `Could not save a copy of the existing ${download.name} before replacing it, so it was left as it is: ${describe(error)}`,
        { cause: error }
      )
    }
    if (size === null) {
      core.info(
        `The existing ${download.name} has no bytes (an unfinished upload): nothing to keep.`
      )
      return null
    }
    return { path: copy, name: download.name, size, contentType: download.contentType }
  }

  /**
   * Puts a replaced download back after its successor failed. Returns the error to raise,
   * and whether the saved copy must stay on disk because it may be the only one left.
   */
  private async restore(
    previous: Download,
    backup: Artifact | null,
    cause: unknown,
    deleted: boolean
  ): Promise<{ error: Error; keepCopy: boolean }> {
    const failure = describe(cause)
    const original = cause instanceof Error ? cause : new Error(failure)
    if (backup === null) return { error: original, keepCopy: false }
    try {
      // A delete that failed may still have happened (its answer lost): ask the server.
      if (!deleted && (await this.options.api.list()).some((d) => d.id === previous.id)) {
        return { error: original, keepCopy: false }
      }
      await this.createAndUpload(
        {
          name: previous.name,
          size: backup.size,
          description: previous.description,
          contentType: previous.contentType
        },
        backup
      )
      return {
        error: new ActionError(
          `${failure} The previous version of ${previous.name} was restored.`,
          { cause }
        ),
        keepCopy: false
      }
    } catch (restoreError) {
      return {
        error: new ActionError(
          `${failure} Restoring the previous version of ${previous.name} failed too (${describe(restoreError)}); its bytes are at ${backup.path} until the job ends.`,
          { cause }
        ),
        keepCopy: true
      }
    }
  }
}
