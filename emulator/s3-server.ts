/**
 * The S3 origin: POST Object with a signature-version-2 policy (the upload step of the
 * Downloads API) and GET Object (where `html_url` redirects).
 *
 * As strict as docs/protocol.md, "S3 POST Object (signature version 2)": the spec's field
 * order, the signature, every policy condition, the extra-fields rule, Content-Length,
 * multipart/form-data, 20 KiB of fields before the file, one file of at most 5 GiB. The body is
 * streamed to a temp file while MD5 and SHA-256 are computed; nothing is buffered whole.
 */
import { createHash } from 'node:crypto'
import { createWriteStream, type WriteStream } from 'node:fs'
import { rm, type FileHandle } from 'node:fs/promises'
import { once } from 'node:events'
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse
} from 'node:http'
import { finished, pipeline } from 'node:stream/promises'
import { pacedBody } from './bandwidth.js'
import {
  clientWentAway,
  delay,
  holdAnswer,
  objectSafetyHeaders,
  parseTarget,
  recordOf,
  recordRequest,
  reportUnexpected,
  type EmulatorContext,
  type ServerFactory
} from './context.js'
import type { ActiveFault } from './faults.js'
import {
  MalformedMultipartError,
  MultipartParser,
  isMultipartFormData,
  multipartBoundary,
  type MultipartEvent
} from './multipart.js'
import {
  InvalidPolicyError,
  decodePolicy,
  evaluatePolicy,
  verifySignature,
  type FormField
} from './policy.js'
import { errorXml, escapeXml, newRequestId, s3Error, type S3ErrorAnswer } from './s3-errors.js'
import type { DownloadRecord } from './store.js'
import type { RequestRecord } from './types.js'

/** "One POST carries at most 5 GiB." */
export const MAX_OBJECT_BYTES = 5 * 1024 * 1024 * 1024
/** "Form fields before the file may total at most 20 KiB." */
export const MAX_PRE_DATA_BYTES = 20 * 1024
/** Room for the file part's boundary and headers when judging a Content-Length up front. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024

/**
 * The fields in the spec's order ("The order in which you pass these fields matters! Follow the
 * order shown above exactly."), lower-cased because names match case-insensitively.
 */
export const FIELD_ORDER = [
  'key',
  'acl',
  'success_action_status',
  'filename',
  'awsaccesskeyid',
  'policy',
  'signature',
  'content-type'
] as const

/** The fields without which S3 cannot authenticate the POST at all. */
const REQUIRED_FIELDS = [
  ['key', 'key'],
  ['awsaccesskeyid', 'AWSAccessKeyId'],
  ['policy', 'Policy'],
  ['signature', 'Signature']
] as const

export interface S3ServerOptions {
  /** Largest object accepted. Default 5 GiB, as S3; tests may lower it. */
  maxObjectBytes?: number
  /** node:http's createServer, or an HTTPS one. */
  makeServer?: ServerFactory
}

