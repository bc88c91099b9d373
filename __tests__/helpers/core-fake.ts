import { jest } from '@jest/globals'
import { inputValues } from '../../scripts/action-metadata.js'
import type * as Core from '@actions/core'

/**
 * One typed fake of @actions/core for every unit test: inputs come from a plain object
 * (names as in action.yml), and everything the code says is recorded for assertions.
 */
export interface CoreFake {
  module: Partial<typeof Core>
  inputs: Record<string, string>
  outputs: Record<string, string>
  secrets: string[]
  /** Every line logged, prefixed with its level: `info: …`, `warning: …`, `error: …`. */
  log: string[]
  failed: string[]
  /** The summary as written, one entry per builder call. */
  summary: string[]
  /**
   * The summary as `heading:`, `table:`, `list:` and `raw:` entries: raw HTML written a
   * piece at a time is joined, and its tables and lists read back into rows (cells joined by
   * ` | `) and items.
   */
  summaryEntries(): string[]
  /** What the main step saved for its post step (`core.saveState`), read by `getState`. */
  state: Record<string, string>
  /**
   * Forgets everything recorded and sets the inputs afresh, so that one fake (mocked once per
   * test file, before the code under test is imported) serves every test of the file.
   */
  reset(inputs?: Record<string, string>): void
}

export function createCoreFake(inputs: Record<string, string> = {}): CoreFake {
  // The action appends its long outputs to GITHUB_OUTPUT itself (src/step-output.ts); without
  // the variable it hands them to setOutput, which this fake records. Unset, so that a test
  // run inside a workflow never writes to the runner's own file.
  delete process.env.GITHUB_OUTPUT
  const fake: CoreFake = {
    module: {},
    inputs: { ...inputs },
    outputs: {},
    secrets: [],
    log: [],
    failed: [],
    summary: [],
    state: {},
    summaryEntries: () => readSummary(fake.summary),
    reset(inputs = {}) {
      fake.inputs = { ...inputs }
      fake.outputs = {}
      fake.secrets = []
      fake.log = []
      fake.failed = []
      fake.summary = []
      fake.state = {}
      for (const member of Object.values(fake.module)) {
        if (jest.isMockFunction(member)) member.mockClear()
      }
    }
  }
  const getInput = (name: string, options?: Core.InputOptions): string => {
    const value = (fake.inputs[name] ?? '').trim()
    if (options?.required && value === '') {
      throw new Error(`Input required and not supplied: ${name}`)
    }
    return value
  }
  const summaryFake = {
    addHeading: (text: string) => record(`heading: ${text}`),
    addTable: (rows: unknown[][]) =>
      record(
        `table: ${rows
          .map((row) =>
            row
              .map((cell) => (typeof cell === 'string' ? cell : (cell as { data: string }).data))
              .join(' | ')
          )
          .join('\n')}`
      ),
    addList: (items: string[]) => record(`list: ${items.join('\n')}`),
    // A piece without a line break goes on in the next one: SummaryFile writes long tables
    // in pieces.
    addRaw: (text: string, addEol?: boolean) =>
      record(addEol === true ? `raw: ${text}` : `${CONTINUED}${text}`),
    write: async () => summaryFake,
    emptyBuffer: () => summaryFake
  }
  function record(entry: string): typeof summaryFake {
    fake.summary.push(entry)
    return summaryFake
  }
  const say = (level: string) => (message: string | Error) => {
    fake.log.push(`${level}: ${message instanceof Error ? message.message : message}`)
  }
  fake.module = {
    getInput: jest.fn(getInput),
    getMultilineInput: jest.fn((name: string, options?: Core.InputOptions) =>
      getInput(name, options)
        .split('\n')
        .filter((line) => line !== '')
    ),
    getBooleanInput: jest.fn((name: string) => getInput(name) === 'true'),
    setOutput: jest.fn((name: string, value: unknown) => {
      fake.outputs[name] = String(value)
    }),
    setSecret: jest.fn((secret: string) => {
      fake.secrets.push(secret)
    }),
    setFailed: jest.fn((message: string | Error) => {
      fake.failed.push(message instanceof Error ? message.message : message)
    }),
    info: jest.fn(say('info')),
    debug: jest.fn(say('debug')),
    warning: jest.fn(say('warning')),
    error: jest.fn(say('error')),
    notice: jest.fn(say('notice')),
    startGroup: jest.fn(say('group')),
    endGroup: jest.fn(() => undefined),
    group: jest.fn(async <T>(name: string, fn: () => Promise<T>) => {
      say('group')(name)
      return fn()
    }) as typeof Core.group,
    saveState: jest.fn((name: string, value: unknown) => {
      fake.state[name] = String(value)
    }),
    getState: jest.fn((name: string) => fake.state[name] ?? ''),
    isDebug: jest.fn(() => false),
    summary: summaryFake as unknown as typeof Core.summary
  }
  return fake
}

function readSummary(entries: string[]): string[] {
  const read: string[] = []
  let raw = ''
  const endRaw = (): void => {
    const parts = raw.split(/(<table>.*?<\/table>|<ul>.*?<\/ul>)/s)
    for (const part of parts) {
      if (part.startsWith('<table>')) {
        const rows = [...part.matchAll(/<tr>(.*?)<\/tr>/gs)].map((row) =>
          [...row[1].matchAll(/<t[hd]>(.*?)<\/t[hd]>/gs)].map((cell) => cell[1]).join(' | ')
        )
        read.push(`table: ${rows.join('\n')}`)
      } else if (part.startsWith('<ul>')) {
        const items = [...part.matchAll(/<li>(.*?)<\/li>/gs)].map((item) => item[1])
        read.push(`list: ${items.join('\n')}`)
      } else if (part !== '') {
        read.push(`raw: ${part}`)
      }
    }
    raw = ''
  }
  for (const entry of entries) {
    if (entry.startsWith(CONTINUED)) {
      raw += entry.slice(CONTINUED.length)
    } else if (entry.startsWith('raw: ')) {
      raw += entry.slice('raw: '.length)
      endRaw()
    } else {
      endRaw()
      read.push(entry)
    }
  }
  endRaw()
  return read
}

/** How the fake records a raw piece written without a line break. */
const CONTINUED = 'raw (continued): '

/** The inputs action.yml gives when a workflow sets only `glob` (see scripts/action-metadata.ts). */
export const ACTION_DEFAULTS: Record<string, string> = inputValues(
  {},
  { token: 'test-token', repository: 'octocat/hello-world', apiUrl: 'https://api.github.com' }
)
