/**
 * The emulator's public types. They live apart from `index.ts` so the servers can import them
 * without importing the module that wires the servers together.
 */
import type { Catalog } from './store.js'

/** Options for {@link startEmulator}. Every field has a default that mirrors GitHub in 2013. */
export interface EmulatorOptions {
  /** Interface both servers listen on. Default `127.0.0.1`. */
  host?: string
  /** API (api.github.com + github.com) port. Default 0: an ephemeral port. */
  apiPort?: number
  /** S3 port. Default 0. The S3 endpoint is a separate server and origin, as on AWS. */
  s3Port?: number
  /** Where uploaded bytes live. Default: a fresh temp dir, removed on close. */
  storageDir?: string
  /** Accepted tokens. Default `['emulator-token']`. */
  tokens?: string[]
  /** Existing `owner/name` repositories. Default `['octocat/hello-world']`. */
  repos?: string[]
  /** Policy lifetime after create, in seconds. Default 100 years (GitHub issued 2113 in 2013). */
  policyTtlSeconds?: number
  /** The `acl` the create response hands out. Default `private` (2013); 2012 said `public-read`. */
  acl?: string
  /** `X-RateLimit-Limit` per hour window. Default 5000. */
  rateLimit?: number
  /** S3 secret the policies are signed with (the access key id is `AKIAEMULATOREXAMPLE`). */
  secret?: string
  /**
   * Serve both origins over HTTPS with this key and certificate (PEM), as a GitHub Enterprise
   * Server with a private CA would. Default: plain HTTP.
   */
  tls?: { key: string | Buffer; cert: string | Buffer }
  /**
   * Read S3 POST bodies no faster than this many bytes per second (the whole body, fields
   * included). Default: no limit. See {@link Emulator.setUploadBandwidth}.
   */
  uploadBytesPerSecond?: number
  /**
   * Hand uploads out to this S3 store instead of the emulator's own S3 server (which then does
   * not start): creates sign a JSON policy for its bucket, `html_url` redirects to a presigned
   * URL on it, and a download counts as uploaded once the store holds its object with the
   * declared size. See README.md, "An external S3 store".
   */
  externalS3?: ExternalS3
  /**
   * Told of each error the emulator did not expect (a bug, a disk failure), as it happens.
   * Such an error is answered with a 500 `InternalError` (S3) or `Server Error` (API), which a
   * client retries past: see {@link Emulator.unexpectedErrors}.
   */
  onUnexpectedError?: (error: Error) => void
  /**
   * Close a connection after this long without a byte either way (silence, not total time: a
   * slow upload that keeps moving goes on). Default: never (the server: 60 s).
   */
  idleTimeoutMs?: number
  /**
   * The most connections each of the two servers (API, S3) holds at once; more are closed
   * as they arrive. Default: no cap (the server: 256).
   */
  maxConnections?: number
  /**
   * Where the downloads' metadata lives. Default: in memory, gone on close. The server
   * (`server.ts`) passes a SQLite catalog; `repos` is the catalog's business then. Closed
   * with the emulator.
   */
  catalog?: Catalog
  /**
   * Flush each upload's bytes to the disk before S3 answers (the server). Default false.
   */
  durable?: boolean
  /**
   * Keep `requests` and the moments `whenCommitted`/`whenUploadReceived` look back on.
   * Default true; a long-running server turns it off so that its memory stays flat (the
   * waits then see only what happens after they are asked).
   */
  log?: boolean
  /**
   * The API's URL as clients reach it (a reverse proxy in front), for the URLs in answers
   * (`url`, `html_url`, `Link`). Default: the address it listens on. No trailing slash.
   */
  publicUrl?: string
  /** The S3 server's URL as clients reach it (`s3_url`), with a trailing slash. */
  s3PublicUrl?: string
}

/** An S3 store the emulator hands uploads out to, addressed path-style. */
export interface ExternalS3 {
  /** The store's origin, e.g. `http://127.0.0.1:7480` (no bucket in it). */
  endpoint: string
  /** The bucket objects go to; it must exist. */
  bucket: string
  accessKeyId: string
  secretAccessKey: string
}

/** A download as the emulator stores it. */
export interface StoredDownload {
  id: number
  /** Canonical `owner/name`. */
  repo: string
  name: string
  description: string
  /** `content_type` as the client sent it (a MIME type or a bare extension), else the MIME type. */
  contentType: string
  /** The `mime_type` the server decided. */
  mimeType: string
  /** `size` from the create request. */
  declaredSize: number
  uploaded: boolean
  /** Bytes stored: 0 until uploaded. */
  size: number
  md5?: string
  sha256?: string
  filePath?: string
  createdAt: string
}

/** Which step of the protocol a request belongs to. */
export type Hop = 'list' | 'get' | 'create' | 'delete' | 's3' | 'download' | 'page' | 'other'

/** The hops that change the store: create stores a download, delete removes one, s3 stores bytes. */
export type CommitHop = 'create' | 'delete' | 's3'

