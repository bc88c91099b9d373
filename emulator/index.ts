/**
 * A strict emulator of GitHub's legacy Downloads API and of the S3 POST upload it handed out:
 * two loopback servers (API and S3, separate origins) sharing one store. See README.md here.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApiServer, validName } from './api-server.js'
import { checkBandwidth } from './bandwidth.js'
import type { EmulatorContext, ServerFactory } from './context.js'
import { ExternalStore } from './external-store.js'
import { FaultController } from './faults.js'
import { decideMimeType } from './mime-type.js'
import { RateLimiter } from './rate-limit.js'
import { createS3Server } from './s3-server.js'
import { DownloadStore, githubTimestamp, toStoredDownload } from './store.js'
import type { Emulator, EmulatorOptions, StoredDownload } from './types.js'
import { Waiters } from './waiters.js'

export type { Catalog } from './store.js'
export type {
  CommitHop,
  Emulator,
  EmulatorOptions,
  ExternalS3,
  FaultInjector,
  FaultRule,
  Hop,
  RandomFaults,
  RequestRecord,
  StoredDownload
} from './types.js'

/** The access key id policies are issued under. */
export const EMULATOR_ACCESS_KEY_ID = 'AKIAEMULATOREXAMPLE'
/** The default S3 secret (pass `secret` to sign with another). */
export const EMULATOR_SECRET = 'emulator/secret/do-not-use/0000000000000'
/** GitHub issued policies valid for 100 years (2113 for 2013). */
export const DEFAULT_POLICY_TTL_SECONDS = 100 * 365 * 24 * 3600 + 25 * 24 * 3600

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    // Uploads in flight and idle keep-alive sockets must not hold close() open.
    server.closeAllConnections()
  })
}

