import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { inputValues, projectRoot } from './action-metadata.js'

export { projectRoot } from './action-metadata.js'

export interface RunOptions {
  /** Where the "checkout" is: GITHUB_WORKSPACE and the working directory. */
  workspace: string
  /** Inputs the workflow step sets (`with:`); the rest take action.yml's defaults. */
  inputs: Record<string, string>
  /** What `${{ github.token }}`, `${{ github.repository }}` and `${{ github.api_url }}` expand to. */
  github: { token: string; repository: string; apiUrl: string }
  env?: Record<string, string>
  /** Told each line of the action's log as it runs (the demo shows them). */
  onLine?: (line: string) => void
}

export interface RunResult {
  code: number
  /** The signal that ended the process, if one did (a kill). */
  signal: NodeJS.Signals | null
  /** What the runner would show as the step's log. */
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** The messages of `::error::` commands. */
  errors: string[]
  warnings: string[]
  /** Peak resident memory of the action process, in bytes (Linux; 0 elsewhere). */
  peakRss: number
  /**
   * CPU time the action process used, in milliseconds, in all and on its main thread alone
   * (Linux; 0 elsewhere). Sampled while it runs, so the last 50 ms may be missing.
   */
  cpu: { processMs: number; mainThreadMs: number }
  elapsedMs: number
}

/** The main step's result, with the post step's that the runner ran after it. */
export interface JobResult extends RunResult {
  post: RunResult
}

/** A step's process while it runs. */
export interface RunningStep {
  pid: number | undefined
  result: Promise<RunResult>
  /**
   * Cancels the step as the runner does: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after
   * that. Resolves to the step's result.
   */
  cancel(): Promise<RunResult>
  /** Sends one signal (SIGKILL: the step killed outright). */
  kill(signal: NodeJS.Signals): void
}

/** The runner's cancellation timing. */
export const CANCEL_SIGTERM_AFTER_MS = 7500
export const CANCEL_SIGKILL_AFTER_MS = 2500

/**
 * One job on a runner: a RUNNER_TEMP that lives until {@link close} (the runner wipes it when
 * the job ends), and the state the main step saves for its post step (GITHUB_STATE →
 * STATE_*). Steps run the bundle exactly as a runner does: a child process of node with
 * `INPUT_*` variables (action.yml's defaults filled in and expressions expanded),
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and the workspace as its cwd.
 */
export class Job {
  private state: Record<string, string> = {}

  private constructor(
    readonly runnerTemp: string,
    private readonly options: RunOptions
  ) {}

  static async create(options: RunOptions): Promise<Job> {
    return new Job(await mkdtemp(path.join(tmpdir(), 'runner-')), options)
  }

  /** Starts the main step (`dist/index.js`). */
  main(): Promise<RunningStep> {
    return this.start(path.join(projectRoot, 'dist', 'index.js'), true)
  }

  /** Runs the post step (`dist/post/index.js`) with the state the main step saved. */
  async post(): Promise<RunResult> {
    return (await this.startPost()).result
  }

  /** Starts the post step, for a test that signals it while it runs. */
  startPost(): Promise<RunningStep> {
    return this.start(path.join(projectRoot, 'dist', 'post', 'index.js'), false)
  }

  /** Ends the job: RUNNER_TEMP is wiped, as the runner does. */
  async close(): Promise<void> {
    await rm(this.runnerTemp, { recursive: true, force: true })
  }

  private async start(script: string, isMain: boolean): Promise<RunningStep> {
    const { options } = this
    const scratch = await mkdtemp(path.join(tmpdir(), 'step-'))
    const outputFile = path.join(scratch, 'output')
    const summaryFile = path.join(scratch, 'summary')
    const stateFile = path.join(scratch, 'state')
    for (const file of [outputFile, summaryFile, stateFile]) await writeFile(file, '')
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? scratch,
      GITHUB_ACTIONS: 'true',
      CI: 'true',
      GITHUB_WORKSPACE: options.workspace,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_STATE: stateFile,
      GITHUB_REPOSITORY: options.github.repository,
      GITHUB_API_URL: options.github.apiUrl,
      RUNNER_TEMP: this.runnerTemp,
      ...(await inputEnv(options))
    }
    if (!isMain) {
      for (const [name, value] of Object.entries(this.state)) env[`STATE_${name}`] = value
    }
    Object.assign(env, options.env)