function missingFieldError(name: string): S3ErrorAnswer {
  return s3Error(
    'InvalidArgument',
    `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    { ArgumentName: name, ArgumentValue: '' }
  )
}

function sendError(
  res: ServerResponse,
  record: RequestRecord,
  error: S3ErrorAnswer,
  close = false
): void {
  if (res.headersSent || res.destroyed) return
  const requestId = newRequestId()
  const body = errorXml(error, requestId)
  record.status = error.status
  const headers: OutgoingHttpHeaders = {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
    Server: 'AmazonS3'
  }
  if (close) headers['Connection'] = 'close'
  res.writeHead(error.status, headers)
  res.end(body)
}

function faultError(fault: ActiveFault): S3ErrorAnswer {
  return s3Error(fault.s3Code ?? 'InternalError', fault.message)
}

/** Streams one file part to disk, hashing on the way. */
class UploadSink {
  private readonly out: WriteStream
  private readonly md5 = createHash('md5')
  private readonly sha256 = createHash('sha256')
  private failure: Error | undefined
  size = 0

  constructor(
    readonly path: string,
    private readonly limit: number
  ) {
    // Large buffers: a multi-GiB upload should cost little beyond hashing and writing.
    this.out = createWriteStream(path, { flags: 'wx', highWaterMark: 4 * 1024 * 1024 })
    this.out.on('error', (err) => {
      this.failure = err
    })
  }

  async write(data: Buffer): Promise<void> {
    this.size += data.length
    // Past the limit the bytes are counted (for ProposedSize) but not kept.
    if (this.size > this.limit) return
    if (this.failure) throw this.failure
    this.md5.update(data)
    this.sha256.update(data)
    if (!this.out.write(data)) await once(this.out, 'drain')
  }

  get overLimit(): boolean {
    return this.size > this.limit
  }

  async finish(): Promise<{ size: number; md5: string; sha256: string }> {
    this.out.end()
    await finished(this.out)
    if (this.failure) throw this.failure
    return { size: this.size, md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') }
  }

  async discard(): Promise<void> {
    this.out.destroy()
    await finished(this.out).catch(() => undefined)
    await rm(this.path, { force: true })
  }
}

/** A form that passed every check before the file. */
interface AcceptedForm {
  download: DownloadRecord
  successActionStatus: string
  contentType: string
  lengthRange?: { min: number; max: number }
}

export function createS3Server(context: EmulatorContext, options: S3ServerOptions = {}): Server {
  const maxObjectBytes = options.maxObjectBytes ?? MAX_OBJECT_BYTES
  // requestTimeout 0: a 5 GiB upload may take longer than node's default 300 s.
  const server = (options.makeServer ?? createServer)({
    requestTimeout: 0,
    highWaterMark: 1024 * 1024
  })
  const dispatch = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void => {
    const socket = req.socket
    const method = req.method ?? 'GET'
    const target = parseTarget(req.url)
    const raw = req.url ?? '/'
    // Origin-form paths are taken as sent (S3 keys may hold what URL parsing would normalise).
    const pathname = raw.startsWith('/') ? (raw.split('?')[0] ?? '/') : (target?.pathname ?? '/')
    const run = async (): Promise<void> => {
      if (!target) {
        // A request target that is no URL: S3's 400 InvalidURI, and the connection closes.
        const record = recordRequest(context, 's3', 'other', req)
        sendError(res, record, s3Error('InvalidURI'), true)
      } else if (method === 'POST' && pathname === '/') {
        await handlePost(context, maxObjectBytes, req, res, expectsContinue)
      } else if ((method === 'GET' || method === 'HEAD') && pathname !== '/') {
        await handleGetObject(context, req, res, pathname)
      } else {
        if (expectsContinue) res.writeContinue()
        const record = recordRequest(context, 's3', 'other', req)
        // Listing the bucket was not allowed; other methods are not part of this protocol.
        sendError(
          res,
          record,
          method === 'GET' ? s3Error('AccessDenied') : s3Error('MethodNotAllowed')
        )
      }
    }
    run().catch((error: unknown) => {
      // A handler bug, or a socket that went away: never leave the client hanging.
      if (!clientWentAway(context, socket, error)) reportUnexpected(context, error)
      if (!res.headersSent && !res.destroyed) {
        const record = recordOf(req)
        if (record) record.status = 500
        res.writeHead(500, { 'Content-Type': 'application/xml' })
        res.end(errorXml(s3Error('InternalError'), newRequestId()))
      } else {
        res.destroy()
      }
    })
  }
  server.on('request', (req: IncomingMessage, res: ServerResponse) => dispatch(req, res, false))
  // curl sends `Expect: 100-continue` for bodies over 1 MiB. Answering "100 Continue" only after
  // the headers passed lets a hopeless upload fail before its body is sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) =>
    dispatch(req, res, true)
  )
  return server
}

/** Checks that need only the headers. */
function precheck(req: IncomingMessage, maxObjectBytes: number): S3ErrorAnswer | undefined {
  const contentType = req.headers['content-type']
  if (!isMultipartFormData(contentType)) return s3Error('PreconditionFailed')
  // A chunked body has no Content-Length, and S3 did not accept one.
  const lengthHeader = req.headers['content-length']
  if (lengthHeader === undefined) return s3Error('MissingContentLength')
  if (multipartBoundary(contentType) === undefined) return s3Error('MalformedPOSTRequest')
  const length = Number(lengthHeader)
  if (length > maxObjectBytes + MAX_PRE_DATA_BYTES + MULTIPART_OVERHEAD_BYTES) {
    return s3Error('EntityTooLarge', undefined, {
      ProposedSize: length,
      MaxSizeAllowed: maxObjectBytes
    })
  }
  return undefined
}

/** Why `value` cannot be sent as an HTTP header value, or undefined when it can. */
function headerValueProblem(value: string): string | undefined {
  const codes = [...value].map((ch) => ch.codePointAt(0) ?? 0)
  if (codes.some((code) => code > 0xff)) {
    return 'Header value cannot be represented using ISO-8859-1.'
  }
  // Control characters other than tab (a CR or LF would end the header), and DEL.
  if (codes.some((code) => (code < 0x20 && code !== 0x09) || code === 0x7f)) {
    return 'Header value contains a control character.'
  }
  return undefined
}

/** The checks on the fields before the file, in S3's order. */
function validateForm(
  context: EmulatorContext,
  fields: readonly FormField[]
): S3ErrorAnswer | AcceptedForm {
  let last = -1
  for (const field of fields) {
    const index = (FIELD_ORDER as readonly string[]).indexOf(field.name.toLowerCase())
    if (index === -1) continue
    // A known field out of the spec's order (or repeated) is reported by name.
    if (index <= last) return missingFieldError(field.name)
    last = index
  }
  const value = (lower: string): string | undefined =>
    fields.find((field) => field.name.toLowerCase() === lower)?.value
  for (const [lower, name] of REQUIRED_FIELDS) {
    if (value(lower) === undefined) return missingFieldError(name)
  }
  const key = value('key') ?? ''
  const accessKeyId = value('awsaccesskeyid') ?? ''
  const policyField = value('policy') ?? ''
  const signature = value('signature') ?? ''
  if (accessKeyId !== context.accessKeyId) {
    return s3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId })
  }
  if (!verifySignature(context.secret, policyField, signature)) {
    return s3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: accessKeyId,
      StringToSign: policyField,
      SignatureProvided: signature
    })
  }
  let verdict
  try {
    verdict = evaluatePolicy(decodePolicy(policyField), fields, {
      bucket: context.bucket,
      now: new Date()
    })
  } catch (err) {
    if (err instanceof InvalidPolicyError) return s3Error('InvalidPolicyDocument', err.message)
    throw err
  }
  if (!verdict.ok) return s3Error('AccessDenied', verdict.message)
  // Only keys of created downloads are writable (the policy is GitHub's, the bucket too).
  const download = context.store.findByKey(key)
  if (!download) return s3Error('AccessDenied')
  const contentType = value('content-type') ?? 'binary/octet-stream'
  // The object is served with this Content-Type header, so it must be able to be one.
  const problem = headerValueProblem(contentType)
  if (problem) {
    return s3Error('InvalidArgument', problem, {
      ArgumentName: 'Content-Type',
      ArgumentValue: contentType
    })
  }
  const accepted: AcceptedForm = {
    download,
    successActionStatus: value('success_action_status') ?? '',
    contentType
  }
  if (verdict.lengthRange) accepted.lengthRange = verdict.lengthRange
  return accepted
}

/**
 * One POST Object request, driven by the multipart parser: the fields before the file, then
 * the file's bytes, then S3's answer. `state` says what the rest of the body is for:
 * 'fields' and 'file' read on; 'answered' reads and drops it, so the client can finish sending
 * and read the answer (anything after the file is ignored, as S3 does); 'gone' stops reading
 * (the socket was destroyed).
 */
class PostUpload {
  state: 'fields' | 'file' | 'answered' | 'gone' = 'fields'
  private readonly fields: FormField[] = []
  private field: { name: string; chunks: Buffer[] } | undefined
  private file: { sink: UploadSink; form: AcceptedForm; received: number } | undefined
  private fault: ActiveFault | undefined

  constructor(
    private readonly context: EmulatorContext,
    private readonly maxObjectBytes: number,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly record: RequestRecord
  ) {}

  /** Reads the body to its end, feeding the parser's events to the upload. */
  async receive(body: AsyncIterable<Buffer>, parser: MultipartParser): Promise<void> {
    for await (const chunk of body) {
      if (this.state === 'answered') continue
      let events: MultipartEvent[]
      try {
        events = parser.write(chunk)
      } catch (err) {
        if (!(err instanceof MalformedMultipartError)) throw err
        await this.discard()
        this.fail(s3Error('MalformedPOSTRequest'))
        continue
      }
      for (const event of events) {
        await this.onEvent(event)
        if (this.stopped()) break
      }
      if (this.state === 'gone') return
      if (this.state === 'fields' && parser.bytesConsumed > MAX_PRE_DATA_BYTES) {
        // The file has not even started within the first 20 KiB.
        this.fail(s3Error('MaxPostPreDataLengthExceeded'))
      }
    }
    if (this.state === 'fields' || this.state === 'file') {
      // The body ended before the closing boundary (or before the file part ended).
      await this.discard()
      this.fail(s3Error('MalformedPOSTRequest'))
    }
  }

  /** Whether the upload is over: answered, or its socket destroyed. */
  private stopped(): boolean {
    return this.state === 'answered' || this.state === 'gone'
  }

  /** Drops the bytes received so far (the client went away, or the body was malformed). */
  async discard(): Promise<void> {
    await this.file?.sink.discard()
  }

  private async onEvent(event: MultipartEvent): Promise<void> {
    if (this.state === 'fields') {
      switch (event.type) {
        case 'part':
          if (event.name?.toLowerCase() === 'file') return this.onFileStart(event.bodyOffset)
          this.field = { name: event.name ?? '', chunks: [] }
          return
        case 'data':
          this.field?.chunks.push(event.data)
          return
        case 'partEnd':
          if (this.field) this.onField(this.field.name, Buffer.concat(this.field.chunks))
          this.field = undefined
          return
        case 'end':
          return this.onEnd()
      }
    } else if (this.state === 'file') {
      if (event.type === 'data') return this.onFileData(event.data)
      if (event.type === 'partEnd') return this.onFileEnd()
    }
  }

  private onField(name: string, value: Buffer): void {
    this.fields.push({ name, value: value.toString() })
  }

  /** The file part starts: the fields before it are all known, so they are judged now. */
  private async onFileStart(bodyOffset: number): Promise<void> {
    if (bodyOffset > MAX_PRE_DATA_BYTES) return this.fail(s3Error('MaxPostPreDataLengthExceeded'))
    if (!(await this.applyFault())) return
    const verdict = validateForm(this.context, this.fields)
    if ('code' in verdict) return this.fail(verdict)
    const limit = Math.min(this.maxObjectBytes, verdict.lengthRange?.max ?? Infinity)
    this.file = {
      sink: new UploadSink(this.context.store.incomingPath(), limit),
      form: verdict,
      received: 0
    }
    this.state = 'file'
    this.context.waiters.uploadProgress(verdict.download.name, 0)
  }

  private async onFileData(data: Buffer): Promise<void> {
    if (!this.file) return
    this.file.received += data.length
    this.context.waiters.uploadProgress(this.file.form.download.name, this.file.received)
    await this.file.sink.write(data)
  }

  private async onFileEnd(): Promise<void> {
    if (!this.file) return
    this.state = 'answered'
    await this.complete(this.file.sink, this.file.form)
    this.file = undefined
  }

  /** The closing boundary, and no file. */
  private async onEnd(): Promise<void> {
    if (!(await this.applyFault())) return
    const verdict = validateForm(this.context, this.fields)
    // A form S3 refuses with InvalidArgument (a field missing or out of order, a bad
    // Content-Type) is reported as such even when the file is missing too.
    const isInvalidArgument = 'code' in verdict && verdict.code === 'InvalidArgument'
    this.fail(isInvalidArgument ? verdict : s3Error('IncorrectNumberOfFilesInPostRequest'))
  }

  private fail(error: S3ErrorAnswer): void {
    sendError(this.res, this.record, error)
    this.state = 'answered'
  }

  /**
   * The fault decision point: once the fields before the file are known (so `match` sees the
   * download name). False when the fault answered (an error went out, or the socket was
   * destroyed): the upload goes no further.
   */
  private async applyFault(): Promise<boolean> {
    const { context, req } = this
    const key = this.fields.find((field) => field.name.toLowerCase() === 'key')?.value
    const download = key === undefined ? undefined : context.store.findByKey(key)
    const fault = context.faults.take('s3', {
      origin: 's3',
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      ...(download ? { name: download.name } : {})
    })
    if (!fault) return true
    this.fault = fault
    this.record.fault = fault.label
    if (fault.delayMs > 0) await delay(fault.delayMs, context.shutdown)
    if (fault.reset) {
      // Part of the body has been read by now: the connection drops mid-upload.
      req.socket.destroy()
      this.state = 'gone'
      return false
    }
    if (fault.status !== undefined) {
      this.fail(faultError(fault))
      return false
    }
    return true
  }

  /** Size checks, then the rename into place, then S3's success answer. */
  private async complete(sink: UploadSink, form: AcceptedForm): Promise<void> {
    const { context, req, res, record, fault } = this
    const size = sink.size
    const range = form.lengthRange
    if (sink.overLimit) {
      await sink.discard()
      const max = Math.min(this.maxObjectBytes, range?.max ?? Infinity)
      return this.fail(
        s3Error('EntityTooLarge', undefined, { ProposedSize: size, MaxSizeAllowed: max })
      )
    }
    if (range && size < range.min) {
      await sink.discard()
      return this.fail(
        s3Error('EntityTooSmall', undefined, { ProposedSize: size, MinSizeAllowed: range.min })
      )
    }
    const result = await sink.finish()
    const stored = await context.store.commitUpload(form.download, sink.path, {
      ...result,
      contentType: form.contentType
    })
    // A download deleted while its bytes came in keeps nothing: the upload committed nothing.
    if (stored) context.waiters.committed(record, 's3', form.download.name)
    if (fault && fault.holdAfterCommitMs > 0) {
      if (!(await holdAnswer(context, req, res, fault.holdAfterCommitMs))) {
        // The client is gone: nobody to answer.
        req.socket.destroy()
        this.state = 'gone'
        return
      }
    }
    if (fault?.resetAfterCommit) {
      // Stored, but the answer is lost.
      req.socket.destroy()
      this.state = 'gone'
      return
    }
    const key = form.download.key
    const location = `${context.s3Url}${encodeURIComponent(key)}`
    const etag = `"${result.md5}"`
    const headers: OutgoingHttpHeaders = {
      ETag: etag,
      Location: location,
      'x-amz-request-id': newRequestId(),
      Server: 'AmazonS3'
    }
    // success_action_status: 200 and 201 as asked, anything else 204 (S3 POST Object).
    if (form.successActionStatus === '201') {
      const body =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<PostResponse><Location>${escapeXml(location)}</Location><Bucket>${escapeXml(context.bucket)}</Bucket>` +
        `<Key>${escapeXml(key)}</Key><ETag>${escapeXml(etag)}</ETag></PostResponse>`
      record.status = 201
      res.writeHead(201, {
        ...headers,
        'Content-Type': 'application/xml',
        'Content-Length': Buffer.byteLength(body)
      })
      res.end(body)
    } else {
      const status = form.successActionStatus === '200' ? 200 : 204
      record.status = status
      res.writeHead(status, status === 200 ? { ...headers, 'Content-Length': 0 } : headers)
      res.end()
    }
  }
}

