// `npm run bench`: the action's bundle and a curl baseline side by side against the same
// emulator, in one run. Prints a table of times, ratios and the action's peak memory.
// Usage: npm run bench [-- --quick]   (--quick: smaller sizes, one repetition, for a smoke run)
import { execFile, spawn } from 'node:child_process'
import { open, mkdir, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { cpus, totalmem } from 'node:os'
import * as path from 'node:path'
import { promisify } from 'node:util'
import { startEmulator } from '../emulator/index.js'
import { makeWorkspace, projectRoot, runAction } from './local-runner.js'

const run = promisify(execFile)
const quick = process.argv.includes('--quick')
const TOKEN = 'bench-token'
const MiB = 1024 * 1024

interface Row {
  name: string
  action: number
  baseline?: number
  /** What the ratio action/baseline must stay under, for the verdict column. */
  target?: number
  peakRss?: number
  note?: string
}

const repos = [
  'bench/large-action',
  'bench/large-curl',
  'bench/many-action',
  'bench/many-curl',
  'bench/thousand'
]
const emulator = await startEmulator({ tokens: [TOKEN], repos, rateLimit: 1_000_000 })
const workspace = await makeWorkspace()
const rows: Row[] = []
try {
  for (const size of quick ? [64 * MiB] : [512 * MiB, 2048 * MiB]) {
    rows.push(await largeFile(size, quick ? 1 : 2))
  }
  rows.push(await manyFiles(quick ? 50 : 200, 16 * 1024))
  rows.push(await thousandFiles(quick ? 200 : 1000))
  rows.push(await startUp(quick ? 3 : 10))
} finally {
  await emulator.close()
  await rm(workspace, { recursive: true, force: true })
}
printTable(rows)

/** Sparse-free random-ish content written fast: a 1 MiB random block repeated. */
async function makeFile(file: string, size: number): Promise<void> {
  const block = Buffer.alloc(MiB)
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i)
  const handle = await open(file, 'w')
  for (let written = 0; written < size; written += MiB) {
    // Vary each block so that no layer can shortcut repeated content.
    block.writeUInt32LE(written / MiB, 0)
    await handle.write(block, 0, Math.min(MiB, size - written))
  }
  await handle.close()
}

async function clear(repo: string): Promise<void> {
  for (const d of emulator.downloads(repo)) {
    await fetch(`${emulator.apiUrl}/repos/${repo}/downloads/${d.id}`, {
      method: 'DELETE',
      headers: { authorization: `token ${TOKEN}` }
    })
  }
}

/** The spec's own method: a curl create, then the spec's `curl -F` upload. */
async function curlUpload(repo: string, file: string): Promise<void> {
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
    `${emulator.apiUrl}/repos/${repo}/downloads`
  ])
  const t = JSON.parse(stdout) as Record<string, string>
  await run(
    'curl',
    [
      '-sS',
      '--fail-with-body',
      '-o',
      '/dev/null',
      '-F',
      `key=${t.path}`,
      '-F',
      `acl=${t.acl}`,
      '-F',
      'success_action_status=201',
      '-F',
      `Filename=${t.name}`,
      '-F',
      `AWSAccessKeyId=${t.accesskeyid}`,
      '-F',
      `Policy=${t.policy}`,
      '-F',
      `Signature=${t.signature}`,
      '-F',
      `Content-Type=${t.mime_type}`,
      '-F',
      `file=@${file}`,
      t.s3_url
    ],
    { maxBuffer: 1 << 20 }
  )
}

async function action(
  repo: string,
  glob: string
): Promise<{ seconds: number; peakRss: number; count: number }> {
  const result = await runAction({
    workspace,
    // The inputs a user would set: the glob, and action.yml's defaults for the rest.
    inputs: { glob },
    github: { token: TOKEN, repository: repo, apiUrl: emulator.apiUrl }
  })
  if (result.code !== 0)
    throw new Error(`the action failed on ${repo}: ${result.errors.join('; ')}`)
  return {
    seconds: result.elapsedMs / 1000,
    peakRss: result.peakRss,
    count: Number(result.outputs.count)
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

async function largeFile(size: number, repetitions: number): Promise<Row> {
  const dir = path.join(workspace, `large-${size}`)
  await mkdir(dir)
  const file = path.join(dir, `image-${size / MiB}MiB.iso`)
  await makeFile(file, size)
  const actionTimes: number[] = []
  const curlTimes: number[] = []
  let peakRss = 0
  // Alternate the two, so that neither always meets a warmer page cache or a busier disk.
  for (let i = 0; i < repetitions; i++) {
    curlTimes.push(await timed(() => curlUpload('bench/large-curl', file)))
    await clear('bench/large-curl')
    const a = await action('bench/large-action', `large-${size}/*`)
    actionTimes.push(a.seconds)
    peakRss = Math.max(peakRss, a.peakRss)
    await clear('bench/large-action')
  }
  await rm(dir, { recursive: true })
  return {
    name: `one ${size / MiB} MiB file`,
    action: median(actionTimes),
    baseline: median(curlTimes),
    target: 1 / 0.9,
    peakRss
  }
}

async function manyFiles(count: number, size: number): Promise<Row> {
  const dir = path.join(workspace, 'many')
  await mkdir(dir)
  const files: string[] = []
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `part-${String(i).padStart(4, '0')}.bin`)
    await makeFile(file, size)
    files.push(file)
  }
  const baseline = await timed(async () => {
    for (const file of files) await curlUpload('bench/many-curl', file)
  })
  const a = await action('bench/many-action', 'many/*')
  await rm(dir, { recursive: true })
  return {
    name: `${count} files of ${size / 1024} KiB`,
    action: a.seconds,
    baseline,
    target: 0.15,
    peakRss: a.peakRss
  }
}

