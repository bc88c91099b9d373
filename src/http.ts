import type { Readable } from 'node:stream'
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
  return {
    async request(request) {
      let answer: Dispatcher.ResponseData
      try {
        answer = await dispatcher.request({
          method: request.method,
          origin: new URL(request.url).origin,
          path: pathOf(request.url),
          headers: request.headers,
          // undici takes async iterables (and writes each chunk only once the socket has
          // taken the last), but its request types do not list them.
          body: request.body as Readable | string | undefined,
          signal: request.signal
        })
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
      return {
        status: answer.statusCode,
        headers: flattenHeaders(answer.headers),
        text: () =>
          answer.body.text().catch((error: unknown) => {
            throw new NetworkError(
              `Reading the answer from ${hostOf(request.url)} failed: ${reason(error)}`,
              error
            )
          }),
        body: answer.body,
        dump: () => answer.body.dump().catch(() => undefined)
      }
    },
    close: () => dispatcher.close()
  }
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

function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value
  }
  return flat
}
