/**
 * S3's XML errors: `<Error><Code/><Message/>…<RequestId/><HostId/></Error>` with the status and
 * message S3 used for each code (docs/protocol.md, "S3 POST Object", "Errors").
 */
import { randomBytes } from 'node:crypto'

/** An S3 error answer waiting to be sent. */
export interface S3ErrorAnswer {
  status: number
  code: string
  message: string
  /** Extra elements between `<Message>` and `<RequestId>`, e.g. `ProposedSize`. */
  extra?: Record<string, string | number>
}

const KNOWN: Record<string, { status: number; message: string }> = {
  AccessDenied: { status: 403, message: 'Access Denied' },
  EntityTooLarge: {
    status: 400,
    message: 'Your proposed upload exceeds the maximum allowed size'
  },
  EntityTooSmall: {
    status: 400,
    message: 'Your proposed upload is smaller than the minimum allowed size'
  },
  IncorrectNumberOfFilesInPostRequest: {
    status: 400,
    message: 'POST requires exactly one file upload per request.'
  },
  InternalError: { status: 500, message: 'We encountered an internal error. Please try again.' },
  InvalidAccessKeyId: {
    status: 403,
    message: 'The AWS Access Key Id you provided does not exist in our records.'
  },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidURI: { status: 400, message: "Couldn't parse the specified URI." },
  InvalidPolicyDocument: {
    status: 400,
    message:
      'The content of the form does not meet the conditions specified in the policy document.'
  },
  MalformedPOSTRequest: {
    status: 400,
    message: 'The body of your POST request is not well-formed multipart/form-data.'
  },
  MaxPostPreDataLengthExceeded: {
    status: 400,
    message: 'Your POST request fields preceding the upload file were too large.'
  },
  MethodNotAllowed: {
    status: 405,
    message: 'The specified method is not allowed against this resource.'
  },
  MissingContentLength: {
    status: 411,
    message: 'You must provide the Content-Length HTTP header.'
  },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NotImplemented: {
    status: 501,
    message: 'A header you provided implies functionality that is not implemented.'
  },
  PreconditionFailed: {
    status: 412,
    message: 'Bucket POST must be of the enclosure-type multipart/form-data'
  },
  RequestTimeout: {
    status: 400,
    message:
      'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.'
  },
  ServiceUnavailable: { status: 503, message: 'Service is unable to handle request.' },
  SignatureDoesNotMatch: {
    status: 403,
    message:
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.'
  },
  SlowDown: { status: 503, message: 'Please reduce your request rate.' }
}

/** Builds an error for `code`, with S3's status and message unless given. */
export function s3Error(
  code: string,
  message?: string,
  extra?: Record<string, string | number>
): S3ErrorAnswer {
  const known = KNOWN[code]
  return {
    status: known?.status ?? 400,
    code,
    message: message ?? known?.message ?? code,
    ...(extra ? { extra } : {})
  }
}

/** The status S3 answers `code` with (400 for codes it does not know). */
export function statusForCode(code: string): number {
  return KNOWN[code]?.status ?? 400
}

/** The code a scripted fault with only a status gets. */
export function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'RequestTimeout'
    case 403:
      return 'AccessDenied'
    case 404:
      return 'NoSuchKey'
    case 501:
      return 'NotImplemented'
    case 503:
      return 'ServiceUnavailable'
    default:
      return 'InternalError'
  }
}

/**
 * Escapes XML element text. Quotes stay literal: S3 wrote `<ETag>"md5"</ETag>`
 * (docs/protocol.md, "The answer"), and clients may match that text.
 */
export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A request id in S3's style (16 upper-case hex digits). */
export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase()
}

/** The XML body of an error. */
export function errorXml(error: S3ErrorAnswer, requestId: string): string {
  const extra = Object.entries(error.extra ?? {})
    .map(([name, value]) => `<${name}>${escapeXml(String(value))}</${name}>`)
    .join('')
  const hostId = randomBytes(24).toString('base64')
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message>` +
    `${extra}<RequestId>${requestId}</RequestId><HostId>${hostId}</HostId></Error>`
  )
}
