import { afterEach, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createProxy } from 'proxy'
import {
  startEmulator,
  type Emulator,
  type EmulatorOptions,
  type ExternalS3
} from '../../emulator/index.js'
import { S3Client } from '../../emulator/s3-client.js'
import type { CephInfo } from '../../scripts/ceph.js'
import {
  Job,
  makeWorkspace,
  runSteps,
  type JobResult,
  type RunResult,
  type RunningStep
} from '../../scripts/local-runner.js'
import {
  assertNoUnexpectedErrors,
  throwAll,
  unexpectedErrorFailures
} from '../helpers/unexpected-errors.js'

/**
 * Where the action's uploads go: the emulator's own S3 server, or, with
 * `UPLOAD_DOWNLOADS_S3=ceph` (`npm run test:ceph`), a Ceph RADOS Gateway that the jest
 * globalSetup started (`__tests__/e2e/ceph/`), its address in `UPLOAD_DOWNLOADS_CEPH`.
 */
export const onCeph = process.env.UPLOAD_DOWNLOADS_S3 === 'ceph'

/**
 * `it`, except on Ceph, where the test is skipped and its name says why: it needs what only
 * the emulator's own S3 server has (its fault hooks on the S3 hop, its upload progress, its
 * log of S3 requests).
 */
export function itWithOwnS3(
  reason: string
): (name: string, fn: () => Promise<void>, timeout?: number) => void {
  return (name, fn, timeout) => {
    if (onCeph) it.skip(`${name} [not on Ceph: ${reason}]`, fn, timeout)
    else it(name, fn, timeout)
  }
}

/** A fresh bucket on the Ceph gateway for one stage: tests run side by side, keys repeat. */
export async function cephBucket(): Promise<ExternalS3> {
  const raw = process.env.UPLOAD_DOWNLOADS_CEPH
  if (raw === undefined || raw === '') {
    // Fail, never skip: a Ceph run without Ceph must not look green.
    throw new Error(
      'UPLOAD_DOWNLOADS_S3=ceph, but no Ceph gateway was started: run `npm run test:ceph`, whose globalSetup starts one.'
    )
  }
  const info = JSON.parse(raw) as CephInfo
  const store: ExternalS3 = {
    endpoint: info.endpoint,
    bucket: `e2e-${randomBytes(6).toString('hex')}`,
    accessKeyId: info.accessKeyId,
    secretAccessKey: info.secretAccessKey
  }
  await new S3Client(store).createBucket()
  return store
}

/** What a test opened and must close: stages and proxies. */
const opened: { close(): Promise<void> }[] = []
/** The emulators of stages not closed yet, shared ones included. */
const live = new Set<Emulator>()
/**
 * After each test: closes what it opened, and fails it for any error the emulator did not
 * expect meanwhile (in a shared stage too), since the action may have retried past its 500.
 */
afterEach(async () => {
  const failures: unknown[] = []
  for (const thing of opened.splice(0).reverse()) {
    await thing.close().catch((error: unknown) => failures.push(error))
  }
  throwAll([...failures, ...unexpectedErrorFailures(live)])
})

/** Closes `thing` after the current test, pass or fail. */
export function closeAfterTest<T extends { close(): Promise<void> }>(thing: T): T {
  opened.push(thing)
  return thing
}

export const TOKEN = 'e2e-token'
export const REPO = 'octocat/hello-world'

/** An emulator and a workspace for one test, and a way to run the bundled action in it. */
export interface Stage {
  emulator: Emulator
  workspace: string
  /** Writes files into the workspace (relative path → content). */
  files(files: Record<string, string | Buffer>): Promise<void>
  /** Runs a job with the action as its one step: the main step, then the post step. */
  run(inputs: Record<string, string>, env?: Record<string, string>): Promise<JobResult>
  /** A job whose steps the test starts, signals and kills itself; closed after the test. */
  job(inputs: Record<string, string>, env?: Record<string, string>): Promise<StageJob>
  /** Creates a download whose bytes never arrive, as an upload cut short leaves one. */
  createEmpty(name: string): Promise<number>
  /** Requests that changed something (create, delete, S3 upload). */
  changes(): string[]
  close(): Promise<void>
}

/**
 * A {@link Job} whose steps, once they end, leave `emulator.downloads()` telling what the store
 * holds (on Ceph the emulator asks the gateway then: the uploads went there, not through it).
 */
export interface StageJob {
  readonly runnerTemp: string
  main(): Promise<RunningStep>
  post(): Promise<RunResult>
  /** Starts the post step, for a test that signals it while it runs. */
  startPost(): Promise<RunningStep>
  close(): Promise<void>
}