async function thousandFiles(count: number): Promise<Row> {
  const dir = path.join(workspace, 'thousand')
  await mkdir(dir)
  for (let i = 0; i < count; i++) {
    await writeFile(path.join(dir, `f-${String(i).padStart(4, '0')}.txt`), `file ${i}\n`.repeat(50))
  }
  const a = await action('bench/thousand', 'thousand/*')
  const landed = emulator.downloads('bench/thousand').filter((d) => d.uploaded).length
  await rm(dir, { recursive: true })
  return {
    name: `${count} small files`,
    action: a.seconds,
    peakRss: a.peakRss,
    note: `${landed} of ${count} landed${landed === count ? ', no error' : ''}`
  }
}

/**
 * Start-up: from spawning the bundle to its first API request, against a bare `node -e 0`
 * (spawn to exit). A stub API on loopback notes the arrival and answers 401 to end the run.
 */
async function startUp(repetitions: number): Promise<Row> {
  let arrived: bigint | undefined
  const stub = createServer((req, res) => {
    arrived ??= process.hrtime.bigint()
    req.resume()
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Bad credentials"}')
  })
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve))
  const port = (stub.address() as { port: number }).port
  await writeFile(path.join(workspace, 'startup.txt'), 'x')
  const toFirstRequest: number[] = []
  const bare: number[] = []
  for (let i = 0; i < repetitions; i++) {
    bare.push(await timed(() => exec(process.execPath, ['-e', '0'], {})))
    arrived = undefined
    const started = process.hrtime.bigint()
    await exec(process.execPath, [path.join(projectRoot, 'dist', 'index.js')], {
      GITHUB_WORKSPACE: workspace,
      INPUT_GLOB: 'startup.txt',
      INPUT_TOKEN: TOKEN,
      INPUT_REPOSITORY: 'bench/startup',
      'INPUT_API-URL': `http://127.0.0.1:${port}`,
      'INPUT_IF-NO-FILES-FOUND': 'error',
      'INPUT_INCLUDE-HIDDEN-FILES': 'false',
      'INPUT_REPLACE-EXISTING': 'false',
      'INPUT_DRY-RUN': 'false',
      INPUT_CONCURRENCY: '4',
      'INPUT_MAX-ATTEMPTS': '1',
      'INPUT_RATE-LIMIT-WAIT': '0'
    })
    if (arrived === undefined) throw new Error('the action sent no request to the stub API')
    toFirstRequest.push(Number(arrived - started) / 1e9)
  }
  stub.close()
  const bundle = await stat(path.join(projectRoot, 'dist', 'index.js'))
  const a = median(toFirstRequest)
  const b = median(bare)
  return {
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

function printTable(table: Row[]): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  console.log(
    `\nMachine: ${cpus().length} × ${cpu}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`
  )
  console.log('| case | action | baseline | action / baseline | target | peak RSS | note |')
  console.log('| --- | ---: | ---: | ---: | --- | ---: | --- |')
  for (const r of table) {
    const ratio = r.baseline ? r.action / r.baseline : undefined
    const verdict =
      r.target === undefined || ratio === undefined
        ? ''
        : `≤ ${r.target.toFixed(2)} ${ratio <= r.target ? '✓' : '✗'}`
    console.log(
      `| ${r.name} | ${r.action.toFixed(3)} s | ${r.baseline === undefined ? '' : `${r.baseline.toFixed(3)} s`} | ${ratio === undefined ? '' : ratio.toFixed(3)} | ${verdict} | ${r.peakRss ? `${(r.peakRss / MiB).toFixed(0)} MiB` : ''} | ${r.note ?? ''} |`
    )
  }
}
