/**
 * The self-hosted Downloads service (`npm run server`) as its operator runs it: a process
 * started with flags on a data folder, stopped with a signal, started again. The bundled
 * action publishes to it. With `npm run test:ceph` the bytes go to Ceph's gateway
 * (`--s3-endpoint`); otherwise the server keeps them in its folder.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { createInterface } from 'node:readline'
import {
  makeWorkspace,
  projectRoot,
  runAction,
  type JobResult
} from '../../scripts/local-runner.js'
import { cephBucket, downloadsOutput, fetchBytes, onCeph, REPO, sha256, TOKEN } from './harness.js'

// As `npm run server` runs it; jest's globalSetup rebuilds a stale `build/` first.
const CLI = path.join(projectRoot, 'build', 'emulator', 'server-cli.js')

interface ServerInfo {
  apiUrl: string
  s3Url: string
  token?: string
  repositories: string[]
  dataDir: string
}

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

interface ServerProcess {
  info: ServerInfo
  /** Sends `signal` to the server's process and resolves once it exited. */
  stop(signal: NodeJS.Signals): Promise<Exit>
}

/** Folders and processes a test made, removed and stopped (by PID) after it. */
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A data folder, and on Ceph a bucket of its own: one server's, across its restarts. */
async function dataFolder(): Promise<{ dir: string; storeArgs: string[]; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'downloads-server-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  if (!onCeph) return { dir, storeArgs: [], env: {} }
  const store = await cephBucket()
  return {
    dir,
    storeArgs: ['--s3-endpoint', store.endpoint, '--s3-bucket', store.bucket],
    env: { AWS_ACCESS_KEY_ID: store.accessKeyId, AWS_SECRET_ACCESS_KEY: store.secretAccessKey }
  }
}

type Folder = Awaited<ReturnType<typeof dataFolder>>

/**
 * Runs `npm run server`'s program on `folder` with `args`, on loopback and free ports.
 * `fileLimitKiB`: no file it writes may grow past this (`ulimit -f`), as on a full disk.
 */
function launch(folder: Folder, args: string[], fileLimitKiB?: number) {
  const argv = [
    CLI,
    '--data',
    folder.dir,
    '--port',
    '0',
    '--s3-port',
    '0',
    ...folder.storeArgs,
    ...args
  ]
  // `exec`: the PID is the server's own.
  const [command, ...rest] =
    fileLimitKiB === undefined
      ? [process.execPath, ...argv]
      : ['bash', '-c', `ulimit -f ${fileLimitKiB} && exec "$0" "$@"`, process.execPath, ...argv]
  const child = spawn(command ?? process.execPath, rest, {
    env: { ...process.env, ...folder.env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal, stderr }))
  )
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL')
    }
    await exited
  })
  const firstLine = new Promise<string | undefined>((resolve) => {
    const lines = createInterface({ input: child.stdout })
    lines.once('line', resolve)
    lines.once('close', () => resolve(undefined))
  })
  return { child, exited, firstLine }
}

async function startServer(
  folder: Folder,
  args: string[],
  fileLimitKiB?: number
): Promise<ServerProcess> {
  const { child, exited, firstLine } = launch(folder, args, fileLimitKiB)
  const line = await firstLine
  if (line === undefined) {
    const exit = await exited
    throw new Error(`the server exited (${exit.code}) before it printed its URLs:\n${exit.stderr}`)
  }
  return {
    info: JSON.parse(line) as ServerInfo,
    async stop(signal) {
      if (child.pid !== undefined) process.kill(child.pid, signal)
      return exited
    }
  }
}

/** A server that must refuse to start: its exit. */
async function failToStart(folder: Folder, args: string[]): Promise<Exit> {
  const { exited } = launch(folder, args)
  return exited
}

async function workspaceWith(files: Record<string, string | Buffer>): Promise<string> {
  const workspace = await makeWorkspace()
  cleanups.push(() => rm(workspace, { recursive: true, force: true }))
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(workspace, name)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, content)
  }
  return workspace
}

/** The bundled action, as a runner runs it, against the server. */
function publish(
  server: ServerProcess,
  workspace: string,
  inputs: Record<string, string>,
  github: { token?: string; repository?: string } = {}
): Promise<JobResult> {
  return runAction({
    workspace,
    inputs,
    github: {
      token: github.token ?? TOKEN,
      repository: github.repository ?? REPO,
      apiUrl: server.info.apiUrl
    },
    env: { UPLOAD_DOWNLOADS_RETRY_DELAY_MS: '20' }
  })
}

interface ListedDownload {
  id: number
  name: string
  size: number
  download_count: number
  html_url: string
}

