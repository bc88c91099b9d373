// `npm run bench`: the action's bundle beside a curl baseline, case by case, in one run,
// against the emulator and, when one is given, against a real S3 store too. Prints a table of
// times, ratios, peak memory and the machine; benchmarks print figures, they never fail a test.
//
//   npm run bench                       every case, against the emulator
//   npm run bench -- --ceph             and against a Ceph gateway it starts and stops itself
//   npm run bench -- --quick            smaller sizes, one repetition: a smoke run
//   npm run bench -- --write-readme     also rewrites README.md's table (between its bench markers)
//
// A gateway the test scripts started that is still up (`npm run ceph start`) is found and
// benchmarked as well, and so is any other S3 store when BENCH_S3_ENDPOINT (its origin, e.g.
// http://127.0.0.1:7480) and BENCH_S3_BUCKET are set, with its keys in BENCH_S3_ACCESS_KEY_ID
// and BENCH_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). The emulator
// then serves the API and hands the uploads out to the store (its `externalS3` option), and
// curl posts to the same store.
import { execFile, spawn } from 'node:child_process'
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, totalmem } from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { format, resolveConfig } from 'prettier'
import { startEmulator, type Emulator } from '../emulator/index.js'
import type { ExternalS3 } from '../emulator/types.js'
import { findRunningCeph, startCeph, stopCeph, type CephInfo } from './ceph.js'
import { readAction } from './action-metadata.js'
import { inputEnv, makeWorkspace, projectRoot, runAction } from './local-runner.js'

const run = promisify(execFile)
const MiB = 1024 * 1024
const TOKEN = 'bench-token'

/** What a run of the bench was asked for. */
interface Options {
  quick: boolean
  writeReadme: boolean
  /** Start a Ceph gateway of its own and benchmark it too. */
  ceph: boolean
  /** A real S3 store, up already, to benchmark besides the emulator's own S3. */
  externalS3?: ExternalS3
}

/** Where one pass of the cases uploads to, and what it needs to do so. */
interface Target {
  /** The store's name in the table: `emulator`, or the external store's endpoint. */
  store: string
  emulator: Emulator
  workspace: string
  quick: boolean
  /** A repository of its own for each case, so that no case waits on another's clean-up. */
  repo(name: string): string
}

/** One line of the table. */
interface Row {
  store: string
  name: string
  /** The action's time, in seconds. */
  action: number
  /** curl's, in seconds, where a case has a baseline. */
  baseline?: number
  /** The ratio action / baseline must stay at or under this. */
  maxRatio?: number
  peakRss?: number
  /** Peak memory must stay at or under this many bytes. */
  maxRss?: number
  note?: string
}

const REPOS = ['large', 'large-curl', 'many', 'many-curl', 'mem-2000', 'mem-10000', 'mem-sparse']

await main(process.argv.slice(2))

async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv)
  const stores: (ExternalS3 | undefined)[] = [undefined]
  if (options.externalS3 !== undefined) stores.push(options.externalS3)
  let ceph: CephInfo | undefined
  const rows: Row[] = []
  const workspace = await makeWorkspace()
  // The Ceph daemons run in a process group of their own, so a Ctrl-C reaches only this
  // process: without this, it ended here and left the cluster running, and the next
  // `--ceph` would start a second one beside it.
  let interrupted = false
  let starting = false
  const leave = async (): Promise<never> => {
    if (ceph !== undefined) await stopCeph(ceph)
    await rm(workspace, { recursive: true, force: true })
    process.exit(130)
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = true
    console.log(`${signal}: stopping${options.ceph ? ' the Ceph gateway' : ''} and leaving.`)
    // While the cluster forms, its daemons are not all known yet: it stops once formed.
    if (!starting) void leave()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const running = options.externalS3 === undefined ? await findRunningCeph() : undefined
    if (running !== undefined) {
      console.log(`Found a Ceph gateway up at ${running.endpoint}: it is benchmarked too.`)
      stores.push(running)
    } else if (options.ceph) {
      console.log('Starting a Ceph gateway (scripts/ceph.ts)…')
      starting = true
      try {
        ceph = await startCeph({ log: (line) => console.log(`ceph: ${line}`) })
      } finally {
        starting = false
      }
      if (interrupted) await leave()
      stores.push(ceph)
    }
    for (const externalS3 of stores) {
      const target = await startTarget(workspace, options.quick, externalS3)
      try {
        rows.push(...(await runCases(target)))
      } finally {
        await target.emulator.close()
      }
    }
    rows.push(await startUp(workspace, options.quick ? 3 : 10))
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await rm(workspace, { recursive: true, force: true })
    if (ceph !== undefined) await stopCeph(ceph)
  }
  const table = renderTable(rows, options.quick)
  console.log(`\n${table}`)
  if (options.writeReadme) await writeReadme(table)
}