    const started = Date.now()
    const child = spawn(process.execPath, [script], {
      cwd: options.workspace,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let peakRss = 0
    let cpu = { processMs: 0, mainThreadMs: 0 }
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, peakRssOf(child.pid))
      cpu = cpuOf(child.pid) ?? cpu
    }, 50)
    let stdout = ''
    let stderr = ''
    let partial = ''
    // The main step's lines, as they come (the demo shows them); the post step's are in its result.
    const onLine = isMain ? options.onLine : undefined
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (onLine === undefined) return
      const lines = (partial + chunk.toString()).split('\n')
      partial = lines.pop() ?? ''
      lines.forEach(onLine)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timers: NodeJS.Timeout[] = []
    const result = (async (): Promise<RunResult> => {
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]))
      )
      clearInterval(sampler)
      timers.forEach(clearTimeout)
      const elapsedMs = Date.now() - started
      // The runner reads the state file after the step, however it ended.
      if (isMain) this.state = parseOutputs(await readFile(stateFile, 'utf8'))
      const run: RunResult = {
        code: code ?? 1,
        signal,
        stdout,
        stderr,
        outputs: parseOutputs(await readFile(outputFile, 'utf8')),
        summary: await readFile(summaryFile, 'utf8'),
        errors: commands(stdout, 'error'),
        warnings: commands(stdout, 'warning'),
        peakRss,
        cpu,
        elapsedMs
      }
      await rm(scratch, { recursive: true, force: true })
      return run
    })()
    return {
      pid: child.pid,
      result,
      cancel() {
        child.kill('SIGINT')
        timers.push(
          setTimeout(() => child.kill('SIGTERM'), CANCEL_SIGTERM_AFTER_MS),
          setTimeout(() => child.kill('SIGKILL'), CANCEL_SIGTERM_AFTER_MS + CANCEL_SIGKILL_AFTER_MS)
        )
        return result
      },
      kill(signal) {
        child.kill(signal)
      }
    }
  }
}

/**
 * The `INPUT_*` variables a runner sets for a step: the inputs the step sets (`with:`), and
 * action.yml's defaults for the rest with `${{ github.token }}`, `${{ github.repository }}`
 * and `${{ github.api_url }}` expanded.
 */
export async function inputEnv(
  options: Pick<RunOptions, 'inputs' | 'github'>
): Promise<Record<string, string>> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(inputValues(options.inputs, options.github))) {
    // The runner's naming: spaces to underscores, upper case, hyphens kept.
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  return Promise.resolve(env)
}

/**
 * Runs the action's main step and then its post step, as a runner runs a job with this one
 * step, and wipes RUNNER_TEMP after. Resolves to the main step's result, with the post
 * step's under `post`.
 */
export async function runAction(options: RunOptions): Promise<JobResult> {
  return runSteps(await Job.create(options))
}

/** Runs a job's main step, then its post step, then ends the job (RUNNER_TEMP is wiped). */
export async function runSteps(
  job: Pick<Job, 'post' | 'close'> & { main(): Promise<RunningStep> }
): Promise<JobResult> {
  try {
    const main = await (await job.main()).result
    const post = await job.post()
    return { ...main, post }
  } finally {
    await job.close()
  }
}

/** GITHUB_OUTPUT's format: `name<<DELIMITER`, the value's lines, `DELIMITER`. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (match) {
      const end = lines.indexOf(match[2], i + 1)
      // A block without its closing delimiter: a step killed while it wrote a long output
      // (src/step-output.ts writes one in pieces). The runner stops there with an error and
      // keeps what it read before; reading on from the top again would never end.
      if (end < 0) break
      outputs[match[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=')
      outputs[lines[i].slice(0, at)] = lines[i].slice(at + 1)
    }
  }
  return outputs
}

/** The messages of workflow commands such as `::error file=…::message`, unescaped. */
function commands(log: string, name: string): string[] {
  const found: string[] = []
  for (const line of log.split('\n')) {
    const match = new RegExp(`^::${name}(?: [^:]*)?::(.*)$`).exec(line)
    if (match) {
      found.push(match[1].replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%'))
    }
  }
  return found
}

/**
 * The process's peak resident memory so far (VmHWM, which only grows), in bytes; 0 once it
 * is gone or off Linux. Sampled while it runs, so the last sample is the peak to within
 * the sampling interval.
 */
function peakRssOf(pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Linux's clock ticks per second for /proc's CPU times (`getconf CLK_TCK`, 100 everywhere). */
const CLOCK_TICKS = 100

/**
 * CPU time used so far by a process, and by its main thread (whose thread id is the process
 * id), in milliseconds: utime + stime from /proc. Undefined once it is gone or off Linux.
 */
function cpuOf(pid: number | undefined): { processMs: number; mainThreadMs: number } | undefined {
  if (pid === undefined) return undefined
  const ticks = (file: string): number => {
    // The fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ')
    return Number(fields[11]) + Number(fields[12])
  }
  try {
    return {
      processMs: (ticks(`/proc/${pid}/stat`) * 1000) / CLOCK_TICKS,
      mainThreadMs: (ticks(`/proc/${pid}/task/${pid}/stat`) * 1000) / CLOCK_TICKS
    }
  } catch {
    return undefined
  }
}

/** A fresh folder to act as the workflow's checkout. */
export async function makeWorkspace(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `workspace-${randomUUID().slice(0, 8)}-`))
}
