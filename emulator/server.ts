/**
 * The Downloads service, self-hosted: the emulator's API side with its metadata in SQLite
 * under a data folder, so that a restart keeps everything, and the bytes either in that
 * folder (served by the emulator's S3 side) or in an external S3-compatible store (Ceph RGW,
 * MinIO, AWS S3). The same code as the emulator, without its test hooks: no request log, no
 * faults, policies that expire, uploads flushed to the disk before they are acknowledged.
 */
import { randomBytes } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { startEmulator } from './index.js'
import { SqliteCatalog } from './sqlite-catalog.js'
import type { ExternalS3 } from './types.js'

/** The database file in the data folder. */
export const DATABASE_FILE = 'downloads.sqlite'
/**
 * How long an upload policy stays valid. GitHub's lasted 100 years; a server's should not:
 * whoever holds one may write the object until it expires. The action creates the download
 * again when its policy expired before the upload began.
 */
export const SERVER_POLICY_TTL_SECONDS = 3600

/** How long a connection may stay silent before it is closed. */
export const SERVER_IDLE_TIMEOUT_MS = 60_000
/** The most connections each of the API and the upload endpoint holds at once. */
export const SERVER_MAX_CONNECTIONS = 256

export interface ServerOptions {
  /** Where the database (and, without `externalS3`, the bytes) live. Created if missing. */
  dataDir: string
  /** Default `127.0.0.1`. */
  host?: string
  /** The API's port. Default 0: any free port. */
  port?: number
  /** The S3 side's port (without `externalS3`). Default 0. */
  s3Port?: number
  /** Accepted tokens. Default: one random token, returned in {@link DownloadsServer.tokens}. */
  tokens?: string[]
  /**
   * The repositories served, `owner/name`. Default: every repository the data folder knows
   * already (there must be one).
   */
  repos?: string[]
  /** The bytes go to this store instead of the data folder. */
  externalS3?: ExternalS3
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /** The API's URL as clients reach it, when a reverse proxy is in front. */
  publicUrl?: string
  /** The S3 side's URL as clients reach it (with a trailing slash). */
  s3PublicUrl?: string
  /** Upload policy lifetime. Default {@link SERVER_POLICY_TTL_SECONDS}. */
  policyTtlSeconds?: number
  /**
   * Told of each error a request met that is the server's, not the client's (a full disk, a
   * bug), which was answered with a 500. Default: printed to stderr.
   */
  onUnexpectedError?: (error: Error) => void
  /** Default {@link SERVER_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number
  /** Default {@link SERVER_MAX_CONNECTIONS}. */
  maxConnections?: number
}

/** A running server. */
export interface DownloadsServer {
  /** What clients use as the action's `api-url`. */
  readonly apiUrl: string
  /** Where uploads go: the S3 side, or `<endpoint>/<bucket>/` of the external store. */
  readonly s3Url: string
  readonly dataDir: string
  readonly tokens: readonly string[]
  readonly repos: readonly string[]
  /** Stops listening, ends the connections and closes the database. */
  close(): Promise<void>
}

/** Starts the server and resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<DownloadsServer> {
  const dataDir = resolve(options.dataDir)
  await mkdir(dataDir, { recursive: true })
  const catalog = new SqliteCatalog(join(dataDir, DATABASE_FILE), options.repos ?? [])
  const repos = catalog.repoNames()
  if (repos.length === 0) {
    catalog.close()
    throw new Error(`${dataDir} serves no repository yet: name one with --repo OWNER/NAME`)
  }
  const tokens = options.tokens ?? [randomBytes(20).toString('hex')]
  const emulator = await startEmulator({
    host: options.host ?? '127.0.0.1',
    apiPort: options.port ?? 0,
    s3Port: options.s3Port ?? 0,
    storageDir: dataDir,
    tokens,
    repos,
    catalog,
    durable: true,
    log: false,
    policyTtlSeconds: options.policyTtlSeconds ?? SERVER_POLICY_TTL_SECONDS,
    idleTimeoutMs: options.idleTimeoutMs ?? SERVER_IDLE_TIMEOUT_MS,
    maxConnections: options.maxConnections ?? SERVER_MAX_CONNECTIONS,
    onUnexpectedError:
      options.onUnexpectedError ??
      ((error) =>
        process.stderr.write(`downloads server error: ${error.stack ?? error.message}\n`)),
    ...(options.externalS3 ? { externalS3: options.externalS3 } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.publicUrl !== undefined ? { publicUrl: options.publicUrl } : {}),
    ...(options.s3PublicUrl !== undefined ? { s3PublicUrl: options.s3PublicUrl } : {})
  }).catch((err: unknown) => {
    catalog.close()
    throw err
  })
  return {
    apiUrl: emulator.apiUrl,
    s3Url: emulator.s3Url,
    dataDir,
    tokens,
    repos,
    close: () => emulator.close()
  }
}
