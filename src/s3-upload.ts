import { createHash } from 'node:crypto'
import { isTransientStatus, ProtocolError, S3Error } from './errors.js'
import type { HttpClient } from './http.js'
import type { UploadTicket } from './downloads-api.js'
import type { LocalFile } from './local-file.js'
import { MultipartForm } from './multipart.js'
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

/**
 * Reads of this size keep per-chunk work (hashing, syscalls, stream hand-offs) negligible
 * while holding only a few chunks in memory at once.
 */
const CHUNK_SIZE = 512 * 1024

export interface UploadOptions {
  /** Told the running byte count as the file is read out to the socket. */
  onProgress?: (bytesSent: number) => void
  /** Aborts the upload (a cancelled run). */
  signal?: AbortSignal
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
  file: LocalFile,
  options: UploadOptions = {}
): Promise<UploadResult> {
  const { source } = file
  const target = new URL(ticket.s3Url)
  if (!isSecureOrLocal(target)) {
    throw new ProtocolError(
      `The server handed out a plain-http upload URL (${target.origin}); refusing to send ${source.name} unencrypted.`
    )
  }

  const digests = new Digests()
  const form = new MultipartForm(formFields(ticket), {
    filename: ticket.download.name,
    contentType: ticket.mimeType,
    size: source.size
  })
  const res = await http.request({
    method: 'POST',
    url: ticket.s3Url,
    headers: {
      'content-type': form.contentType,
      'content-length': String(form.length),
      'user-agent': 'upload-downloads-action'
    },
    body: form.body(fileChunks(file, digests, options.onProgress)),
    signal: options.signal
  })
  const text = await res.text()

  if (res.status < 200 || res.status >= 300) throw s3Failure(source.name, res.status, text)
  const result = digests.result()
  const etag = (res.headers['etag'] ?? xmlTag(text, 'ETag') ?? '').replace(/"/g, '')
  // For a single-part upload S3's ETag is the MD5 of the object: an end-to-end check that
  // every byte arrived as sent.
  if (etag !== result.md5) {
    throw new S3Error(
      `S3 stored ${source.name} with ETag ${etag || '(none)'}, but the bytes sent have MD5 ${result.md5}: the upload was corrupted.`,
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
      { transient: isTransientStatus(status) }
    )
  }
  // Ceph's gateway, for one, mostly sends a bare code: `<Message></Message>`.
  const detail = message
    ? `: ${message}`
    : code === 'AccessDenied'
      ? ' (the store gave no reason: it refused the signature, the policy or the bucket permissions)'
      : code === 'EntityTooLarge'
        ? // Measured with Ceph 16 (pacific): it compares the whole form's length, fields included, with
          // rgw_max_put_size, so that a file of exactly 5 GiB is refused.
          " (over the store's size limit for one upload; Ceph's gateway counts the whole form against its rgw_max_put_size, 5 GiB by default)"
        : ' (no message)'
  return new S3Error(`S3 refused ${name}: ${code}${detail}`, status, code, {
    transient: TRANSIENT_CODES.has(code) || isTransientStatus(status)
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

/** MD5 (for S3's ETag) and SHA-256 (for the outputs) of the bytes as they go out. */
class Digests {
  private readonly md5 = createHash('md5')
  private readonly sha256 = createHash('sha256')
  bytes = 0

  update(chunk: Buffer): void {
    this.md5.update(chunk)
    this.sha256.update(chunk)
    this.bytes += chunk.length
  }

  result(): { bytes: number; md5: string; sha256: string } {
    return { bytes: this.bytes, md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') }
  }
}

/** Buffers in the read ring: a chunk's buffer is read into again only this many chunks later. */
const RING_SIZE = 4

/**
 * The file's bytes, `size` of them, in large chunks, each hashed on its way to the socket.
 * Positional reads on the one open handle, so a retry starts over from byte 0.
 * Reads go into a small ring of reused buffers, so memory stays flat however large the file
 * (fresh buffers per read pile up as garbage until the next GC: tens of MiB). Reuse is safe
 * because the HTTP client asks for the next chunk only once the socket has taken the last
 * (it awaits 'drain'), and the ring keeps three more chunks of margin; the MD5 checked
 * against S3's ETag would catch a chunk changed in flight.
 */
async function* fileChunks(
  file: LocalFile,
  digests: Digests,
  onProgress?: (bytesSent: number) => void
): AsyncGenerator<Buffer> {
  const { size } = file.source
  // A small file needs one buffer of its own size, not the whole ring.
  const chunkSize = Math.max(1, Math.min(CHUNK_SIZE, size))
  const ring = Array.from({ length: Math.min(RING_SIZE, Math.ceil(size / chunkSize)) }, () =>
    Buffer.allocUnsafe(chunkSize)
  )
  let offset = 0
  let slot = 0
  // One read ahead: the disk works on the next chunk while the socket takes this one.
  const readNext = (): Promise<Buffer> | undefined => {
    if (offset >= size) return undefined
    const buffer = ring[slot]
    const at = offset
    const wanted = Math.min(chunkSize, size - at)
    offset += wanted
    slot = (slot + 1) % ring.length
    return file.read(buffer, wanted, at)
  }
  let pending = readNext()
  try {
    while (pending !== undefined) {
      const chunk = await pending
      pending = readNext()
      digests.update(chunk)
      onProgress?.(digests.bytes)
      yield chunk
    }
    // A file that grew since it was measured would land cut short.
    file.checkSize()
  } finally {
    // The request may have ended early (an error): let a read in flight finish first.
    await pending?.catch(() => undefined)
  }
}
