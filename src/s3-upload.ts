import { createHash } from 'node:crypto'
import { createReadStream, type ReadStream } from 'node:fs'
import { PassThrough, Transform } from 'node:stream'
import FormData from 'form-data'
import { S3Error } from './errors.js'
import type { Artifact } from './files.js'
import type { HttpClient } from './http.js'
import type { UploadTicket } from './downloads-api.js'
import { isSecureOrLocal } from './urls.js'

/** What S3 stored, and what we sent, measured on the way out. */
export interface UploadResult {
  bytes: number
  md5: string
  sha256: string
  etag: string
}

/**
 * The form fields of the S3 POST, in the order the Downloads API documentation demands
 * ("The order in which you pass these fields matters! Follow the order shown above
 * exactly."). Each value comes from the create answer, which the policy signs: the
 * Content-Type is the server's `mime_type`, never our own guess. `file` follows, last, since
 * S3 ignores every field after it.
 */
export function formFields(ticket: UploadTicket): [string, string][] {
  return [
    ['key', ticket.key],
    ['acl', ticket.acl],
    ['success_action_status', '201'],
    ['Filename', ticket.download.name],
    ['AWSAccessKeyId', ticket.accessKeyId],
    ['Policy', ticket.policy],
    ['Signature', ticket.signature],
    ['Content-Type', ticket.mimeType]
  ]
}

/** S3's codes that mean "busy or broken now, try again" (AWS S3 error responses). */
const TRANSIENT_CODES = new Set([
  'InternalError',
  'SlowDown',
  'ServiceUnavailable',
  'RequestTimeout'
])

/** Large reads keep per-chunk work (hashing, framing, syscalls) off the hot path. */
const CHUNK_SIZE = 1024 * 1024

export interface UploadOptions {
  /** Told the running byte count as the file is read out to the socket. */
  onProgress?: (bytesSent: number) => void
}

/**
 * POSTs one file to S3 with the signed form from its ticket. The file is streamed from disk
 * (opened afresh on every call, so a retry re-reads it) with a precomputed Content-Length,
 * which S3 requires (a chunked body gets 411); MD5 and SHA-256 are computed on the way
 * out, and S3's ETag must equal the MD5. No Authorization header: the token stays with the
 * API origin.
 */
export async function uploadToS3(
  http: HttpClient,
  ticket: UploadTicket,
  artifact: Artifact,
  options: UploadOptions = {}
): Promise<UploadResult> {
  const target = new URL(ticket.s3Url)
  if (!isSecureOrLocal(target)) {
    throw new S3Error(
      `The server handed out a plain-http upload URL (${target.origin}); refusing to send ${artifact.name} unencrypted.`,
      0,
      'InsecureUrl'
    )
  }

  const md5 = createHash('md5')
  const sha256 = createHash('sha256')
  let bytes = 0
  const hasher = new Transform({
    readableHighWaterMark: CHUNK_SIZE,
    writableHighWaterMark: CHUNK_SIZE,
    transform(chunk: Buffer, _encoding, done) {
      md5.update(chunk)
      sha256.update(chunk)
      bytes += chunk.length
      options.onProgress?.(bytes)
      done(null, chunk)
    }
  })
  const form = new FormData()
  for (const [name, value] of formFields(ticket)) form.append(name, value)
  const part = { filename: ticket.download.name, contentType: ticket.mimeType }
  let file: ReadStream | undefined
  if (artifact.size === 0) {
    // form-data takes a knownLength of 0 for "unknown" and could not state the length.
    form.append('file', Buffer.alloc(0), part)
  } else {
    file = createReadStream(artifact.path, { highWaterMark: CHUNK_SIZE })
    file.on('error', (error) => hasher.destroy(error))
    file.pipe(hasher)
    form.append('file', hasher, { ...part, knownLength: artifact.size })
  }
  // Measured before the form starts flowing: form-data counts what is still queued.
  const length = form.getLengthSync()
  // form-data is an old-style stream; undici wants a modern Readable.
  const body = form.pipe(new PassThrough({ highWaterMark: CHUNK_SIZE }))
  hasher.on('error', (error) => body.destroy(error))

  let res
  try {
    res = await http.request({
      method: 'POST',
      url: ticket.s3Url,
      headers: {
        'content-type': `multipart/form-data; boundary=${form.getBoundary()}`,
        'content-length': String(length),
        'user-agent': 'upload-downloads-action'
      },
      body
    })
  } finally {
    // A failed request leaves the file open otherwise.
    file?.destroy()
  }
  const text = await res.text()

  if (res.status < 200 || res.status >= 300) throw s3Failure(artifact.name, res.status, text)
  if (bytes !== artifact.size) {
    throw new S3Error(
      `${artifact.name} changed while it was uploaded: ${artifact.size} bytes expected, ${bytes} read.`,
      res.status,
      'FileChanged'
    )
  }
  const result = { bytes, md5: md5.digest('hex'), sha256: sha256.digest('hex') }
  const etag = (res.headers['etag'] ?? xmlTag(text, 'ETag') ?? '').replace(/"/g, '')
  // For a single-part upload S3's ETag is the MD5 of the object: an end-to-end check that
  // every byte arrived as sent.
  if (etag !== result.md5) {
    throw new S3Error(
      `S3 stored ${artifact.name} with ETag ${etag || '(none)'}, but the bytes sent have MD5 ${result.md5}: the upload was corrupted.`,
      res.status,
      'BadDigest',
      { transient: true }
    )
  }
  return { ...result, etag }
}

function s3Failure(name: string, status: number, text: string): S3Error {
  const code = xmlTag(text, 'Code')
  const message = xmlTag(text, 'Message')
  if (code === undefined) {
    return new S3Error(
      `S3 answered ${status} for ${name}${text ? `: ${text.slice(0, 200)}` : ''}`,
      status,
      `HTTP${status}`,
      { transient: status >= 500 || status === 429 || status === 408 }
    )
  }
  return new S3Error(`S3 refused ${name}: ${code}: ${message ?? ''}`, status, code, {
    transient: TRANSIENT_CODES.has(code) || status >= 500
  })
}

/** The text of the first `<tag>` in a small XML document (S3's answers carry no nesting we need). */
function xmlTag(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml)
  return match ? unescapeXml(match[1]) : undefined
}

function unescapeXml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** Whether S3 refused a form because its signed policy has expired. */
export function isPolicyExpired(error: unknown): boolean {
  return (
    error instanceof S3Error &&
    error.code === 'AccessDenied' &&
    /Policy expired/i.test(error.message)
  )
}
