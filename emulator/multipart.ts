/**
 * A small streaming `multipart/form-data` parser (RFC 7578 / RFC 2046).
 *
 * Why not busboy: S3 decides what the file is by the part's *name* (`file`), not by whether it
 * has a `filename=`; it limits the bytes *before* the file (20 KiB); and it stops caring after
 * the file. This parser reports parts in order with their absolute offsets and never copies
 * body bytes: data events are views of the chunks it was given, and the boundary search is
 * `Buffer.indexOf` (native), so a multi-GiB upload costs little beyond hashing and writing.
 */

/** Something the parser found, in stream order. */
export type MultipartEvent =
  | {
      type: 'part'
      name: string | undefined
      filename: string | undefined
      contentType: string | undefined
      /** Absolute offset in the request body where this part's content starts. */
      bodyOffset: number
    }
  | { type: 'data'; data: Buffer }
  | { type: 'partEnd' }
  | { type: 'end' }

/** The body is not well-formed multipart: S3's `400 MalformedPOSTRequest`. */
export class MalformedMultipartError extends Error {}

/** Headers of one part may not exceed this (they also count against S3's 20 KiB rule). */
const MAX_HEADER_BYTES = 16 * 1024
const CRLF = Buffer.from('\r\n')
const HEADER_END = Buffer.from('\r\n\r\n')
const CR = 0x0d

type State = 'preamble' | 'afterDelimiter' | 'headers' | 'body' | 'epilogue'

/** Reads the boundary out of a `multipart/form-data` Content-Type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined
  const [type, ...params] = contentType.split(';')
  if (type?.trim().toLowerCase() !== 'multipart/form-data') return undefined
  for (const param of params) {
    const eq = param.indexOf('=')
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue
    let value = param.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) {
      value = value.slice(1, -1)
    }
    // RFC 2046: 1 to 70 characters.
    return value.length > 0 && value.length <= 70 ? value : undefined
  }
  return undefined
}

/** Whether a Content-Type names multipart/form-data at all (with or without a boundary). */
export function isMultipartFormData(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'multipart/form-data'
}

interface Disposition {
  name: string | undefined
  filename: string | undefined
}

function parseDisposition(value: string): Disposition | undefined {
  const match = /^\s*form-data\s*(;|$)/i.exec(value)
  if (!match) return undefined
  const params = new Map<string, string>()
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g
  let m: RegExpExecArray | null
  while ((m = re.exec(value)) !== null) {
    const key = (m[1] ?? '').toLowerCase()
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim()
    if (!params.has(key)) params.set(key, raw)
  }
  return { name: params.get('name'), filename: params.get('filename') }
}

