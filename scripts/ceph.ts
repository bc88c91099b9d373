/**
 * A one-node Ceph cluster with a RADOS Gateway on loopback: a real, independent S3 store for
 * the end-to-end tests (`npm run test:ceph`) to send the action's uploads to.
 *
 *   node build/scripts/ceph.js start   # prints one JSON line, leaves the daemons running
 *   node build/scripts/ceph.js stop '<that JSON line>'   # or: stop --dir DIR
 *
 * Written in TypeScript rather than bash: the jest globalSetup imports startCeph/stopCeph
 * directly, the bucket is created with a signed PUT from the emulator's own S3 client
 * (node:crypto, no SDK, no openssl), and waiting, timeouts and clean-up on failure are plain
 * code instead of shell traps.
 *
 * The cluster: one monitor, one OSD on a bluestore file (sparse), `auth none`, messenger v1
 * on 127.0.0.1, pools of size 1, no manager; the OSD is put into the CRUSH map by hand
 * (`osd crush update on start = false`). Everything lives in one temp folder; every daemon is
 * started by this script in the foreground (`-f`), so its PID is known and it is stopped by
 * that PID, never by name.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { S3Client } from '../emulator/s3-client.js'

/** What a started cluster prints and what stopping it needs. */
export interface CephInfo {
  /** The gateway: `http://127.0.0.1:PORT`. */
  endpoint: string
  bucket: string
  accessKeyId: string
  secretAccessKey: string
  /** Monitor, OSD and gateway, in start order. */
  pids: number[]
  /** The temp folder: configuration, data, logs. */
  dir: string
}

export interface StartOptions {
  /** Progress lines (default: none). */
  log?: (line: string) => void
  /** Install the Debian packages when the binaries are missing (default true). */
  install?: boolean
  /** Bucket to create (default `downloads`). */
  bucket?: string
}

/** The Debian packages that bring the monitor, the OSD, the gateway and their tools. */
export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw']
const BINARIES = ['ceph', 'ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool']

/** Sparse: only what is written takes disk. Room for the 200 MiB test and its replacements. */
const OSD_BLOCK_BYTES = 12 * 1024 ** 3
const START_TIMEOUT_MS = 120_000

function missingBinaries(): string[] {
  return BINARIES.filter((name) => spawnSync('which', [name], { stdio: 'ignore' }).status !== 0)
}

/** Installs the packages with apt when the binaries are missing; throws saying why it cannot. */
export function ensureInstalled(log: (line: string) => void, install = true): void {
  let missing = missingBinaries()
  if (missing.length === 0) return
  const cannot = (why: string): never => {
    throw new Error(
      `Ceph is not installed (missing: ${missing.join(', ')}) and ${why}. Install ${CEPH_PACKAGES.join(' ')} (Debian/Ubuntu: apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')}).`
    )
  }
  if (!install) cannot('installing was not allowed')
  if (process.platform !== 'linux') cannot(`this is ${process.platform}, not Linux`)
  if (process.getuid?.() !== 0) cannot('installing packages needs root')
  if (spawnSync('which', ['apt-get'], { stdio: 'ignore' }).status !== 0) {
    cannot('there is no apt-get here')
  }
  const aptInstall = (): { status: number | null; output: string } => {
    const run = spawnSync(
      'apt-get',
      ['install', '-y', '--no-install-recommends', ...CEPH_PACKAGES],
      { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }
    )
    return { status: run.status, output: `${run.stdout}${run.stderr}` }
  }
  log(`installing ${CEPH_PACKAGES.join(' ')} with apt-get`)
  let result = aptInstall()
  if (result.status !== 0 && /Unable to locate package|404\s+Not Found/.test(result.output)) {
    log('apt-get update, then installing again')
    spawnSync('apt-get', ['update'], { stdio: 'ignore' })
    result = aptInstall()
  }
  missing = missingBinaries()
  if (result.status !== 0 || missing.length > 0) {
    cannot(`apt-get install failed:\n${result.output.trim().split('\n').slice(-8).join('\n')}`)
  }
}

