import { randomBytes } from 'node:crypto'

export interface FilePart {
  filename: string
  contentType: string
  /** The file's size, stated up front so that the whole body's length is known. */
  size: number
}

/**
 * A `multipart/form-data` body (RFC 7578) of text fields and one file last, as S3's POST
 * Object takes it. The framing is fixed before the first byte is sent, so the body's exact
 * length is known: S3 refuses a body without a Content-Length (411 MissingContentLength),
 * and a chunked one. The file's bytes pass through untouched, with no per-chunk framing.
 */
export class MultipartForm {
  readonly boundary = `----upload-downloads-${randomBytes(12).toString('hex')}`
  private readonly head: Buffer
  private readonly tail: Buffer

  constructor(
    fields: [string, string][],
    private readonly file: FilePart
  ) {
    const parts = fields.map(
      ([name, value]) =>
        `--${this.boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`
    )
    parts.push(
      `--${this.boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quote(file.filename)}"\r\n` +
        `Content-Type: ${file.contentType}\r\n\r\n`
    )
    this.head = Buffer.from(parts.join(''), 'utf8')
    this.tail = Buffer.from(`\r\n--${this.boundary}--\r\n`, 'utf8')
  }

  get contentType(): string {
    return `multipart/form-data; boundary=${this.boundary}`
  }

  /** The body's length in bytes: framing plus the file. */
  get length(): number {
    return this.head.length + this.file.size + this.tail.length
  }

  /** The body: the fields and the file part's header, the file's chunks, the closing line. */
  async *body(fileChunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    yield this.head
    yield* fileChunks
    yield this.tail
  }
}

/**
 * A name or file name inside a quoted header parameter. RFC 7578 §4.2: percent-encode `"`
 * (and line breaks, which would end the header), as browsers do; other UTF-8 goes as is.
 */
function quote(text: string): string {
  return text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}
