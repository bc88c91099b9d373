import { createHash } from 'node:crypto'
import type { Download } from '../../src/downloads-api.js'
import {
  json,
  parseMultipart,
  s3Error,
  type RecordedRequest,
  type ScriptedAnswer
} from './fake-http.js'

/** A download as the fake server keeps it; `bytes` once S3 has taken them. */
export interface StoredDownload {
  id: number
  name: string
  description: string
  contentType: string
  mimeType: string
  key: string
  policy: string
  signature: string
  bytes?: Buffer
}

/** The S3 form fields in the documented order, `file` last. */
export const S3_FIELD_ORDER = [
  'key',
  'acl',
  'success_action_status',
  'Filename',
  'AWSAccessKeyId',
  'Policy',
  'Signature',
  'Content-Type',
  'file'
]

/**
 * One repository's Downloads API and its S3 bucket, in memory, as a `FakeHttp` fallback:
 * list, create (422 `already_exists` on a taken name), delete (404 when unknown), the S3 form
 * POST (which must carry the policy issued for that very download), and `html_url`, which
 * redirects (GET and HEAD) to the stored object on another origin as github.com did; the
 * object answers with its length and its MD5 ETag, or 404 while it has no bytes.
 */
export class FakeRepository {
  readonly apiUrl = 'https://api.example.test'
  readonly s3Url = 'https://bucket.s3.example.test/'
  readonly owner = 'octo'
  readonly repo = 'demo'
  readonly downloads = new Map<number, StoredDownload>()
  private nextId = 1

  get base(): string {
    return `${this.apiUrl}/repos/${this.owner}/${this.repo}/downloads`
  }

  /**
   * A download that is already there, as the API would list it: with its bytes, or without
   * (`undefined`: a record whose upload never finished).
   */
  seed(name: string, bytes: Buffer | undefined, description = ''): Download {
    const stored = this.store(name, description, 'application/zip')
    stored.bytes = bytes
    return this.toDownload(stored)
  }

  /** The live download with this name, if any. */
  byName(name: string): StoredDownload | undefined {
    return [...this.downloads.values()].find((d) => d.name === name)
  }

  htmlUrl(name: string): string {
    return `${this.apiUrl.replace('api.', 'www.')}/downloads/${this.owner}/${this.repo}/${encodeURIComponent(name)}`
  }

  toDownload(stored: StoredDownload): Download {
    return {
      id: stored.id,
      name: stored.name,
      description: stored.description,
      size: stored.bytes?.length ?? 0,
      contentType: stored.contentType,
      url: `${this.base}/${stored.id}`,
      htmlUrl: this.htmlUrl(stored.name),
      createdAt: '2013-06-24T15:49:14Z'
    }
  }

  /** Answers one request; bound, so it can be handed to `FakeHttp.fallback`. */
  readonly handle = (request: RecordedRequest): ScriptedAnswer => {
    const { method, url } = request
    if (method === 'GET' && url.startsWith(`${this.base}?`)) {
      return json(
        200,
        [...this.downloads.values()].map((d) => this.toJson(d))
      )
    }
    if (method === 'POST' && url === this.base) return this.create(request)
    const one = new RegExp(`^${escape(this.base)}/(\\d+)$`).exec(url)
    if (method === 'GET' && one) {
      const stored = this.downloads.get(Number(one[1]))
      return stored !== undefined
        ? json(200, this.toJson(stored))
        : json(404, { message: 'Not Found' })
    }
    if (method === 'DELETE' && one) {
      return this.downloads.delete(Number(one[1]))
        ? { status: 204 }
        : json(404, { message: 'Not Found' })
    }
    if (method === 'POST' && url === this.s3Url) return this.s3Post(request)
    const reading = method === 'GET' || method === 'HEAD'
    const page = [...this.downloads.values()].find((d) => this.htmlUrl(d.name) === url)
    if (reading && page) {
      return { status: 302, headers: { location: `${this.s3Url}${page.key}` } }
    }
    if (reading && url.startsWith(this.s3Url)) {
      const key = decodeURIComponent(url.slice(this.s3Url.length))
      const object = [...this.downloads.values()].find((d) => d.key === key)?.bytes
      if (object === undefined) {
        const missing = s3Error(404, 'NoSuchKey', 'The specified key does not exist.')
        return method === 'HEAD' ? { status: 404 } : missing
      }
      // A single-part object's ETag is the MD5 of its bytes, quoted, as S3 gives it.
      const headers = { 'content-length': String(object.length), etag: md5Etag(object) }
      return method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body: object }
    }
    return json(404, { message: 'Not Found' })
  }

  private create(request: RecordedRequest): ScriptedAnswer {
    const spec = JSON.parse(request.text) as {
      name: string
      description?: string
      content_type?: string
    }
    if (this.byName(spec.name) !== undefined) {
      return json(422, {
        message: 'Validation Failed',
        errors: [{ resource: 'Download', field: 'name', code: 'already_exists' }]
      })
    }
    const stored = this.store(
      spec.name,
      spec.description ?? '',
      spec.content_type ?? 'application/octet-stream'
    )
    return json(201, this.toJson(stored), { location: `${this.base}/${stored.id}` })
  }

  private store(name: string, description: string, contentType: string): StoredDownload {
    const id = this.nextId++
    const stored: StoredDownload = {
      id,
      name,
      description,
      contentType,
      mimeType: contentType.includes('/') ? contentType : 'application/octet-stream',
      key: `downloads/${this.owner}/${this.repo}/${name}`,
      policy: `policy-${id}`,
      signature: `signature-${id}`
    }
    this.downloads.set(id, stored)
    return stored
  }

  private toJson(stored: StoredDownload): Record<string, unknown> {
    const download = this.toDownload(stored)
    return {
      url: download.url,
      html_url: download.htmlUrl,
      id: stored.id,
      name: stored.name,
      description: stored.description,
      size: 0,
      download_count: 0,
      content_type: stored.contentType,
      policy: stored.policy,
      signature: stored.signature,
      bucket: 'github',
      accesskeyid: 'AKIAEXAMPLE',
      path: stored.key,
      acl: 'private',
      expirationdate: '2113-06-24T15:49:15.000Z',
      prefix: `downloads/${this.owner}/${this.repo}/`,
      mime_type: stored.mimeType,
      redirect: false,
      s3_url: this.s3Url
    }
  }

  private s3Post(request: RecordedRequest): ScriptedAnswer {
    const parts = parseMultipart(request.body, request.headers['content-type'] ?? '')
    const names = parts.map((p) => p.name)
    if (names.join() !== S3_FIELD_ORDER.join()) {
      return s3Error(400, 'InvalidArgument', `Unexpected fields: ${names.join(', ')}`)
    }
    const field = (name: string): string =>
      parts.find((p) => p.name === name)?.data.toString('utf8') ?? ''
    const target = [...this.downloads.values()].find((d) => d.key === field('key'))
    if (
      target === undefined ||
      target.policy !== field('Policy') ||
      target.signature !== field('Signature')
    ) {
      return s3Error(403, 'SignatureDoesNotMatch', 'The request signature does not match.')
    }
    const bytes = Buffer.from(parts[parts.length - 1].data)
    target.bytes = bytes
    const etag = md5Etag(bytes)
    return {
      status: 201,
      headers: { etag, 'content-type': 'application/xml' },
      body: `<PostResponse><Location>${this.s3Url}${target.key}</Location><Bucket>github</Bucket><Key>${target.key}</Key><ETag>${etag}</ETag></PostResponse>`
    }
  }
}

function md5Etag(bytes: Buffer): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
