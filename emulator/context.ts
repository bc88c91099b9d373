/**
 * What both servers share: the store, the fault controller, the request log and the settings
 * that tests may change while the emulator runs.
 */
import type { IncomingMessage, Server, ServerOptions } from 'node:http'
import type { FaultController } from './faults.js'
import type { RateLimiter } from './rate-limit.js'
import type { DownloadStore } from './store.js'
import type { Hop, RequestRecord } from './types.js'

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
  /** Set once the servers listen. */
  apiUrl: string
  s3Url: string
}

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
    connection: `${req.socket.remoteAddress}:${req.socket.remotePort}`
  }
  context.requests.push(record)
  return record
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The S3 URL of an object: each key segment URL-encoded, as github.com's redirect had it. */
export function objectUrl(context: EmulatorContext, key: string): string {
  return `${context.s3Url}${key.split('/').map(encodeURIComponent).join('/')}`
}
