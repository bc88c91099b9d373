import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Download } from './downloads-api.js'
import {
  ActionError,
  ApiError,
  CancelledError,
  LocalFileError,
  isTransientStatus,
  NetworkError,
  ProtocolError
} from './errors.js'
import type { HttpClient, HttpResponse } from './http.js'
import { withRetry, type RetryOptions } from './retry.js'
import { isSecureOrLocal } from './urls.js'

/** What S3 holds for a download: its size, and its ETag when it is a plain MD5. */
export interface StoredObject {
  size: number
  /** The MD5 of the bytes, from a single-part upload's ETag; null when S3 gave none usable. */
  md5: string | null
}

/** The bytes a saved copy holds, measured as they were written. */
export interface SavedCopy {
  size: number
  md5: string
}

const MAX_REDIRECTS = 5
const MD5_ETAG = /^"?([0-9a-f]{32})"?$/i

/**
 * A download's bytes, reached through its `html_url`, which redirects to the object on S3
 * (GitHub's github.com/downloads/… URL did). Redirects are followed by hand, and plain http
 * only to this machine. No token is sent: the object is S3's, and the html_url is github.com,
 * not the API.
 */
export class StoredBytes {
  constructor(
    private readonly http: HttpClient,
    private readonly retry: RetryOptions
  ) {}

  /**
   * What S3 holds for the download: null when it has no bytes (the html_url or the object
   * answers 404: a record whose upload never finished, which holds no user data).
   */
  async probe(download: Download): Promise<StoredObject | null> {
    return withRetry(`Looking at the stored ${download.name}`, this.retry, async () => {
      const res = await this.follow(download, 'HEAD')
      if (res === null) return null
      await res.dump()
      const etag = MD5_ETAG.exec(res.headers['etag'] ?? '')
      return {
        size: Number(res.headers['content-length'] ?? -1),
        md5: etag ? etag[1].toLowerCase() : null
      }
    })
  }

  /**
   * Streams the download's bytes into `destination` (a file path, or null to only measure
   * them) and checks them against S3's length and ETag, so that a copy kept to undo a replace
   * is known to be whole. Resolves to null when the download has no bytes.
   */
  async save(
    download: Download,
    destination: string | null,
    signal?: AbortSignal
  ): Promise<SavedCopy | null> {
    return withRetry(`Saving a copy of ${download.name}`, { ...this.retry, signal }, async () => {
      const res = await this.follow(download, 'GET', signal)
      if (res === null) return null
      const md5 = createHash('md5')
      let size = 0
      const sink =
        destination === null
          ? new Writable({ write: (_chunk, _encoding, done) => done() })
          : createWriteStream(destination, { mode: 0o600 })
      try {
        await pipeline(
          res.body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              md5.update(chunk)
              size += chunk.length
              yield chunk
            }
          },
          sink
        )
      } catch (error) {
        if (signal?.aborted) throw new CancelledError(`saving a copy of ${download.name} stopped`)
        // The file system's errors are ours to report as such; the rest is the network.
        if (isFileSystemError(error)) {
          throw new LocalFileError(
            `Could not write the copy to ${destination}: ${(error as Error).message}`,
            { cause: error }
          )
        }
        throw new NetworkError(
          `Reading the stored ${download.name} broke off after ${size} bytes`,
          error
        )
      }
      const digest = md5.digest('hex')
      const expected = Number(res.headers['content-length'] ?? size)
      if (size !== expected) {
        throw new NetworkError(
          `Reading the stored ${download.name} stopped after ${size} of ${expected} bytes.`,
          undefined
        )
      }
      const etag = MD5_ETAG.exec(res.headers['etag'] ?? '')
      if (etag && etag[1].toLowerCase() !== digest) {
        throw new NetworkError(
          `The stored ${download.name} arrived with MD5 ${digest}, not S3's ETag ${etag[1]}.`,
          undefined
        )
      }
      return { size, md5: digest }
    })
  }

  /** Follows the html_url's redirects to the object; null when the object store has none. */
  private async follow(
    download: Download,
    method: 'GET' | 'HEAD',
    signal?: AbortSignal
  ): Promise<HttpResponse | null> {
    if (download.htmlUrl === '') {
      throw new ProtocolError(`The server lists ${download.name} without an html_url.`)
    }
    let url = download.htmlUrl
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const target = new URL(url)
      if (!isSecureOrLocal(target)) {
        throw new ActionError(
          `${download.name}'s bytes are served over plain http (${target.origin}); refusing to fetch them.`
        )
      }
      const res = await this.http.request({
        method,
        url,
        headers: { 'user-agent': 'upload-downloads-action' },
        signal
      })
      if (res.status >= 300 && res.status < 400 && res.headers['location']) {
        await res.dump()
        url = new URL(res.headers['location'], url).href
        continue
      }
      if (res.status === 404) {
        await res.dump()
        // Only the object store's 404 says "no bytes". The html_url's own 404 could as well
        // mean a page that needs a login: no download is judged empty on that.
        if (hop > 0) return null
        throw new ApiError(
          `The html_url of ${download.name} answered 404, so whether it holds bytes cannot be told.`,
          404
        )
      }
      if (res.status !== 200) {
        await res.dump()
        // An object store answers 403, not 404, for a missing object to a reader that may not
        // list the bucket (a public object in a private bucket): a 403 never means "no bytes".
        const hidden =
          res.status === 403 && hop > 0
            ? ' An object store answers 403 for an object it will not show, missing or not, so whether it holds bytes cannot be told.'
            : ''
        throw new ApiError(
          `Fetching the stored ${download.name} answered ${res.status}.${hidden}`,
          res.status,
          { transient: isTransientStatus(res.status) }
        )
      }
      return res
    }
    throw new ActionError(
      `Fetching the stored ${download.name} was redirected more than ${MAX_REDIRECTS} times.`
    )
  }
}

function isFileSystemError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  return (
    typeof code === 'string' && /^E(NOSPC|ACCES|PERM|NAMETOOLONG|ROFS|NOENT|DQUOT|IO)$/.test(code)
  )
}