function checkPolicyTtl(seconds: number): void {
  if (!Number.isFinite(seconds)) {
    throw new RangeError(`the policy lifetime must be a finite number of seconds, got ${seconds}`)
  }
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/**
 * Starts both servers and resolves once they listen.
 * @param options defaults mirror GitHub and S3 in 2013 (see {@link EmulatorOptions})
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1'
  if (options.policyTtlSeconds !== undefined) checkPolicyTtl(options.policyTtlSeconds)
  if (options.uploadBytesPerSecond !== undefined) {
    if (options.externalS3) {
      throw new Error(
        'uploadBytesPerSecond does not go with externalS3: the store reads the uploads'
      )
    }
    checkBandwidth(options.uploadBytesPerSecond, 'uploadBytesPerSecond')
  }
  const ownsStorage = options.storageDir === undefined
  const storageDir = options.storageDir ?? (await mkdtemp(join(tmpdir(), 'downloads-emulator-')))
  await mkdir(storageDir, { recursive: true })
  const rateLimit = options.rateLimit ?? 5000
  const shutdown = new AbortController()
  const waiters = new Waiters(options.log ?? true)
  // With an external store, policies are issued for its bucket under its keys, and the
  // emulator's own S3 server does not start.
  const store = new DownloadStore(storageDir, options.repos ?? ['octocat/hello-world'], {
    ...(options.catalog ? { catalog: options.catalog } : {}),
    durable: options.durable ?? false
  })
  // What the store says about an object is kept in the catalog (a restart keeps it).
  const external = options.externalS3
    ? new ExternalStore(options.externalS3, (record) => store.saveObject(record))
    : undefined
  const context: EmulatorContext = {
    store,
    faults: new FaultController(external === undefined),
    requests: [],
    tokens: new Set(options.tokens ?? ['emulator-token']),
    limiter: new RateLimiter(rateLimit),
    secret: options.externalS3?.secretAccessKey ?? options.secret ?? EMULATOR_SECRET,
    accessKeyId: options.externalS3?.accessKeyId ?? EMULATOR_ACCESS_KEY_ID,
    bucket: external?.bucket ?? 'github',
    acl: options.acl ?? 'private',
    policyTtlSeconds: options.policyTtlSeconds ?? DEFAULT_POLICY_TTL_SECONDS,
    uploadBytesPerSecond: options.uploadBytesPerSecond ?? null,
    waiters,
    shutdown: shutdown.signal,
    log: options.log ?? true,
    ...(external ? { external } : {}),
    unexpectedErrors: [],
    onUnexpectedError: options.onUnexpectedError,
    apiUrl: '',
    s3Url: ''
  }
  /** What the emulator cannot do when it does not see the uploads. */
  const notWithExternal = (what: string): void => {
    if (external) {
      throw new Error(
        `${what} is not available with externalS3: the uploads go to the store, not to the emulator`
      )
    }
  }
  const tls = options.tls
  const makeServer: ServerFactory = tls
    ? // An https.Server answers the same 'request' and 'checkContinue' events.
      (serverOptions) => createHttpsServer({ ...serverOptions, ...tls })
    : createServer
  const scheme = tls ? 'https' : 'http'
  const api = createApiServer(context, makeServer)
  const s3 = external ? undefined : createS3Server(context, { makeServer })
  const servers = s3 ? [api, s3] : [api]
  for (const server of servers) {
    // Silence, not total time: node's socket timeout restarts with every byte.
    if (options.idleTimeoutMs !== undefined) server.timeout = options.idleTimeoutMs
    if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections
  }
  try {
    const apiPort = await listen(api, options.apiPort ?? 0, host)
    context.apiUrl = options.publicUrl ?? `${scheme}://${urlHost(host)}:${apiPort}`
    if (s3) {
      const s3Port = await listen(s3, options.s3Port ?? 0, host)
      context.s3Url = options.s3PublicUrl ?? `${scheme}://${urlHost(host)}:${s3Port}/`
    } else if (external) {
      context.s3Url = external.bucketUrl
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer))
    store.close()
    if (ownsStorage) await rm(storageDir, { recursive: true, force: true })
    throw err
  }

  let closing: Promise<void> | undefined
  return {
    apiUrl: context.apiUrl,
    s3Url: context.s3Url,
    storageDir,
    faults: context.faults,
    requests: context.requests,
    unexpectedErrors: context.unexpectedErrors,
    downloads(repo: string): StoredDownload[] {
      return context.store.list(repo).map(toStoredDownload)
    },
    seed(repo, d): StoredDownload {
      const canonical = context.store.resolveRepo(repo)
      if (canonical === undefined) throw new Error(`unknown repository: ${repo}`)
      // The names the API refuses would break the list and the redirect.
      if (!validName(d.name)) throw new Error(`invalid download name: ${JSON.stringify(d.name)}`)
      if (context.store.findByName(canonical, d.name)) {
        throw new Error(`download already exists: ${d.name}`)
      }
      const mimeType = decideMimeType(d.name, d.contentType)
      const record = context.store.create(canonical, {
        name: d.name,
        description: d.description ?? '',
        contentType: d.contentType ?? mimeType,
        mimeType,
        declaredSize: d.content === null ? 0 : Buffer.byteLength(d.content),
        ...(d.createdAt !== undefined ? { createdAt: githubTimestamp(d.createdAt) } : {})
      })
      // A record whose upload never finished: listed, without bytes.
      if (d.content === null) return toStoredDownload(record)
      const content = typeof d.content === 'string' ? Buffer.from(d.content) : d.content
      // The store's PUT runs in the background; the API answers nothing until it is done.
      if (external) {
        external.seed(record, content)
        return toStoredDownload(record)
      }
      try {
        context.store.seedUploaded(record, content)
      } catch (err) {
        context.store.forget(record)
        throw err
      }
      return toStoredDownload(record)
    },
    setPolicyTtl(seconds: number): void {
      checkPolicyTtl(seconds)
      context.policyTtlSeconds = seconds
    },
    setUploadBandwidth(bytesPerSecond: number | null): void {
      if (bytesPerSecond === null && external) return // no limit: so it is
      notWithExternal('setUploadBandwidth')
      if (bytesPerSecond !== null) checkBandwidth(bytesPerSecond, 'the upload bandwidth')
      context.uploadBytesPerSecond = bytesPerSecond
    },
    whenUploadReceived(name, bytes, timeoutMs) {
      notWithExternal('whenUploadReceived')
      return waiters.whenUploadReceived(name, bytes, timeoutMs)
    },
    whenCommitted(hop, name, timeoutMs) {
      if (hop === 's3') notWithExternal("whenCommitted('s3')")
      return waiters.whenCommitted(hop, name, timeoutMs)
    },
    async refresh(): Promise<void> {
      if (!external) return
      await external.refresh(context.store.repoNames().flatMap((repo) => context.store.list(repo)))
    },
    close(): Promise<void> {
      closing ??= (async () => {
        waiters.close()
        // Held answers, fault delays and paced uploads stop waiting.
        shutdown.abort()
        await Promise.all(servers.map(closeServer))
        store.close()
        if (ownsStorage) await rm(storageDir, { recursive: true, force: true })
      })()
      return closing
    }
  }
}
