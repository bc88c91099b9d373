/**
 * A small client for an external S3 store (Ceph's RADOS Gateway, MinIO, AWS), path-style,
 * signature version 2: what the API side needs when its uploads go to a real store (HEAD,
 * GET, PUT, DELETE an object, create the bucket) and the presigned URLs `html_url` redirects
 * to. node:http and node:crypto only: no SDK.
 *
 * References: AWS "Signing and Authenticating REST Requests" (signature version 2) and
 * "Query String Request Authentication Alternative".
 */
import { createHash, createHmac } from 'node:crypto'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { ExternalS3 } from './types.js'

export type { ExternalS3 }

/** What a HEAD tells about an object. */
export interface ObjectHead {
  size: number
  /** The ETag without its quotes: the MD5 of the bytes for a single-part upload. */
  etag: string
  contentType: string
  lastModified: Date
}

/** An object's bytes, measured as they came. */
export interface ObjectDigest {
  size: number
  md5: string
  sha256: string
  etag: string
}

/** A store that answered something other than what was asked for. */
export class S3StoreError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined
  ) {
    super(message)
    this.name = 'S3StoreError'
  }
}

/**
 * One segment of a key in a URL: RFC 3986 unreserved characters stay, everything else is
 * percent-encoded (`encodeURIComponent` leaves `!'()*`, which stores decode and re-encode
 * differently when they check a signature).
 */