function parseOptions(argv: string[]): Options {
  const known = ['--quick', '--write-readme', '--ceph']
  const unknown = argv.filter((arg) => !known.includes(arg))
  if (unknown.length > 0) {
    throw new Error(`Unknown option ${unknown.join(' ')}; the bench takes ${known.join(', ')}.`)
  }
  const env = process.env
  const endpoint = env.BENCH_S3_ENDPOINT
  let externalS3: ExternalS3 | undefined
  if (endpoint) {
    const bucket = env.BENCH_S3_BUCKET
    const accessKeyId = env.BENCH_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID
    const secretAccessKey = env.BENCH_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY
    if (!bucket || !accessKeyId || !secretAccessKey) {
      throw new Error(
        'BENCH_S3_ENDPOINT is set: BENCH_S3_BUCKET and the keys (BENCH_S3_ACCESS_KEY_ID and BENCH_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) must be too.'
      )
    }
    externalS3 = { endpoint: endpoint.replace(/\/+$/, ''), bucket, accessKeyId, secretAccessKey }
  }
  return {
    quick: argv.includes('--quick'),
    writeReadme: argv.includes('--write-readme'),
    ceph: argv.includes('--ceph'),
    externalS3
  }
}

async function startTarget(
  workspace: string,
  quick: boolean,
  externalS3: ExternalS3 | undefined
): Promise<Target> {
  const prefix = externalS3 === undefined ? 'bench' : 'bench-s3'
  const repo = (name: string): string => `${prefix}/${name}`
  // The emulator's own rate limit (5,000 an hour, GitHub's) would stop the 10,000-file case.
  const emulator = await startEmulator({
    tokens: [TOKEN],
    repos: REPOS.map(repo),
    rateLimit: 1_000_000,
    externalS3
  })
  return {
    store:
      externalS3 === undefined
        ? 'emulator'
        : 'pids' in externalS3
          ? 'Ceph RGW'
          : `S3 at ${externalS3.endpoint}`,
    emulator,
    workspace,
    quick,
    repo
  }
}