/** Incremental parser: feed chunks with {@link write}, then call {@link finish}. */
export class MultipartParser {
  private readonly delimiter: Buffer
  private state: State = 'preamble'
  /** Bytes held back: a possible partial delimiter, or an incomplete header block. */
  private pending: Buffer
  /** Absolute offset of `pending[0]` in the body (negative for the virtual leading CRLF). */
  private pendingOffset: number
  private consumed = 0

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1')
    // The first delimiter has no leading CRLF; pretending the body starts with one lets one
    // search find every delimiter.
    this.pending = Buffer.from(CRLF)
    this.pendingOffset = -2
  }

  /** Bytes of body fed so far. */
  get bytesConsumed(): number {
    return this.consumed
  }

  /** Whether the closing delimiter has been seen. */
  get complete(): boolean {
    return this.state === 'epilogue'
  }

  write(chunk: Buffer): MultipartEvent[] {
    const events: MultipartEvent[] = []
    const start = this.consumed
    this.consumed += chunk.length
    if (this.state === 'epilogue') return events
    let buf: Buffer
    let base: number
    if (this.pending.length > 0) {
      buf = Buffer.concat([this.pending, chunk])
      base = this.pendingOffset
    } else {
      buf = chunk
      base = start
    }
    this.pending = Buffer.alloc(0)
    let pos = 0
    const delim = this.delimiter
    for (;;) {
      if (this.state === 'preamble') {
        const idx = buf.indexOf(delim, pos)
        if (idx === -1) {
          this.hold(buf, Math.max(pos, buf.length - (delim.length - 1)), base)
          return events
        }
        pos = idx + delim.length
        this.state = 'afterDelimiter'
      } else if (this.state === 'afterDelimiter') {
        // After a delimiter: "--" closes the body; otherwise optional transport padding
        // (spaces, tabs) and CRLF start the next part's headers.
        let p = pos
        while (p < buf.length && (buf[p] === 0x20 || buf[p] === 0x09)) p++
        if (buf.length - p < 2) {
          this.hold(buf, pos, base)
          return events
        }
        if (p === pos && buf[p] === 0x2d && buf[p + 1] === 0x2d) {
          this.state = 'epilogue'
          events.push({ type: 'end' })
          return events
        }
        if (buf[p] !== CR || buf[p + 1] !== 0x0a) {
          throw new MalformedMultipartError('expected CRLF after a boundary')
        }
        pos = p + 2
        this.state = 'headers'
      } else if (this.state === 'headers') {
        let end: number
        let next: number
        if (buf.length - pos >= 2 && buf[pos] === CR && buf[pos + 1] === 0x0a) {
          end = pos
          next = pos + 2
        } else {
          end = buf.indexOf(HEADER_END, pos)
          if (end === -1) {
            if (buf.length - pos > MAX_HEADER_BYTES) {
              throw new MalformedMultipartError('part headers too large')
            }
            this.hold(buf, pos, base)
            return events
          }
          next = end + 4
        }
        if (end - pos > MAX_HEADER_BYTES)
          throw new MalformedMultipartError('part headers too large')
        events.push(this.partEvent(buf.toString('utf8', pos, end), base + next))
        pos = next
        this.state = 'body'
      } else if (this.state === 'body') {
        const idx = buf.indexOf(delim, pos)
        if (idx !== -1) {
          if (idx > pos) events.push({ type: 'data', data: buf.subarray(pos, idx) })
          events.push({ type: 'partEnd' })
          pos = idx + delim.length
          this.state = 'afterDelimiter'
          continue
        }
        const keep = this.partialDelimiterStart(buf, pos)
        if (keep > pos) events.push({ type: 'data', data: buf.subarray(pos, keep) })
        this.hold(buf, keep, base)
        return events
      } else {
        return events
      }
    }
  }

  /** Throws unless the body ended with the closing delimiter. */
  finish(): void {
    if (this.state !== 'epilogue') {
      throw new MalformedMultipartError('body ended before the closing boundary')
    }
  }

  /** Keeps `buf[from..]` (copied: it is small, and must not pin a large chunk) for next time. */
  private hold(buf: Buffer, from: number, base: number): void {
    this.pending = Buffer.from(buf.subarray(from))
    this.pendingOffset = base + from
  }

  /**
   * Where a delimiter could begin in the last `delimiter.length - 1` bytes of `buf`: the
   * bytes from there on must be held back. Only positions holding CR can start one.
   */
  private partialDelimiterStart(buf: Buffer, pos: number): number {
    const delim = this.delimiter
    let i = buf.indexOf(CR, Math.max(pos, buf.length - (delim.length - 1)))
    while (i !== -1) {
      if (buf.compare(delim, 0, buf.length - i, i) === 0) return i
      i = buf.indexOf(CR, i + 1)
    }
    return buf.length
  }

  private partEvent(block: string, bodyOffset: number): MultipartEvent {
    let disposition: Disposition | undefined
    let contentType: string | undefined
    for (const line of block.split('\r\n')) {
      if (line === '') continue
      const colon = line.indexOf(':')
      if (colon <= 0) throw new MalformedMultipartError(`bad part header: ${line}`)
      const header = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      if (header === 'content-disposition') disposition = parseDisposition(value)
      else if (header === 'content-type') contentType = value
    }
    if (!disposition) throw new MalformedMultipartError('part without form-data disposition')
    return {
      type: 'part',
      name: disposition.name,
      filename: disposition.filename,
      contentType,
      bodyOffset
    }
  }
}