export function encodeKeySegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`
  )
}

/** Signature version 2: Base64(HMAC-SHA1(secret, string-to-sign)). */
export function signV2(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64')
}

const DEFAULT_TIMEOUT_MS = 60_000

export class S3Client {
  private readonly base: URL

  constructor(readonly config: ExternalS3) {
    this.base = new URL(config.endpoint)
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new Error(`the S3 endpoint must be an http(s) URL, got ${config.endpoint}`)
    }
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(config.bucket)) {
      throw new Error(`not an S3 bucket name: ${JSON.stringify(config.bucket)}`)
    }
  }

  /** The endpoint without a trailing slash. */
  get endpoint(): string {
    return this.base.href.replace(/\/+$/, '')
  }

  /** Path-style: `<endpoint>/<bucket>/`, where POST Object forms go. */
  get bucketUrl(): string {
    return `${this.endpoint}/${this.config.bucket}/`
  }

  /** `/<bucket>/<key, each segment encoded>` under the endpoint's own path. */
  private resource(key?: string): string {
    const prefix = this.base.pathname.replace(/\/+$/, '')
    const bucket = `${prefix}/${this.config.bucket}`
    return key === undefined
      ? bucket
      : `${bucket}/${key.split('/').map(encodeKeySegment).join('/')}`
  }

  /** The plain object URL (readable only as the ACL allows). */
  objectUrl(key: string): string {
    return `${this.base.origin}${this.resource(key)}`
  }

  /**
   * A presigned URL for one method on one object, valid until `expires`. The method is part
   * of what is signed: a GET URL does not answer a HEAD.
   */
  presign(method: 'GET' | 'HEAD', key: string, expires: Date, contentDisposition?: string): string {
    const resource = this.resource(key)
    const seconds = Math.floor(expires.getTime() / 1000)
    // A response override is a sub-resource: signed as part of the resource, not URL-encoded.
    const signed =
      contentDisposition === undefined
        ? resource
        : `${resource}?response-content-disposition=${contentDisposition}`
    const signature = signV2(this.config.secretAccessKey, `${method}\n\n\n${seconds}\n${signed}`)
    const query = new URLSearchParams({
      AWSAccessKeyId: this.config.accessKeyId,
      Expires: String(seconds),
      Signature: signature
    })
    if (contentDisposition !== undefined) {
      query.set('response-content-disposition', contentDisposition)
    }
    return `${this.base.origin}${resource}?${query.toString()}`
  }

  /** PUT the bucket; an existing bucket of ours is fine. */
  async createBucket(): Promise<void> {
    const res = await this.send('PUT', this.resource())
    const body = await readText(res)
    if (res.statusCode === 200) return
    if (res.statusCode === 409 && /BucketAlreadyOwnedByYou/.test(body)) return
    throw storeError(`PUT bucket ${this.config.bucket}`, res.statusCode ?? 0, body)
  }

  /** What the store holds at `key`; null when it holds nothing there (404). */
  async head(key: string): Promise<ObjectHead | null> {
    const res = await this.send('HEAD', this.resource(key))
    res.resume()
    if (res.statusCode === 404) return null
    if (res.statusCode !== 200) throw storeError(`HEAD ${key}`, res.statusCode ?? 0, '')
    const modified = res.headers['last-modified']
    return {
      size: Number(res.headers['content-length'] ?? NaN),
      etag: String(res.headers['etag'] ?? '').replace(/"/g, ''),
      contentType: String(res.headers['content-type'] ?? ''),
      lastModified: modified ? new Date(modified) : new Date(NaN)
    }
  }

  /** Reads the object at `key` and hashes it; null when there is none. Nothing is buffered. */
  async digest(key: string): Promise<ObjectDigest | null> {
    const res = await this.send('GET', this.resource(key))
    if (res.statusCode === 404) {
      res.resume()
      return null
    }
    if (res.statusCode !== 200) {
      throw storeError(`GET ${key}`, res.statusCode ?? 0, await readText(res))
    }
    const md5 = createHash('md5')
    const sha256 = createHash('sha256')
    let size = 0
    for await (const chunk of res as AsyncIterable<Buffer>) {
      md5.update(chunk)
      sha256.update(chunk)
      size += chunk.length
    }
    const expected = Number(res.headers['content-length'] ?? size)
    if (size !== expected) {
      throw new S3StoreError(`GET ${key} ended after ${size} of ${expected} bytes`, 200, undefined)
    }
    return {
      size,
      md5: md5.digest('hex'),
      sha256: sha256.digest('hex'),
      etag: String(res.headers['etag'] ?? '').replace(/"/g, '')
    }
  }

  /** Stores `content` at `key`. Resolves to the ETag. */
  async put(key: string, content: Buffer, contentType: string): Promise<string> {
    const res = await this.send('PUT', this.resource(key), content, contentType)
    const body = await readText(res)
    if (res.statusCode !== 200) throw storeError(`PUT ${key}`, res.statusCode ?? 0, body)
    return String(res.headers['etag'] ?? '').replace(/"/g, '')
  }

  /** Removes the object at `key`; a missing object is no error (S3 answers 204 either way). */
  async delete(key: string): Promise<void> {
    const res = await this.send('DELETE', this.resource(key))
    const body = await readText(res)
    if (res.statusCode !== 204 && res.statusCode !== 200 && res.statusCode !== 404) {
      throw storeError(`DELETE ${key}`, res.statusCode ?? 0, body)
    }
  }

  /** One request signed in the Authorization header (Date is the signed timestamp). */
  private send(
    method: 'GET' | 'HEAD' | 'PUT' | 'DELETE',
    resource: string,
    body?: Buffer,
    contentType = ''
  ): Promise<IncomingMessage> {
    const date = new Date().toUTCString()
    const signature = signV2(
      this.config.secretAccessKey,
      `${method}\n\n${contentType}\n${date}\n${resource}`
    )
    const headers: Record<string, string> = {
      Date: date,
      Authorization: `AWS ${this.config.accessKeyId}:${signature}`,
      'Content-Length': String(body?.length ?? 0)
    }
    if (contentType !== '') headers['Content-Type'] = contentType
    const send = this.base.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      const req = send(
        {
          method,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port || undefined,
          path: resource,
          headers,
          timeout: DEFAULT_TIMEOUT_MS
        },
        resolve
      )
      req.on('timeout', () => req.destroy(new Error(`${method} ${resource}: no answer in time`)))
      req.on('error', reject)
      req.end(body)
    })
  }
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

function storeError(what: string, status: number, body: string): S3StoreError {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1]
  const detail = [code, message].filter((part) => part !== undefined && part !== '').join(': ')
  return new S3StoreError(
    `${what}: the store answered ${status}${detail ? ` (${detail})` : ''}`,
    status,
    code
  )
}
