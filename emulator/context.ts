/**
 * What both servers share: the store, the fault controller, the request log and the settings
 * that tests may change while the emulator runs.
 */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http'
import type { ExternalStore } from './external-store.js'
import type { Socket } from 'node:net'
import type { FaultController } from './faults.js'
import type { RateLimiter } from './rate-limit.js'
import type { DownloadStore } from './store.js'
import type { Hop, RequestRecord } from './types.js'
import type { Waiters } from './waiters.js'

/** Makes the listening server: node:http's createServer, or node:https's with a certificate. */
export type ServerFactory = (options: ServerOptions) => Server

export interface EmulatorContext {
  readonly store: DownloadStore
  readonly faults: FaultController
  readonly requests: RequestRecord[]
  readonly tokens: ReadonlySet<string>
  readonly limiter: RateLimiter
  /** The S3 secret policies are signed with. */
  readonly secret: string
  readonly accessKeyId: string
  /** The bucket the S3 endpoint stands for; the `bucket` condition is checked against it. */
  readonly bucket: string
  readonly acl: string
  policyTtlSeconds: number
  /** How fast the S3 server reads a POST body that starts now; null: as fast as it comes. */
  uploadBytesPerSecond: number | null
  /** Progress and commits, for the tests that wait for them. */
  readonly waiters: Waiters
  /** Aborted when the emulator closes: held answers and paced reads stop waiting. */
  readonly shutdown: AbortSignal
  /** Whether `requests` keeps each request (off in the long-running server). */
  readonly log: boolean
  /**
   * With `externalS3`: the store the uploads go to, which says what a download holds. Unset:
   * the emulator's own S3 server and store.
   */
  readonly external?: ExternalStore
  /**
   * Errors no request should cause (a handler's bug, a disk failure), each of which was
   * answered with a 500 that a client would retry past. Tests fail on any.
   */
  readonly unexpectedErrors: Error[]
  /** Told of each unexpected error as it happens (the command line prints it). */
  readonly onUnexpectedError: ((error: Error) => void) | undefined
  /** Set once the servers listen. */
  apiUrl: string
  s3Url: string
}

/** Each request's log entry, for the error path that has only the request. */
const records = new WeakMap<IncomingMessage, RequestRecord>()

/** Appends a request to the log at arrival; the handler fills in status and fault later. */
export function recordRequest(
  context: EmulatorContext,
  origin: 'api' | 's3',
  hop: Hop,
  req: IncomingMessage
): RequestRecord {
  const record: RequestRecord = {
    origin,
    hop,
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    status: 0,
    headers: { ...req.headers },
    connection: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
    committed: false
  }
  if (context.log) context.requests.push(record)
  records.set(req, record)
  return record
}

/** The log entry of `req`, once it was recorded. */
export function recordOf(req: IncomingMessage): RequestRecord | undefined {
  return records.get(req)
}

/**
 * Whether a handler's failure is the client's doing, not the emulator's: the client went
 * away (or the emulator is closing and cut the connection), so reading the body or writing
 * the answer failed. `socket`: the request's, taken when it arrived (a request stream that was
 * destroyed lets go of it).
 */
export function clientWentAway(context: EmulatorContext, socket: Socket, error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    context.shutdown.aborted ||
    socket.destroyed ||
    (typeof code === 'string' && CONNECTION_ERRORS.has(code))
  )
}

/** Node's codes for a connection that ended under a request. */
const CONNECTION_ERRORS = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_STREAM_DESTROYED'
])

/** Notes an error that is the emulator's own fault, for the tests to fail on. */
export function reportUnexpected(context: EmulatorContext, error: unknown): void {
  // By shape, not `instanceof`: Node's own errors come from another realm than a test's Error.
  const err =
    typeof error === 'object' && error !== null && typeof (error as Error).message === 'string'
      ? (error as Error)
      : new Error(String(error))
  context.unexpectedErrors.push(err)
  context.onUnexpectedError?.(err)
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller then looks at its state). */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Holds an answer for `ms` after the work is done (the `holdAfterCommitMs` fault). False when
 * the client went away meanwhile (or the emulator closed): there is no one to answer. The wait
 * ends early then, since no answer will be sent either way.
 */
export async function holdAnswer(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  ms: number
): Promise<boolean> {
  const gone = (): boolean =>
    req.socket.destroyed || res.destroyed || res.writableEnded || context.shutdown.aborted
  if (gone()) return false
  const stop = new AbortController()
  const onGone = (): void => stop.abort()
  // 'close' on the response before it was sent: the connection ended.
  res.once('close', onGone)
  context.shutdown.addEventListener('abort', onGone, { once: true })
  try {
    await delay(ms, stop.signal)
  } finally {
    res.off('close', onGone)
    context.shutdown.removeEventListener('abort', onGone)
  }
  return !stop.signal.aborted && !gone()
}

/**
 * The request target as a URL: origin-form (`/path?query`) or absolute-form
 * (`http://host/path`, which HTTP/1.1 servers must accept). Undefined when it does not parse
 * as an http(s) URL; the servers answer 400 then.
 */
export function parseTarget(target: string | undefined): URL | undefined {
  const raw = target ?? '/'
  try {
    // Origin-form is parsed against a fixed origin by concatenation, so `//x` stays a path.
    const url = raw.startsWith('/') ? new URL(`http://emulator.invalid${raw}`) : new URL(raw)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
  } catch {
    return undefined
  }
}

/**
 * `Content-Disposition` for a download: an attachment under its name (RFC 6266, the name
 * percent-encoded as RFC 8187 says), so a browser saves it instead of showing it.
 */
export function attachment(name: string): string {
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`
  )
  return `attachment; filename*=UTF-8''${encoded}`
}

/**
 * Headers every object served from the upload origin carries: an uploaded `.html` or `.svg`
 * must not run as a page of that origin.
 */
export function objectSafetyHeaders(key: string): Record<string, string> {
  return {
    'Content-Disposition': attachment(key.split('/').pop() ?? key),
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': 'sandbox'
  }
}

/** The S3 URL of an object: each key segment URL-encoded, as github.com's redirect had it. */
export function objectUrl(context: EmulatorContext, key: string): string {
  return `${context.s3Url}${key.split('/').map(encodeURIComponent).join('/')}`
}
