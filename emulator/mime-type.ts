/**
 * The server, not the client, decides `mime_type`, and the upload must send the server's
 * `mime_type`, not a local guess (docs/protocol.md, "Creating a download").
 */
import mime from 'mime-types'

/** `type/subtype` made of RFC 9110 token characters, without parameters. */
const MIME_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * `content_type` when it looks like a MIME type; otherwise (absent, or a bare extension such as
 * `.jpg`, which GitHub also took) the type of the file name; otherwise octet-stream.
 */
export function decideMimeType(name: string, contentType: string | undefined): string {
  if (contentType !== undefined && MIME_TYPE.test(contentType)) return contentType
  return mime.lookup(name) || 'application/octet-stream'
}