export async function stage(options: EmulatorOptions = {}): Promise<Stage> {
  const emulator = await startEmulator({
    tokens: [TOKEN],
    repos: [REPO, 'octocat/other'],
    ...(onCeph ? { externalS3: await cephBucket() } : {}),
    ...options
  })
  live.add(emulator)
  const workspace = await makeWorkspace()
  const runOptions = (inputs: Record<string, string>, env: Record<string, string>) => ({
    workspace,
    inputs,
    github: { token: TOKEN, repository: REPO, apiUrl: emulator.apiUrl },
    // Backoff in milliseconds, not seconds: the faults are injected, the waits need not be real.
    env: { UPLOAD_DOWNLOADS_RETRY_DELAY_MS: '20', ...env }
  })
  const startJob = async (
    inputs: Record<string, string>,
    env: Record<string, string> = {}
  ): Promise<StageJob> => {
    const job = closeAfterTest(await Job.create(runOptions(inputs, env)))
    const refreshed = async <T>(result: Promise<T>): Promise<T> => {
      const value = await result
      await emulator.refresh()
      return value
    }
    const watched = async (started: Promise<RunningStep>): Promise<RunningStep> => {
      const step = await started
      const result = refreshed(step.result)
      // Whoever waits on the step sees a failure; an unawaited one must not crash the worker.
      result.catch(() => undefined)
      return {
        pid: step.pid,
        result,
        cancel: async () => {
          await step.cancel()
          return result
        },
        kill: (signal) => step.kill(signal)
      }
    }
    return {
      runnerTemp: job.runnerTemp,
      main: () => watched(job.main()),
      startPost: () => watched(job.startPost()),
      post: () => refreshed(job.post()),
      close: () => job.close()
    }
  }
  return {
    emulator,
    workspace,
    async files(files) {
      for (const [name, content] of Object.entries(files)) {
        const file = path.join(workspace, name)
        await mkdir(path.dirname(file), { recursive: true })
        await writeFile(file, content)
      }
    },
    // What runAction does, with the store looked at after each step.
    run: async (inputs, env = {}) => runSteps(await startJob(inputs, env)),
    job: startJob,
    async createEmpty(name) {
      const res = await fetch(`${emulator.apiUrl}/repos/${REPO}/downloads`, {
        method: 'POST',
        headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, size: 100 })
      })
      if (res.status !== 201) throw new Error(`creating ${name} answered ${res.status}`)
      return ((await res.json()) as { id: number }).id
    },
    changes() {
      return emulator.requests
        .filter((r) => r.method === 'POST' || r.method === 'DELETE')
        .map((r) => `${r.method} ${r.path}`)
    },
    /** Fails when the emulator met an unexpected error that no test was failed for yet. */
    async close() {
      live.delete(emulator)
      await emulator.close()
      await rm(workspace, { recursive: true, force: true })
      assertNoUnexpectedErrors(emulator)
    }
  }
}

/** No record without bytes, and at most one download per name. */
export function expectNothingHalfMade(s: Stage): void {
  const stored = s.emulator.downloads(REPO)
  expect(stored.filter((d) => !d.uploaded).map((d) => d.name)).toEqual([])
  const names = stored.map((d) => d.name)
  expect(new Set(names).size).toBe(names.length)
}

/**
 * Starts the main step and kills it (SIGKILL) the moment the server has done a create or a
 * delete: the server holds its answer, so the step never hears of it. Resolves to the job,
 * for its post step.
 */
export async function killRightAfter(
  s: Stage,
  inputs: Record<string, string>,
  hop: 'create' | 'delete',
  name?: string
): Promise<StageJob> {
  s.emulator.faults.inject({
    hop,
    holdAfterCommitMs: 30_000,
    ...(name !== undefined ? { match: (req: { name?: string }) => req.name === name } : {})
  })
  const job = await s.job(inputs)
  const main = await job.main()
  await s.emulator.whenCommitted(hop, name)
  main.kill('SIGKILL')
  await main.result
  return job
}

export const sha256 = (data: string | Buffer): string =>
  createHash('sha256').update(data).digest('hex')

/** Fetches a download through its html_url, following the redirect to S3, as a browser would. */
export async function fetchBytes(url: string): Promise<Buffer> {
  const res = await fetch(url, { redirect: 'follow' })
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}`)
  return Buffer.from(await res.arrayBuffer())
}

export interface DownloadOutput {
  id: number
  name: string
  size: number
  content_type: string
  url: string
  html_url: string
  sha256: string
  status: 'created' | 'replaced' | 'unchanged'
}

export function downloadsOutput(result: RunResult): DownloadOutput[] {
  return JSON.parse(result.outputs.downloads ?? '[]') as DownloadOutput[]
}

/** A real HTTP proxy on loopback that notes every host it carries traffic to. */
export interface Proxy {
  url: string
  /** `host:port` of every tunnel (CONNECT) and every forwarded request, in order. */
  hosts: string[]
  close(): Promise<void>
}

export async function startProxy(): Promise<Proxy> {
  const hosts: string[] = []
  const server = createProxy(createServer())
  server.prependListener('connect', (req) => hosts.push(String(req.url)))
  server.prependListener('request', (req) => hosts.push(new URL(String(req.url)).host))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hosts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