async function handlePost(
  context: EmulatorContext,
  maxObjectBytes: number,
  req: IncomingMessage,
  res: ServerResponse,
  expectsContinue: boolean
): Promise<void> {
  const record = recordRequest(context, 's3', 's3', req)
  // Held here: reading the body stops by destroying `req`, which lets go of its socket.
  const socket = req.socket
  const early = precheck(req, maxObjectBytes)
  if (early) {
    // With Expect: 100-continue the body never comes; close so the connection stays in step.
    sendError(res, record, early, expectsContinue || early.code === 'EntityTooLarge')
    return
  }
  if (expectsContinue) res.writeContinue()
  // The bandwidth limit in force when the upload starts holds for all of it.
  const bytesPerSecond = context.uploadBytesPerSecond
  const body: AsyncIterable<Buffer> =
    bytesPerSecond === null ? req : pacedBody(req, bytesPerSecond, context.shutdown)
  const parser = new MultipartParser(multipartBoundary(req.headers['content-type']) ?? '')
  const upload = new PostUpload(context, maxObjectBytes, req, res, record)
  try {
    await upload.receive(body, parser)
  } catch (error) {
    // The client went away mid-body, or the emulator failed (a disk error, a bug): drop the
    // partial upload. Only the client going away is expected.
    await upload.discard()
    if (!clientWentAway(context, socket, error)) reportUnexpected(context, error)
    if (!socket.destroyed) sendError(res, record, s3Error('InternalError'))
  }
}