/** A port nobody listens on now (the daemon binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port'))
      )
    })
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether `pid` runs and is one of ours: its command line names our folder. */
function isOurs(pid: number, dir: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // A zombie has exited; its parent has yet to reap it.
    if (/^\d+ \(.*\) Z/.test(stat)) return false
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)
  } catch {
    return false
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

class Cluster {
  readonly pids: number[] = []
  readonly conf: string
  constructor(
    readonly dir: string,
    private readonly log: (line: string) => void
  ) {
    this.conf = path.join(dir, 'ceph.conf')
  }

  /** Runs a tool to completion; throws with its output when it fails. */
  run(command: string, args: string[], timeoutMs = 60_000): string {
    const result = spawnSync(command, ['-c', this.conf, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs
    })
    if (result.status !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}):\n${`${result.stdout}${result.stderr}`.trim()}`
      )
    }
    return result.stdout
  }

  /** Starts a daemon in the foreground, detached from us, its output in `log/<name>.out`. */
  start(name: string, command: string, args: string[]): number {
    const out = openSync(path.join(this.dir, 'log', `${name}.out`), 'a')
    try {
      const child = spawn(command, ['-f', '-c', this.conf, ...args], {
        detached: true,
        stdio: ['ignore', out, out]
      })
      if (child.pid === undefined) throw new Error(`${command} did not start`)
      child.unref()
      this.pids.push(child.pid)
      this.log(`${name} started (pid ${child.pid})`)
      return child.pid
    } finally {
      closeSync(out)
    }
  }

  /** Polls `check` until it is true; throws with `what` and the daemon's log otherwise. */
  async waitFor(
    what: string,
    pid: number,
    logFile: string,
    check: () => boolean | Promise<boolean>
  ): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (!isOurs(pid, this.dir)) {
        throw new Error(`${what}: the daemon (pid ${pid}) exited. Its log:\n${tail(logFile)}`)
      }
      try {
        if (await check()) return
      } catch {
        // Not yet.
      }
      if (Date.now() > deadline) {
        throw new Error(`${what}: not within ${START_TIMEOUT_MS / 1000} s. Log:\n${tail(logFile)}`)
      }
      await sleep(250)
    }
  }
}

function config(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v1:127.0.0.1:${monPort}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
paxos propose interval = 0.1
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 1
osd crush update on start = false
run dir = ${dir}/run
log file = ${dir}/log/$name.log
[mon.a]
mon data = ${dir}/mon
admin socket = ${dir}/run/$name.asok
[osd.0]
osd data = ${dir}/osd0
osd objectstore = bluestore
bluestore block path = ${dir}/osd0.block
bluestore block create = true
bluestore block size = ${OSD_BLOCK_BYTES}
osd memory target = 1073741824
admin socket = ${dir}/run/$name.asok
[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
admin socket = ${dir}/run/$name.asok
`
}

/**
 * Starts the cluster and the gateway, creates a user and a bucket, and resolves once an
 * object can be written. On any failure it stops what it started and removes the folder.
 */
export async function startCeph(options: StartOptions = {}): Promise<CephInfo> {
  const log = options.log ?? ((): void => undefined)
  ensureInstalled(log, options.install ?? true)
  const dir = await mkdtemp(path.join(tmpdir(), 'ceph-'))
  const cluster = new Cluster(dir, log)
  try {
    for (const sub of ['mon', 'osd0', 'run', 'log', 'rgw']) await mkdir(path.join(dir, sub))
    const fsid = randomUUID()
    const monPort = await freePort()
    const rgwPort = await freePort()
    await writeFile(cluster.conf, config(dir, fsid, monPort, rgwPort))
    const logOf = (name: string): string => path.join(dir, 'log', `${name}.log`)

    // The monitor.
    cluster.run('monmaptool', [
      '--create',
      '--addv',
      'a',
      `[v1:127.0.0.1:${monPort}]`,
      '--fsid',
      fsid,
      path.join(dir, 'monmap')
    ])
    await writeFile(path.join(dir, 'keyring'), '')
    cluster.run('ceph-mon', [
      '--mkfs',
      '-i',
      'a',
      '--monmap',
      path.join(dir, 'monmap'),
      '--keyring',
      path.join(dir, 'keyring')
    ])
    const mon = cluster.start('mon.a', 'ceph-mon', ['-i', 'a'])
    await cluster.waitFor('the monitor', mon, logOf('mon.a'), () => {
      cluster.run('ceph', ['--connect-timeout', '5', 'mon', 'stat'], 10_000)
      return true
    })

    // The OSD, placed in the CRUSH map by hand.
    const uuid = randomUUID()
    const id = cluster.run('ceph', ['osd', 'new', uuid]).trim()
    cluster.run('ceph-osd', ['-i', id, '--mkfs', '--osd-uuid', uuid])
    cluster.run('ceph', ['osd', 'crush', 'add-bucket', 'localhost', 'host'])
    cluster.run('ceph', ['osd', 'crush', 'move', 'localhost', 'root=default'])
    cluster.run('ceph', ['osd', 'crush', 'add', `osd.${id}`, '1.0', 'host=localhost'])
    log('monitor answers; OSD made')
    const osd = cluster.start(`osd.${id}`, 'ceph-osd', ['-i', id])
    await cluster.waitFor('the OSD', osd, logOf(`osd.${id}`), () => {
      const stat = JSON.parse(cluster.run('ceph', ['osd', 'stat', '-f', 'json'], 10_000)) as {
        num_up_osds?: number
      }
      return stat.num_up_osds === 1
    })

    log('OSD up')
    // The gateway.
    const endpoint = `http://127.0.0.1:${rgwPort}`
    const rgw = cluster.start('client.rgw.gw', 'radosgw', ['-n', 'client.rgw.gw'])
    await cluster.waitFor('the gateway', rgw, logOf('client.rgw.gw'), async () => {
      const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      return res.status === 200
    })

    // A user, a bucket, and one object written and removed: the data pool is created on the
    // first write, which takes seconds; better here than in the first test.
    const accessKeyId = `CEPH${randomBytes(8).toString('hex').toUpperCase()}`
    const secretAccessKey = randomBytes(24).toString('base64url')
    cluster.run('radosgw-admin', [
      'user',
      'create',
      '--uid=e2e',
      '--display-name=end-to-end tests',
      `--access-key=${accessKeyId}`,
      `--secret=${secretAccessKey}`,
      '--max-buckets=10000'
    ])
    const bucket = options.bucket ?? 'downloads'
    const client = new S3Client({ endpoint, bucket, accessKeyId, secretAccessKey })
    await client.createBucket()
    log('gateway answers; user and bucket made')
    await client.put('warm-up', Buffer.from('warm-up'), 'text/plain')
    await client.delete('warm-up')

    const info: CephInfo = {
      endpoint,
      bucket,
      accessKeyId,
      secretAccessKey,
      pids: [...cluster.pids],
      dir
    }
    await writeFile(path.join(dir, 'ceph.json'), `${JSON.stringify(info)}\n`)
    return info
  } catch (error) {
    await stopCeph({ pids: cluster.pids, dir })
    throw error
  }
}

/**
 * Stops the daemons by PID (the gateway first, the monitor last): SIGTERM, then SIGKILL after
 * 10 s; then removes the folder. A PID whose process no longer names the folder is not ours
 * (it exited, and the number may be reused): it is left alone.
 */
export async function stopCeph(info: Pick<CephInfo, 'pids' | 'dir'>): Promise<void> {
  const pids = [...info.pids].reverse()
  for (const pid of pids) {
    if (!isOurs(pid, info.dir)) continue
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // Gone meanwhile.
    }
  }
  const deadline = Date.now() + 10_000
  while (pids.some((pid) => isOurs(pid, info.dir)) && Date.now() < deadline) await sleep(100)
  for (const pid of pids) {
    if (!isOurs(pid, info.dir)) continue
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Gone meanwhile.
    }
  }
  while (pids.some((pid) => isOurs(pid, info.dir))) await sleep(50)
  // Refuse to remove anything that is not one of our temp folders.
  if (path.basename(info.dir).startsWith('ceph-') && existsSync(path.join(info.dir, 'ceph.conf'))) {
    await rm(info.dir, { recursive: true, force: true })
  }
}

