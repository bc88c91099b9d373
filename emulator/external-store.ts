/**
 * The API side's view of an external S3 store (`EmulatorOptions.externalS3`): the uploads go
 * there, not to the emulator's own S3 server, so whether a download holds its bytes is the
 * store's to say. A download counts as uploaded once the store holds its object with the
 * declared size; the API asks with a HEAD when it lists or reads a download that is not
 * uploaded yet, and keeps the positive answer.
 */
import { createHash } from 'node:crypto'
import { attachment } from './context.js'
import { S3Client, type ObjectHead } from './s3-client.js'
import type { DownloadRecord } from './store.js'
import type { ExternalS3 } from './types.js'

/** How many requests to the store run at once when many downloads are asked about. */
const CONCURRENCY = 8
/** How long the presigned URL `html_url` redirects to stays valid. */
const REDIRECT_TTL_MS = 15 * 60 * 1000

async function eachLimited<T>(
  items: readonly T[],
  work: (item: T) => Promise<void>
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]
      await work(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker))
}

export class ExternalStore {
  readonly client: S3Client
  /** Seeds on their way to the store; the API answers nothing until they are there. */
  private readonly seeding = new Set<Promise<void>>()
  private seedFailure: Error | undefined

  /**
   * @param save stores what a record now says about its object (the catalog keeps what the
   * store answered)
   */
  constructor(
    config: ExternalS3,
    private readonly save: (record: DownloadRecord) => void = () => undefined
  ) {
    this.client = new S3Client(config)
  }

  get bucket(): string {
    return this.client.config.bucket
  }

  /** `<endpoint>/<bucket>/`: the create answer's `s3_url`. */
  get bucketUrl(): string {
    return this.client.bucketUrl
  }

  /**
   * Resolves once every seed is in the store; rejects if one could not be stored (the
   * emulator then answers 500: a test must not run against a store that lacks its seeds).
   */
  async settled(): Promise<void> {
    while (this.seeding.size > 0) await Promise.allSettled([...this.seeding])
    if (this.seedFailure) throw this.seedFailure
  }

  /**
   * Writes a seeded download's bytes to the store (in the background: {@link settled} waits)
   * and marks it uploaded with the digests of those bytes.
   */
  seed(record: DownloadRecord, content: Buffer): void {
    record.uploaded = true
    record.size = content.length
    record.md5 = createHash('md5').update(content).digest('hex')
    record.sha256 = createHash('sha256').update(content).digest('hex')
    record.objectContentType = record.mimeType
    this.save(record)
    const put = this.client
      .put(record.key, content, record.mimeType)
      .then(
        () => undefined,
        (error: unknown) => {
          this.seedFailure ??= new Error(
            `seeding ${record.name} into the external S3 store failed: ${String(error)}`,
            { cause: error }
          )
        }
      )
      .finally(() => this.seeding.delete(put))
    this.seeding.add(put)
  }

  /**
   * Asks the store about the downloads not known to be uploaded yet, and marks those whose
   * object is there with the declared size. A positive answer is kept.
   */
  async checkUploaded(records: readonly DownloadRecord[]): Promise<void> {
    await eachLimited(
      records.filter((record) => !record.uploaded),
      async (record) => {
        const head = await this.client.head(record.key)
        if (head !== null && head.size === record.declaredSize) {
          markUploaded(record, head)
          this.save(record)
        }
      }
    )
  }

  /**
   * Tells the records what the store holds now, for tests that look at `downloads()`: HEAD
   * each, and hash an object whose ETag changed since it was last hashed (or never was).
   */
  async refresh(records: readonly DownloadRecord[]): Promise<void> {
    await this.settled()
    await eachLimited(records, async (record) => {
      const head = await this.client.head(record.key)
      if (head === null || head.size !== record.declaredSize) {
        markEmpty(record)
        this.save(record)
        return
      }
      if (record.uploaded && record.sha256 !== undefined && record.md5 === head.etag) return
      const digest = await this.client.digest(record.key)
      if (digest === null || digest.size !== record.declaredSize) {
        markEmpty(record)
        this.save(record)
        return
      }
      markUploaded(record, head)
      record.md5 = digest.md5
      record.sha256 = digest.sha256
      this.save(record)
    })
  }

  /**
   * Removes the object at a download's key: a new download starts without bytes, and a
   * deleted one takes its bytes with it.
   */
  async removeObject(record: DownloadRecord): Promise<void> {
    await this.client.delete(record.key)
  }

  /** Where `html_url` sends a GET or a HEAD: a presigned URL for that method on the object. */
  redirectUrl(method: 'GET' | 'HEAD', record: DownloadRecord): string {
    // The store serves the object as an attachment: an uploaded page does not run as one.
    return this.client.presign(
      method,
      record.key,
      new Date(Date.now() + REDIRECT_TTL_MS),
      attachment(record.name)
    )
  }
}

function markUploaded(record: DownloadRecord, head: ObjectHead): void {
  record.uploaded = true
  record.size = head.size
  // A single-part upload's ETag is the MD5 of the bytes; a multipart one's is not (`-N`).
  if (/^[0-9a-f]{32}$/.test(head.etag)) record.md5 = head.etag
  record.objectContentType = head.contentType
}

function markEmpty(record: DownloadRecord): void {
  record.uploaded = false
  record.size = 0
  delete record.md5
  delete record.sha256
  delete record.objectContentType
}
