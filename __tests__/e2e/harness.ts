import { afterEach } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createProxy } from 'proxy'
import { startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/index.js'
import {
  Job,
  makeWorkspace,
  runAction,
  type JobResult,
  type RunResult
} from '../../scripts/local-runner.js'
import {
  assertNoUnexpectedErrors,
  throwAll,
  unexpectedErrorFailures
} from '../helpers/unexpected-errors.js'

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
  job(inputs: Record<string, string>, env?: Record<string, string>): Promise<Job>
  /** Creates a download whose bytes never arrive, as an upload cut short leaves one. */
  createEmpty(name: string): Promise<number>
  /** Requests that changed something (create, delete, S3 upload). */
  changes(): string[]
  close(): Promise<void>
}

export async function stage(options: EmulatorOptions = {}): Promise<Stage> {
  const emulator = await startEmulator({
    tokens: [TOKEN],
    repos: [REPO, 'octocat/other'],
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
    run(inputs, env = {}) {
      return runAction(runOptions(inputs, env))
    },
    async job(inputs, env = {}) {
      return closeAfterTest(await Job.create(runOptions(inputs, env)))
    },
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