async function list(
  server: ServerProcess,
  token = TOKEN,
  repo = REPO
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.info.apiUrl}/repos/${repo}/downloads?per_page=100`, {
    headers: { authorization: `token ${token}` }
  })
  return { status: res.status, body: await res.json() }
}

async function listed(server: ServerProcess): Promise<ListedDownload[]> {
  const answer = await list(server)
  expect(answer.status).toBe(200)
  return answer.body as ListedDownload[]
}

/** The Downloads page's rows in the order shown, as a browser shows them, and its HTML. */
async function page(server: ServerProcess): Promise<{ rows: string[][]; html: string }> {
  const res = await fetch(`${server.info.apiUrl}/${REPO}/downloads`)
  expect(res.status).toBe(200)
  const html = await res.text()
  const unescape = (text: string): string =>
    text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
  // Each row's cells as text: name (the link's text), description, size, date, count.
  const rows = [...html.matchAll(/<tr>\n<td class="name">([\s\S]*?)<\/tr>/g)].map(([, row]) =>
    [...`<td>${row}`.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map(([, cell]) =>
      unescape(cell.replace(/<[^>]+>/g, ''))
    )
  )
  return { rows, html }
}

describe(`the self-hosted server (${onCeph ? 'bytes on Ceph' : 'bytes in its folder'})`, () => {
  it('keeps the downloads, their bytes and counts across a restart on the same folder', async () => {
    const folder = await dataFolder()
    const files = { 'dist/app.tar.gz': randomBytes(300_000), 'dist/notes.txt': 'release notes\n' }
    const workspace = await workspaceWith(files)
    const first = await startServer(folder, ['--repo', REPO, '--token', TOKEN])

    const result = await publish(first, workspace, { glob: 'dist/*', description: 'v1' })
    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    const app = downloadsOutput(result).find((d) => d.name === 'app.tar.gz')
    expect(app?.status).toBe('created')
    expect(sha256(await fetchBytes(app?.html_url ?? ''))).toBe(sha256(files['dist/app.tar.gz']))
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0, signal: null })

    // Without --repo it serves the repositories its folder knows.
    const second = await startServer(folder, ['--token', TOKEN])
    expect(second.info.repositories).toEqual([REPO])
    const after = await listed(second)
    // Uploaded at once: sorted by name, not id.
    expect(after.map((d) => [d.name, d.size, d.download_count]).sort()).toEqual([
      ['app.tar.gz', 300_000, 1],
      ['notes.txt', 14, 0]
    ])
    for (const d of after) {
      const content = files[`dist/${d.name}` as keyof typeof files]
      expect(sha256(await fetchBytes(d.html_url))).toBe(sha256(content))
    }
    // The action finds its files published: nothing to do.
    const again = await publish(second, workspace, { glob: 'dist/*' })
    expect(again.code).toBe(0)
    expect(downloadsOutput(again).map((d) => d.status)).toEqual(['unchanged', 'unchanged'])
    expect(await second.stop('SIGINT')).toMatchObject({ code: 0, signal: null })
  })

  it('loses nothing it acknowledged when it is killed', async () => {
    const folder = await dataFolder()
    const workspace = await workspaceWith({ 'out/a.bin': randomBytes(70_000), 'out/b.txt': 'b' })
    const first = await startServer(folder, ['--repo', REPO, '--token', TOKEN])
    const result = await publish(first, workspace, { glob: 'out/*' })
    expect(result.code).toBe(0)
    expect(await first.stop('SIGKILL')).toMatchObject({ signal: 'SIGKILL' })

    const second = await startServer(folder, ['--repo', REPO, '--token', TOKEN])
    // The two uploaded at once: the list (by id) need not follow the names.
    const names = (await listed(second)).map((d) => [d.name, d.size] as const)
    expect(names.sort()).toEqual([
      ['a.bin', 70_000],
      ['b.txt', 1]
    ])
    const again = await publish(second, workspace, { glob: 'out/*' })
    expect(downloadsOutput(again).map((d) => d.status)).toEqual(['unchanged', 'unchanged'])
  })

  it('lists the published downloads on its page, newest first, hostile names escaped', async () => {
    const folder = await dataFolder()
    const hostile = ['<img src=x onerror=alert(1)>.txt', `a&b "double" 'single'.txt`]
    const workspace = await workspaceWith({
      [`first/${hostile[0]}`]: 'one',
      [`second/${hostile[1]}`]: 'two',
      'third/newest.zip': 'three'
    })
    const server = await startServer(folder, ['--repo', REPO, '--token', TOKEN])
    const urls: Record<string, string> = {}
    for (const dir of ['first', 'second', 'third']) {
      const result = await publish(server, workspace, {
        glob: `${dir}/*`,
        description: '</script><script>alert(1)</script>'
      })
      expect(result.code).toBe(0)
      for (const d of downloadsOutput(result)) urls[d.name] = d.html_url
    }
    await fetchBytes(urls['newest.zip'])
    // An uploaded page is saved, not shown: the store (local or Ceph) says it is an attachment.
    const hostilePage = await fetch(urls[hostile[0]], { method: 'HEAD' })
    expect(hostilePage.status).toBe(200)
    expect(hostilePage.headers.get('content-disposition')).toMatch(
      /^attachment; filename\*=UTF-8''/
    )

    const { rows, html } = await page(server)
    expect(rows.map(([name, description, , , count]) => [name, description, count])).toEqual([
      ['newest.zip', '</script><script>alert(1)</script>', '1'],
      [hostile[1], '</script><script>alert(1)</script>', '0'],
      [hostile[0], '</script><script>alert(1)</script>', '0']
    ])
    expect(html).not.toMatch(/<img|<script/)
    // Each link is the download's html_url.
    for (const name of Object.keys(urls)) {
      expect(html).toContain(`href="${urls[name].replace(/&/g, '&#38;').replace(/'/g, '&#39;')}"`)
    }
  })

  it('enforces the tokens and repositories it was started with', async () => {
    const folder = await dataFolder()
    const workspace = await workspaceWith({ 'dist/app.zip': 'app' })
    const server = await startServer(folder, [
      '--repo',
      REPO,
      '--token',
      'first-token',
      '--token',
      'second-token'
    ])
    expect((await list(server, 'first-token')).status).toBe(200)
    expect((await list(server, 'second-token')).status).toBe(200)
    expect(await list(server, 'other-token')).toEqual({
      status: 401,
      body: { message: 'Bad credentials' }
    })
    expect((await list(server, 'first-token', 'octocat/other')).status).toBe(404)

    const refused = await publish(server, workspace, { glob: 'dist/*' }, { token: 'other-token' })
    expect(refused.code).not.toBe(0)
    const elsewhere = await publish(
      server,
      workspace,
      { glob: 'dist/*' },
      { token: 'first-token', repository: 'octocat/other' }
    )
    expect(elsewhere.code).not.toBe(0)
    expect(await list(server, 'first-token')).toEqual({ status: 200, body: [] })
    expect(await server.stop('SIGTERM')).toMatchObject({ code: 0 })

    // Started again with other flags: the old token and repository are refused now.
    const again = await startServer(folder, ['--repo', 'octocat/other', '--token', TOKEN])
    expect((await list(again, 'first-token', 'octocat/other')).status).toBe(401)
    expect((await list(again, TOKEN, REPO)).status).toBe(404)
    expect((await list(again, TOKEN, 'octocat/other')).status).toBe(200)
  })

  it('refuses to start on a folder another server uses, or with no repository to serve', async () => {
    const folder = await dataFolder()
    const running = await startServer(folder, ['--repo', REPO, '--token', TOKEN])
    const second = await failToStart(folder, ['--repo', REPO, '--token', TOKEN])
    expect(second.code).toBe(2)
    expect(second.stderr).toContain('is in use')
    expect((await listed(running)).length).toBe(0)

    const empty = await dataFolder()
    const none = await failToStart(empty, ['--token', TOKEN])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('--repo OWNER/NAME')
  })

  it('refuses a bad flag with what is wrong and the usage, and prints the usage for --help', async () => {
    const folder = await dataFolder()
    const cases: [string[], string][] = [
      [['--port', '70000'], '--port must be a port number'],
      [['--tls-key', 'key.pem'], '--tls-key and --tls-cert go together'],
      [['--api-port', '0'], "Unknown option '--api-port'"]
    ]
    for (const [args, message] of cases) {
      const refused = await failToStart(folder, args)
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain(`${message}\nUsage: npm run server -- --data DIR [options]`)
    }

    const help = launch(folder, ['--help'])
    expect(await help.firstLine).toBe('Usage: npm run server -- --data DIR [options]')
    expect((await help.exited).code).toBe(0)
  })

  it('answers 500, never 201, for a create its full disk could not store', async () => {
    const folder = await dataFolder()
    // The database's files may not grow past 256 KiB: its write-ahead log fills up.
    const server = await startServer(folder, ['--repo', REPO, '--token', TOKEN], 256)
    const acknowledged: number[] = []
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${server.info.apiUrl}/repos/${REPO}/downloads`, {
        method: 'POST',
        headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `meta${i}.txt`, size: 1, description: 'x'.repeat(20_000) })
      })
      statuses.push(res.status)
      if (res.status === 201) acknowledged.push(((await res.json()) as { id: number }).id)
      else await res.arrayBuffer()
    }
    // The disk filled up, and every create after that failed.
    expect(statuses).toContain(500)
    expect(statuses.every((status) => status === 201 || status === 500)).toBe(true)
    // No id was handed out twice, and each acknowledged download is there.
    expect(new Set(acknowledged).size).toBe(acknowledged.length)
    for (const id of acknowledged) {
      const res = await fetch(`${server.info.apiUrl}/repos/${REPO}/downloads/${id}`, {
        headers: { authorization: `token ${TOKEN}` }
      })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
    // The operator sees why.
    const exit = await server.stop('SIGTERM')
    expect(exit.stderr).toMatch(/disk I\/O error|disk is full/)
  })
})