async function runCases(target: Target): Promise<Row[]> {
  const { quick } = target
  // Each case's name in the table, the folder it makes in the workspace, and the case.
  const cases: [string, string, () => Promise<Row>][] = [
    ['one large file', 'large', () => largeFile(target, (quick ? 64 : 512) * MiB, quick ? 1 : 3)],
    ['many files', 'many', () => manyFiles(target, quick ? 50 : 200)],
    ['2,000 files', 'mem-2000', () => memory(target, 'mem-2000', quick ? 500 : 2000)],
    ['10,000 files', 'mem-10000', () => memory(target, 'mem-10000', quick ? 1000 : 10_000)],
    [
      'one file at the size limit',
      'sparse',
      () => sparseFile(target, quick ? 256 * MiB : 5 * 1024 * MiB)
    ]
  ]
  const rows: Row[] = []
  // A case that fails is a row saying why, not the end of the run: a real store may refuse
  // what the emulator takes (Ceph's gateway refuses a POST of 5 GiB: EntityTooLarge).
  for (const [name, folder, run] of cases) {
    try {
      rows.push(await run())
    } catch (error) {
      rows.push({
        store: target.store,
        name,
        action: Number.NaN,
        note: `failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300)
      })
      // The next pass makes the same folder afresh.
      await rm(path.join(target.workspace, folder), { recursive: true, force: true })
    }
  }
  return rows
}

/** Random bytes written fast: a 1 MiB random block, varied block by block. */
async function makeFile(file: string, size: number): Promise<void> {
  const block = Buffer.alloc(MiB)
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i)
  const handle = await open(file, 'w')
  try {
    for (let written = 0; written < size; written += MiB) {
      // Vary each block so that no layer can shortcut repeated content.
      block.writeUInt32LE(written / MiB, 0)
      await handle.write(block, 0, Math.min(MiB, size - written))
    }
  } finally {
    await handle.close()
  }
}

/** Deletes every download of a repository, through the API. */
async function clear(target: Target, repo: string): Promise<void> {
  for (const d of target.emulator.downloads(repo)) {
    await fetch(`${target.emulator.apiUrl}/repos/${repo}/downloads/${d.id}`, {
      method: 'DELETE',
      headers: { authorization: `token ${TOKEN}` }
    })
  }
}

/** The spec's own method: a curl create, then the spec's `curl -F` upload. */
async function curlUpload(target: Target, repo: string, file: string): Promise<void> {
  const { size } = await stat(file)
  const { stdout } = await run('curl', [
    '-sS',
    '--fail-with-body',
    '-X',
    'POST',
    '-H',
    `Authorization: token ${TOKEN}`,
    '-H',
    'Content-Type: application/json',
    '-d',
    JSON.stringify({ name: path.basename(file), size, content_type: 'application/octet-stream' }),
    `${target.emulator.apiUrl}/repos/${repo}/downloads`
  ])
  const t = JSON.parse(stdout) as Record<string, string>
  const fields = [
    ['key', t.path],
    ['acl', t.acl],
    ['success_action_status', '201'],
    ['Filename', t.name],
    ['AWSAccessKeyId', t.accesskeyid],
    ['Policy', t.policy],
    ['Signature', t.signature],
    ['Content-Type', t.mime_type],
    ['file', `@${file}`]
  ]
  await run(
    'curl',
    [
      '-sS',
      '--fail-with-body',
      '-o',
      '/dev/null',
      ...fields.flatMap(([k, v]) => ['-F', `${k}=${v}`]),
      t.s3_url
    ],
    { maxBuffer: 1 << 20 }
  )
}

/** The bundled action with one input set, the glob, and action.yml's defaults for the rest. */
async function action(target: Target, repo: string, glob: string) {
  const result = await runAction({
    workspace: target.workspace,
    inputs: { glob },
    github: { token: TOKEN, repository: repo, apiUrl: target.emulator.apiUrl }
  })
  if (result.code !== 0) {
    // A crash writes no ::error:: command: its exit and stderr say what happened.
    const why =
      result.errors.length > 0 ? result.errors.join('; ') : result.stderr.trim().slice(-2000)
    throw new Error(
      `the action failed on ${repo} (exit ${result.code}${result.signal ? `, ${result.signal}` : ''}): ${why}`
    )
  }
  return {
    seconds: result.elapsedMs / 1000,
    peakRss: result.peakRss,
    count: Number(result.outputs.count),
    cpu: result.cpu
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e9
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** One large file of real bytes, the action and curl taking turns. */
async function largeFile(target: Target, size: number, repetitions: number): Promise<Row> {
  const dir = path.join(target.workspace, 'large')
  await mkdir(dir)
  const file = path.join(dir, `image-${size / MiB}MiB.iso`)
  await makeFile(file, size)
  const actionTimes: number[] = []
  const curlTimes: number[] = []
  const mainThreadShares: number[] = []
  let peakRss = 0
  // In turns, so that neither always meets a warmer page cache or a busier disk.
  for (let i = 0; i < repetitions; i++) {
    curlTimes.push(await timed(() => curlUpload(target, target.repo('large-curl'), file)))
    await clear(target, target.repo('large-curl'))
    const a = await action(target, target.repo('large'), 'large/*')
    actionTimes.push(a.seconds)
    mainThreadShares.push(a.cpu.mainThreadMs / 1000)
    peakRss = Math.max(peakRss, a.peakRss)
    await clear(target, target.repo('large'))
  }
  await rm(dir, { recursive: true })
  const mainThread = median(mainThreadShares)
  return {
    store: target.store,
    name: `one ${size / MiB} MiB file`,
    action: median(actionTimes),
    baseline: median(curlTimes),
    // At least 0.95 of curl's speed.
    maxRatio: 1 / 0.95,
    peakRss,
    note: `median of ${repetitions}; main thread ${mainThread.toFixed(2)} s CPU`
  }
}

/** Many small files: the action against a sequential loop of curl create + curl upload. */
async function manyFiles(target: Target, count: number): Promise<Row> {
  const dir = path.join(target.workspace, 'many')
  const files = await makeSmallFiles(dir, count)
  const baseline = await timed(async () => {
    for (const file of files) await curlUpload(target, target.repo('many-curl'), file)
  })
  const a = await action(target, target.repo('many'), 'many/*')
  await rm(dir, { recursive: true })
  return {
    store: target.store,
    name: `${count} files of 16 KiB`,
    action: a.seconds,
    baseline,
    maxRatio: 0.12,
    peakRss: a.peakRss
  }
}

/** Peak memory over many small files. */
async function memory(target: Target, repo: string, count: number): Promise<Row> {
  const dir = path.join(target.workspace, repo)
  await makeSmallFiles(dir, count)
  const a = await action(target, target.repo(repo), `${repo}/*`)
  await rm(dir, { recursive: true })
  return {
    store: target.store,
    name: `${count.toLocaleString('en')} files of 16 KiB`,
    action: a.seconds,
    peakRss: a.peakRss,
    maxRss: 120 * MiB,
    note: `${a.count} of ${count} published`
  }
}

/** Peak memory on one file at S3's size limit: sparse, since only memory is measured. */
async function sparseFile(target: Target, size: number): Promise<Row> {
  const dir = path.join(target.workspace, 'sparse')
  await mkdir(dir)
  const handle = await open(path.join(dir, 'sparse.img'), 'w')
  await handle.truncate(size)
  await handle.close()
  const a = await action(target, target.repo('mem-sparse'), 'sparse/*')
  await rm(dir, { recursive: true })
  await clear(target, target.repo('mem-sparse'))
  return {
    store: target.store,
    name: `one ${size / MiB >= 1024 ? `${size / 1024 / MiB} GiB` : `${size / MiB} MiB`} file (sparse)`,
    action: a.seconds,
    peakRss: a.peakRss,
    maxRss: 120 * MiB
  }
}

async function makeSmallFiles(dir: string, count: number): Promise<string[]> {
  await mkdir(dir)
  const content = Buffer.alloc(16 * 1024)
  const files: string[] = []
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `part-${String(i).padStart(5, '0')}.bin`)
    // Each file its own bytes.
    content.writeUInt32LE(i, 0)
    await writeFile(file, content)
    files.push(file)
  }
  return files
}

/**
 * Start-up: from spawning the bundle to its first API request, against a bare `node -e 0`
 * (spawn to exit). A stub API on loopback notes the arrival and answers 401 to end the run.
 */
async function startUp(workspace: string, repetitions: number): Promise<Row> {
  let arrived: bigint | undefined
  const stub = createServer((req, res) => {
    arrived ??= process.hrtime.bigint()
    req.resume()
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}')
  })
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve))
  const apiUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`
  await writeFile(path.join(workspace, 'startup.txt'), 'x')
  const env = {
    GITHUB_WORKSPACE: workspace,
    // action.yml's defaults, but no retries: the stub's 401 ends the run at once.
    ...(await inputEnv({
      inputs: { glob: 'startup.txt', 'max-attempts': '1' },
      github: { token: TOKEN, repository: 'bench/startup', apiUrl }
    }))
  }
  const toFirstRequest: number[] = []
  const bare: number[] = []
  try {
    for (let i = 0; i < repetitions; i++) {
      bare.push(await timed(() => exec(process.execPath, ['-e', '0'], {})))
      arrived = undefined
      const started = process.hrtime.bigint()
      await exec(process.execPath, [path.join(projectRoot, 'dist', 'index.js')], env)
      if (arrived === undefined) throw new Error('the action sent no request to the stub API')
      toFirstRequest.push(Number(arrived - started) / 1e9)
    }
  } finally {
    stub.close()
  }
  const bundle = await stat(path.join(projectRoot, 'dist', 'index.js'))
  const a = median(toFirstRequest)
  const b = median(bare)
  return {
    store: '',
    name: 'start-up to first API request',
    action: a,
    baseline: b,
    note: `+${((a - b) * 1000).toFixed(0)} ms over node -e 0 (target ≤ +100 ms); bundle ${(bundle.size / MiB).toFixed(2)} MiB`
  }
}

function exec(command: string, args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: 'ignore'
    })
    child.on('error', reject)
    child.on('close', () => resolve())
  })
}

/** The table in Markdown, with the machine and the inputs it ran with above it. */
function renderTable(rows: Row[], quick: boolean): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const inputs = readAction().inputs
  const concurrency = inputs.concurrency?.default ?? '?'
  const lines = [
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; the action with action.yml's defaults (concurrency ${concurrency})${quick ? '; --quick sizes' : ''}.`,
    '',
    '| store | case | action | baseline | action / baseline | target | peak RSS | note |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | --- |'
  ]
  for (const r of rows) {
    const ratio = r.baseline ? r.action / r.baseline : undefined
    const verdicts: string[] = []
    if (r.maxRatio !== undefined && ratio !== undefined) {
      verdicts.push(`≤ ${r.maxRatio.toFixed(2)} ${ratio <= r.maxRatio ? '✓' : '✗'}`)
    }
    if (r.maxRss !== undefined && r.peakRss !== undefined) {
      verdicts.push(`≤ ${r.maxRss / MiB} MiB ${r.peakRss <= r.maxRss ? '✓' : '✗'}`)
    }
    lines.push(
      `| ${r.store} | ${r.name} | ${Number.isNaN(r.action) ? '' : `${r.action.toFixed(3)} s`} | ${r.baseline === undefined ? '' : `${r.baseline.toFixed(3)} s`} | ${ratio === undefined ? '' : ratio.toFixed(3)} | ${verdicts.join(', ')} | ${r.peakRss ? `${(r.peakRss / MiB).toFixed(0)} MiB` : ''} | ${(r.note ?? '').replace(/\|/g, '\\|')} |`
    )
  }
  return lines.join('\n')
}

/** Puts the table between README.md's bench markers, formatted as Prettier would. */
async function writeReadme(table: string): Promise<void> {
  const readmePath = path.join(projectRoot, 'README.md')
  const readme = await readFile(readmePath, 'utf8')
  const begin = '<!-- bench:begin -->'
  const end = '<!-- bench:end -->'
  const from = readme.indexOf(begin)
  const to = readme.indexOf(end)
  if (from < 0 || to < from) throw new Error('README.md lacks the bench markers')
  const updated = `${readme.slice(0, from)}${begin}\n\n${table}\n\n${readme.slice(to)}`
  const formatted = await format(updated, {
    ...(await resolveConfig(readmePath)),
    filepath: readmePath
  })
  await writeFile(readmePath, formatted)
  console.log('README.md: the bench table is rewritten.')
}