/**
 * A cluster this script started that is still up (its `ceph.json` under the temp folder,
 * every daemon alive), for the bench to use as it finds it; undefined when there is none.
 */
export async function findRunningCeph(): Promise<CephInfo | undefined> {
  const entries = await readdir(tmpdir()).catch(() => [] as string[])
  for (const entry of entries.filter((e) => e.startsWith('ceph-'))) {
    const dir = path.join(tmpdir(), entry)
    const info = await readFile(path.join(dir, 'ceph.json'), 'utf8')
      .then((text) => JSON.parse(text) as CephInfo)
      .catch(() => undefined)
    if (info?.dir === dir && info.pids.every((pid) => isOurs(pid, dir))) return info
  }
  return undefined
}

async function main(argv: string[]): Promise<void> {
  const [mode, ...rest] = argv
  if (mode === 'start') {
    const started = Date.now()
    const seconds = (): string => ((Date.now() - started) / 1000).toFixed(1)
    const info = await startCeph({
      log: (line) => process.stderr.write(`ceph: ${seconds()} s: ${line}\n`)
    })
    process.stderr.write(`ceph: ready in ${seconds()} s\n`)
    process.stdout.write(`${JSON.stringify(info)}\n`)
    return
  }
  if (mode === 'stop') {
    let info: Pick<CephInfo, 'pids' | 'dir'>
    if (rest[0] === '--dir' && rest[1] !== undefined) {
      info = JSON.parse(await readFile(path.join(rest[1], 'ceph.json'), 'utf8')) as CephInfo
    } else if (rest[0] !== undefined) {
      info = JSON.parse(rest[0]) as CephInfo
    } else {
      throw new Error('stop needs the JSON line start printed, or --dir DIR')
    }
    await stopCeph(info)
    return
  }
  throw new Error(
    'usage: node build/scripts/ceph.js start | stop \'{"pids":[…],"dir":"…"}\' | stop --dir DIR'
  )
}

if (
  process.argv[1] !== undefined &&
  path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`ceph: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