async function handleGetObject(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string
): Promise<void> {
  const record = recordRequest(context, 's3', 'download', req)
  const fault = context.faults.take('download', {
    origin: 's3',
    method: req.method ?? 'GET',
    path: req.url ?? '/'
  })
  if (fault) {
    record.fault = fault.label
    if (fault.delayMs > 0) await delay(fault.delayMs, context.shutdown)
    if (fault.reset || fault.resetAfterCommit) {
      req.socket.destroy()
      return
    }
    if (fault.status !== undefined) return sendError(res, record, faultError(fault))
  }
  let key: string
  try {
    key = pathname.slice(1).split('/').map(decodeURIComponent).join('/')
  } catch {
    return sendError(res, record, s3Error('NoSuchKey'))
  }
  // Opened together with its description, so a delete or an overwrite that lands meanwhile
  // cannot give a 500 or a Content-Length that does not match the bytes.
  const object = await context.store.openObject(key)
  if (!object) return sendError(res, record, s3Error('NoSuchKey', undefined, { Key: key }))
  let handle: FileHandle | undefined = object.handle
  try {
    record.status = 200
    res.writeHead(200, {
      'Content-Type': object.contentType,
      'Content-Length': object.size,
      ETag: `"${object.md5}"`,
      'Last-Modified': object.mtime.toUTCString(),
      ...objectSafetyHeaders(key),
      'x-amz-request-id': newRequestId(),
      Server: 'AmazonS3'
    })
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    // Streamed in large reads: the object may be gigabytes. The stream closes the handle.
    const stream = handle.createReadStream({ highWaterMark: 1024 * 1024 })
    handle = undefined
    await pipeline(stream, res)
  } finally {
    await handle?.close()
  }
}
