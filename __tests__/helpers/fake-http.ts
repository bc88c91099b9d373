import { Readable } from 'node:stream'
import { ActionError, NetworkError } from '../../src/errors.js'
import type { HttpClient, HttpRequest, HttpResponse } from '../../src/http.js'

/** A request as the fake received it, body read to the end. */
export interface RecordedRequest {
  method: HttpRequest['method']
  url: string
  /** Header names lower-cased. */
  headers: Record<string, string>
  body: Buffer
  /** The body as UTF-8. */
  text: string
}

/** An answer to give: status, headers (any case; they are lower-cased) and body. */
export interface ScriptedAnswer {
  status: number
  headers?: Record<string, string>
  body?: string | Buffer
}

/**
 * What a route replies: an answer, an `Error` to throw instead of answering (a connection lost
 * before the answer), or a function of the request giving either.
 */
export type Reply =
  | ScriptedAnswer
  | Error
  | ((request: RecordedRequest) => ScriptedAnswer | Error | Promise<ScriptedAnswer | Error>)

type UrlMatch = string | RegExp | ((url: string) => boolean)

interface Route {
  method: HttpRequest['method']
  url: UrlMatch
  replies: Reply[]
  repeat: boolean
}

/**
 * A scripted `HttpClient`. Routes answer in the order they were added; a route's replies are
 * used once each, in turn (`onEvery` repeats one reply). A request no route takes goes to the
 * fallback, if any, or fails the test with a plain (non-transient, so never retried) error.
 * Every request is recorded with its whole body: a stream body is read to its end before the
 * answer is given, as a server reading a form would.
 */
export class FakeHttp implements HttpClient {
  readonly requests: RecordedRequest[] = []
  closed = false
  private readonly routes: Route[] = []
  private fallbackReply: Reply | undefined

  /** Answers `method url` with `replies`, one per request, in turn. */
  on(method: HttpRequest['method'], url: UrlMatch, ...replies: Reply[]): this {
    this.routes.push({ method, url, replies, repeat: false })
    return this
  }

  /** Answers every `method url` with `reply`. */
  onEvery(method: HttpRequest['method'], url: UrlMatch, reply: Reply): this {
    this.routes.push({ method, url, replies: [reply], repeat: true })
    return this
  }

  /** Answers whatever no route takes (a stateful fake server, say). */
  fallback(reply: Reply): this {
    this.fallbackReply = reply
    return this
  }

  /** Scripted replies not yet used, as `METHOD url-match` lines. */
  unused(): string[] {
    return this.routes
      .filter((route) => !route.repeat && route.replies.length > 0)
      .map((route) => `${route.method} ${String(route.url)} (${route.replies.length} left)`)
  }

  /** The recorded requests with this method (and URL start, if given). */
  sent(method: HttpRequest['method'], urlPrefix = ''): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.url.startsWith(urlPrefix))
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    const recorded = await record(request)
    this.requests.push(recorded)
    const reply = this.take(recorded)
    if (reply === undefined) {
      throw new Error(`FakeHttp: nothing scripted for ${request.method} ${request.url}`)
    }
    const answer = typeof reply === 'function' ? await reply(recorded) : reply
    if (answer instanceof Error) throw answer
    return respond(answer)
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private take(request: RecordedRequest): Reply | undefined {
    for (const route of this.routes) {
      if (route.method !== request.method || !matches(route.url, request.url)) continue
      if (route.replies.length === 0) continue
      return route.repeat ? route.replies[0] : route.replies.shift()
    }
    return this.fallbackReply
  }
}

function matches(match: UrlMatch, url: string): boolean {
  if (typeof match === 'string') return match === url
  if (match instanceof RegExp) return match.test(url)
  return match(url)
}

async function record(request: HttpRequest): Promise<RecordedRequest> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    headers[name.toLowerCase()] = value
  }
  let body = Buffer.alloc(0)
  if (typeof request.body === 'string') {
    body = Buffer.from(request.body)
  } else if (request.body !== undefined) {
    const chunks: Buffer[] = []
    try {
      for await (const chunk of request.body) {
        // Copied: a body chunk is valid only until the next is asked for (HttpRequest.body).
        chunks.push(Buffer.from(chunk as Uint8Array))
      }
    } catch (error) {
      // As the real client: our own errors pass through, anything else is the network's.
      if (error instanceof ActionError) throw error
      throw new NetworkError(`${request.method} ${request.url} failed: body broke off`, error)
    }
    body = Buffer.concat(chunks)
  }
  return { method: request.method, url: request.url, headers, body, text: body.toString('utf8') }
}

function respond(answer: ScriptedAnswer): HttpResponse {
  const bytes = Buffer.from(answer.body ?? '')
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(answer.headers ?? {})) {
    headers[name.toLowerCase()] = value
  }
  return {
    status: answer.status,
    headers,
    text: async () => bytes.toString('utf8'),
    body: Readable.from(bytes.length > 0 ? [bytes] : []),
    dump: async () => undefined
  }
}

/** A JSON answer. */
export function json(status: number, value: unknown, headers: Record<string, string> = {}) {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value)
  } satisfies ScriptedAnswer
}

/** S3's XML error document. */
export function s3Error(status: number, code: string, message: string): ScriptedAnswer {
  return {
    status,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`
  }
}

/** One part of a multipart/form-data body. */
export interface FormPart {
  name: string
  filename?: string
  contentType?: string
  data: Buffer
}

/** Splits a multipart/form-data body (RFC 7578) into its parts, in order. */
export function parseMultipart(body: Buffer, contentType: string): FormPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType)
  if (!boundary) throw new Error(`No boundary in content-type ${contentType}`)
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`)
  const parts: FormPart[] = []
  let at = body.indexOf(delimiter)
  if (at !== 0) throw new Error('The body does not start with the boundary')
  for (;;) {
    at += delimiter.length
    if (body.subarray(at, at + 2).toString() === '--') break
    at += 2 // CRLF after the delimiter
    const headEnd = body.indexOf('\r\n\r\n', at)
    const head = body.subarray(at, headEnd).toString('utf8')
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headEnd + 4)
    if (headEnd < 0 || next < 0) throw new Error('A part is not closed by the boundary')
    const disposition = /^content-disposition:(.*)$/im.exec(head)?.[1] ?? ''
    const type = /^content-type:\s*(.*)$/im.exec(head)?.[1]
    parts.push({
      name: /\bname="([^"]*)"/.exec(disposition)?.[1] ?? '',
      filename: /\bfilename="([^"]*)"/.exec(disposition)?.[1],
      contentType: type?.trim(),
      data: body.subarray(headEnd + 4, next)
    })
    at = next + 2
  }
  return parts
}