/** One request either server saw. */
export interface RequestRecord {
  origin: 'api' | 's3'
  hop: Hop
  method: string
  path: string
  /** The status answered; 0 when the socket was destroyed instead. */
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The client's `address:port`: one per TCP connection, so tests can see keep-alive reuse. */
  connection: string
  /** The injected fault's label (e.g. `create:503`), when one hit this request. */
  fault?: string
  /**
   * True once a create, delete or S3 POST did its work in the store (stored the download,
   * removed it, stored the bytes), whether or not its answer then reached the client.
   */
  committed: boolean
}

/** One scripted fault. See `emulator/README.md`. */
export interface FaultRule {
  hop: Hop
  /** How many matching requests it hits. Default 1. */
  times?: number
  /** Optional filter; `name` is the download name for create/s3 when known. */
  match?: (req: { method: string; path: string; name?: string }) => boolean
  /** Answer with this status (API: JSON `{"message": ...}`; S3: XML `<Error>`). */
  status?: number
  /** S3 error code for the XML body, e.g. `SlowDown`. */
  s3Code?: string
  message?: string
  /** Destroy the socket without answering (S3: after reading part of the body). */
  reset?: boolean
  /** Do the work, then destroy the socket: the answer is lost. */
  resetAfterCommit?: boolean
  /** `primary`: 403 + `x-ratelimit-remaining: 0`; `secondary`: 403 + `retry-after`. */
  rateLimit?: 'primary' | 'secondary'
  /** Primary limit: `x-ratelimit-reset` is now + this. Default 2. */
  resetInSeconds?: number
  /** Secondary limit: `retry-after` value; `null` omits the header. Default 1. */
  retryAfterSeconds?: number | null
  /** Wait this long before answering (or before going on, when nothing else is set). */
  delayMs?: number
  /**
   * create, delete and s3 only: do the work (store the download, delete it, store the bytes),
   * then wait this long before answering; a client gone by then gets nothing.
   */
  holdAfterCommitMs?: number
  /**
   * create only: the download is made and answered as usual, but its policy is signed with a
   * wrong secret, so the store refuses the upload for good (the emulator's S3: `403
   * SignatureDoesNotMatch`; Ceph's gateway: `403 AccessDenied` with no message). The one fault
   * that reaches an external store's S3 hop.
   */
  badSignature?: boolean
}

/** Seeded random transient faults. */
export interface RandomFaults {
  seed: number
  /** Probability per request, 0..1. */
  rate: number
  /** Default: list, create, delete, s3, download. */
  hops?: Hop[]
  /** `retry-after` of random secondary limits. Default 1. */
  retryAfterSeconds?: number
}

/** Scripted and random fault injection. */
export interface FaultInjector {
  inject(rule: FaultRule): void
  random(config: RandomFaults | null): void
  clear(): void
  /** Counts by label, e.g. `{ 'create:503': 2, 's3:SlowDown': 1 }`. */
  readonly injected: Record<string, number>
  readonly total: number
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly apiUrl: string
  /**
   * `http://127.0.0.1:PORT2/`, with the trailing slash GitHub's `s3_url` had; with
   * `externalS3`, the store's bucket URL (`<endpoint>/<bucket>/`).
   */
  readonly s3Url: string
  readonly storageDir: string
  readonly faults: FaultInjector
  /** Every request both servers saw, in arrival order. */
  readonly requests: RequestRecord[]
  /**
   * Every error the emulator did not expect, in order: a handler's bug or a disk failure,
   * never a client going away or an injected fault. Each was answered with a 500 that a
   * client would retry past, so a test should fail when this is not empty.
   */
  readonly unexpectedErrors: readonly Error[]
  downloads(repo: string): StoredDownload[]
  /**
   * Adds a download as if uploaded earlier; `content: null` makes a record whose upload never
   * finished (listed, no bytes). `createdAt` backdates it.
   */
  seed(
    repo: string,
    d: {
      name: string
      description?: string
      content: Buffer | string | null
      contentType?: string
      createdAt?: Date
    }
  ): StoredDownload
  setPolicyTtl(seconds: number): void
  /**
   * Limits how fast the S3 server reads POST bodies, for uploads that start afterwards;
   * `null` lifts the limit.
   */
  setUploadBandwidth(bytesPerSecond: number | null): void
  /**
   * Resolves once an S3 POST for the download named `name` has received at least `bytes` bytes
   * of its file part (at once if one already has); rejects after `timeoutMs` (default 30 s).
   */
  whenUploadReceived(name: string, bytes: number, timeoutMs?: number): Promise<void>
  /**
   * Resolves with the request once a request of `hop` (for `name`, the download's name, when
   * given) has done its work in the store (at once if one already has); rejects after
   * `timeoutMs` (default 30 s).
   */
  whenCommitted(hop: CommitHop, name?: string, timeoutMs?: number): Promise<RequestRecord>
  /**
   * With `externalS3`: asks the store about every download (HEAD, and a GET to hash an object
   * not hashed yet), so that {@link downloads} tells what the store holds. Resolves at once
   * otherwise: the emulator's own store is always current.
   */
  refresh(): Promise<void>
  close(): Promise<void>
}
