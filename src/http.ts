import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { EnvHttpProxyAgent, type Dispatcher } from 'undici'
import { ActionError, CancelledError, NetworkError } from './errors.js'

/** One HTTP request, as the rest of the program states it. */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'DELETE'
  url: string
  headers?: Record<string, string>
  /**
   * A string, or a stream or async iterable whose length the caller states in
   * `content-length`. A chunk of an async iterable is valid only until the next one is asked
   * for: the uploader reads the file into a few reused buffers.
   */
  body?: string | Readable | AsyncIterable<Uint8Array>
  /** Aborts the request (a cancelled run): it then fails with a `CancelledError`. */
  signal?: AbortSignal
}

/** An answer whose body the caller must consume: `text()` or `body`. */
export interface HttpResponse {
  status: number
  /** Lower-cased header names; repeated headers joined with `, `. */
  headers: Record<string, string>
  text(): Promise<string>
  body: Readable
  /** Discards the body so that the connection can be reused. */
  dump(): Promise<void>
}

/** The small interface every network call goes through; tests fake it. */
export interface HttpClient {
  request(request: HttpRequest): Promise<HttpResponse>
  close(): Promise<void>
}

export interface HttpTimeouts {
  /** Time allowed to open a connection. */
  connectMs: number
  /** Silence allowed while waiting for an answer or between body chunks. */
  idleMs: number
}

const DEFAULT_TIMEOUTS: HttpTimeouts = { connectMs: 30_000, idleMs: 120_000 }

/**
 * The real client: undici with keep-alive connections per origin. Redirects are never
 * followed here, so a token can never ride a redirect to another origin. `https_proxy`,
 * `http_proxy` and `no_proxy` are honoured, as the runner's other tools do.
 */
export function createHttpClient(timeouts: HttpTimeouts = DEFAULT_TIMEOUTS): HttpClient {
  const dispatcher = new EnvHttpProxyAgent({
    connectTimeout: timeouts.connectMs,
    // Timeouts on silence, never on a large upload's total time: undici re-arms the headers
    // timer at every write that meets back-pressure, and the body timer at every chunk.
    headersTimeout: timeouts.idleMs,
    bodyTimeout: timeouts.idleMs,
    keepAliveTimeout: 30_000
  })
  const cancellable = new Cancellable()
  return {
    async request(request) {
      let answer: Answer
      try {
        answer = await send(dispatcher, request, cancellable)
      } catch (error) {
        if (request.signal?.aborted) {
          throw new CancelledError(`${request.method} ${hostOf(request.url)} stopped: cancelled`)
        }
        // Our own errors from a request body (a file that changed) pass through as they are.
        if (error instanceof ActionError) throw error
        if (certificateError(error) !== undefined) {
          // No retry fixes a certificate the runner does not trust.
          throw new ActionError(
            `${request.method} ${hostOf(request.url)} failed: ${reason(error)}. If the server uses a private CA, point NODE_EXTRA_CA_CERTS at its PEM file.`,
            { cause: error }
          )
        }
        throw new NetworkError(
          `${request.method} ${hostOf(request.url)} failed: ${reason(error)}`,
          error
        )
      }
      const { body } = answer
      return {
        status: answer.status,
        headers: answer.headers,
        text: () =>
          readText(body).catch((error: unknown) => {
            throw new NetworkError(
              `Reading the answer from ${hostOf(request.url)} failed: ${reason(error)}`,
              error
            )
          }),
        body,
        dump: () => dump(body)
      }
    },
    close: () => dispatcher.close()
  }
}

/** An answer's status line and headers; its body streams on. */
interface Answer {
  status: number
  headers: Record<string, string>
  body: AnswerBody
}

/**
 * Sends one request through undici's `dispatch` with the small handler below, rather than
 * through `dispatcher.request()`. Measured on Node 24 with undici 8.12 (20,000 requests to a
 * loopback server, four at a time): `request()`'s handler keeps about 3 KB of every request
 * alive through V8's young-generation collections, which makes V8 grow its young generation
 * to the 32 MiB maximum within a few hundred requests (60 MiB more peak memory over 2,000
 * small files); with this handler about 120 bytes a request outlive one (undici's timers,
 * mostly). Same timeouts, same errors, same back-pressure.
 */
function send(
  dispatcher: Dispatcher,
  request: HttpRequest,
  cancellable: Cancellable
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const { signal } = request
    if (signal?.aborted) return reject(abortError(signal))
    const handler = new AnswerHandler(resolve, reject, signal, cancellable)
    dispatcher.dispatch(
      {
        method: request.method,
        origin: new URL(request.url).origin,
        path: pathOf(request.url),
        headers: request.headers,
        // undici takes async iterables (and writes each chunk only once the socket has taken
        // the last), but its request types do not list them.
        body: request.body as Readable | string | undefined
      },
      handler
    )
  })
}

/**
 * undici's callbacks for one request: the answer resolves once its headers are in, and its
 * body is a stream that pauses the socket while nobody reads it.
 */
class AnswerHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null
  private body: AnswerBody | null = null
  private abortReason: Error | null = null
  /** The promise is settled: later errors belong to the body, or to nobody. */
  private settled = false
  /** Neighbours among the requests in flight under the same signal ({@link Cancellable}). */
  previous: AnswerHandler | null = null
  next: AnswerHandler | null = null

  constructor(
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly cancellable: Cancellable
  ) {
    if (signal !== undefined) cancellable.add(signal, this)
  }

  /** Stops the request: its signal aborted. */
  abort(reason: Error): void {
    this.release()
    if (this.body !== null) this.body.destroy(reason)
    else if (this.controller !== null) this.controller.abort(reason)
    else this.abortReason = reason
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.abortReason !== null) {
      controller.abort(this.abortReason)
      return
    }
    this.controller = controller
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders
  ): void {
    // 1xx answers (100 Continue) are not the answer.
    if (statusCode < 200) return
    const body = new AnswerBody(controller, this)
    this.body = body
    this.settled = true
    this.resolve({ status: statusCode, headers: flattenHeaders(headers), body })
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.body !== null && !this.body.push(chunk)) controller.pause()
  }

  onResponseEnd(): void {
    this.body?.push(null)
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.body !== null) this.body.destroy(error)
    else this.fail(error)
  }

  private fail(error: unknown): void {
    this.release()
    if (this.settled) return
    this.settled = true
    this.reject(error)
  }

  /** Forgets the request's signal: it outlives the request. */
  release(): void {
    if (this.signal !== undefined) this.cancellable.delete(this.signal, this)
  }
}

/**
 * The requests in flight under each abort signal, with one 'abort' listener a signal rather
 * than one a request. Measured: a listener added and removed per request keeps about 4 KB of
 * every request alive through young-generation collections. Node's EventTarget keeps its
 * listeners in a linked list whose removed entries still point at their successors, and a
 * Set's outgrown tables point at their successors too: once V8 moved one such dead entry to
 * the old generation, it holds every later request until a full collection, and the young
 * generation grows to its maximum. Here a request leaves a list of its own whose links are
 * cleared when it leaves.
 */
class Cancellable {
  private readonly lists = new WeakMap<AbortSignal, { first: AnswerHandler | null }>()

  add(signal: AbortSignal, handler: AnswerHandler): void {
    let list = this.lists.get(signal)
    if (list === undefined) {
      const created: { first: AnswerHandler | null } = { first: null }
      list = created
      this.lists.set(signal, created)
      signal.addEventListener(
        'abort',
        () => {
          const reason = abortError(signal)
          const inFlight: AnswerHandler[] = []
          for (let h = created.first; h !== null; h = h.next) inFlight.push(h)
          for (const handler of inFlight) handler.abort(reason)
        },
        { once: true }
      )
    }
    handler.next = list.first
    if (list.first !== null) list.first.previous = handler
    list.first = handler
  }

  delete(signal: AbortSignal, handler: AnswerHandler): void {
    const list = this.lists.get(signal)
    if (list === undefined) return
    if (handler.previous !== null) handler.previous.next = handler.next
    else if (list.first === handler) list.first = handler.next
    else return
    if (handler.next !== null) handler.next.previous = handler.previous
    handler.previous = handler.next = null
  }
}

/** An answer's body. Reading it resumes the socket; destroying it early aborts the request. */
class AnswerBody extends Readable {
  constructor(
    private readonly controller: Dispatcher.DispatchController,
    private readonly handler: AnswerHandler
  ) {
    // undici's own answer bodies buffer this much, as Node's file streams do.
    super({ highWaterMark: 64 * 1024 })
    // A body nobody reads may still fail (a reset after the headers): that must not end the
    // process as an unhandled 'error'. Whoever reads it learns of the failure all the same.
    this.on('error', () => undefined)
  }

  override _read(): void {
    this.controller.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handler.release()
    // Left before its end: the connection cannot be reused (undici closes it).
    if (!this.readableEnded) this.controller.abort(error ?? new Error('the answer was not read'))
    callback(error)
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason
  return reason instanceof Error ? reason : new Error('aborted')
}

/** The body as text, as undici's `text()` reads it: UTF-8, a byte-order mark dropped. */
function readText(body: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    // It may have failed before anyone listened.
    if (body.destroyed) return reject(body.errored ?? new Error('the answer was cut off'))
    const chunks: Buffer[] = []
    body.on('data', (chunk: Buffer) => chunks.push(chunk))
    body.once('error', reject)
    body.once('end', () => {
      const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
      resolve(bytes.toString('utf8', bom ? 3 : 0))
    })
  })
}

/** Past this, draining an unwanted body costs more than a new connection (undici's limit). */
const DUMP_LIMIT = 128 * 1024

/** Discards the body: read to its end so the connection is reused, or cut off past the limit. */
function dump(body: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (body.destroyed) return resolve()
    let read = 0
    body.on('data', (chunk: Buffer) => {
      read += chunk.length
      if (read > DUMP_LIMIT) body.destroy()
    })
    body.once('close', () => resolve())
  })
}

function pathOf(url: string): string {
  const parsed = new URL(url)
  return `${parsed.pathname}${parsed.search}`
}

function hostOf(url: string): string {
  return new URL(url).host
}

/** Node's TLS verification failures (see tls.TLSSocket's authorizationError). */
const CERTIFICATE_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID'
])

/** The TLS verification code anywhere in an error's cause chain, if there is one. */
function certificateError(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && CERTIFICATE_ERRORS.has(code)) return code
  }
  return undefined
}

/** undici's error codes say more than its messages ("other side closed"). */
function reason(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : ''
    return code ? `${code}: ${error.message}${cause}` : `${error.message}${cause}`
  }
  return String(error)
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}
