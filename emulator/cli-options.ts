/**
 * The emulator's and the server's command lines: one table of flags each, read by one parser
 * that also writes the usage text, and the flags both read the same way (where to listen, TLS,
 * an external S3 store).
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { ExternalS3 } from './types.js'

/** One flag: how `parseArgs` reads it, and its entry in the usage text. */
export interface Flag {
  type: 'string' | 'boolean'
  /** Repeatable: every value is kept, in order. */
  multiple?: boolean
  /** The value's name in the usage (`--host HOST`); a boolean flag has none. */
  value?: string
  /** The usage's description of the flag; further lines are the ones it wraps onto. */
  help: string | readonly string[]
}

export type Flags = Readonly<Record<string, Flag>>

/** What `parseArgs` makes of `flags`: a string (or strings) or a boolean each, when given. */
export type FlagValues<T extends Flags> = ReturnType<
  typeof parseArgs<{ options: T; strict: true }>
>['values']

/** Flags that mean the same on both command lines, with the same usage text. */
export const COMMON_FLAGS = {
  host: { type: 'string', value: 'HOST', help: 'interface to listen on (default 127.0.0.1)' },
  'tls-key': {
    type: 'string',
    value: 'FILE',
    help: 'serve HTTPS with this PEM key (with --tls-cert)'
  },
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    help: 'serve HTTPS with this PEM certificate (with --tls-key)'
  }
} as const satisfies Flags

/** `--help`, which every command line takes, last in its usage. */
const HELP = { help: { type: 'boolean', help: 'this text' } } as const satisfies Flags

// The column the descriptions start at: room for the longest flag with its value.
const HELP_COLUMN = 23

/** The usage text: `synopsis`, then a line (or a few) for each flag, in the table's order. */
function usage(synopsis: string, flags: Flags): string {
  const lines = Object.entries(flags).flatMap(([name, flag]) => {
    const [first, ...rest] = typeof flag.help === 'string' ? [flag.help] : flag.help
    const left = `  --${name}${flag.value === undefined ? '' : ` ${flag.value}`}`
    return [
      `${left.padEnd(HELP_COLUMN - 1)} ${first}`,
      ...rest.map((line) => `${' '.repeat(HELP_COLUMN)}${line}`)
    ]
  })
  return `${synopsis}\n\n${lines.join('\n')}`
}

/** `--port`-style flags: an integer within 0..65535 (0 picks a free port). */
function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be a port number`)
  return n
}

/** `--tls-key FILE --tls-cert FILE`: both or neither. */
async function tlsFromFlags(
  keyFile: string | undefined,
  certFile: string | undefined
): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if ((keyFile === undefined) !== (certFile === undefined)) {
    throw new Error('--tls-key and --tls-cert go together')
  }
  if (keyFile === undefined || certFile === undefined) return undefined
  return { key: await readFile(keyFile), cert: await readFile(certFile) }
}

/**
 * `--s3-endpoint URL --s3-bucket NAME`: both or neither; the keys come from the environment
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never from a flag that `ps` would show.
 */
function externalS3FromFlags(
  endpoint: string | undefined,
  bucket: string | undefined
): ExternalS3 | undefined {
  if ((endpoint === undefined) !== (bucket === undefined)) {
    throw new Error('--s3-endpoint and --s3-bucket go together')
  }
  if (endpoint === undefined || bucket === undefined) return undefined
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      '--s3-endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment'
    )
  }
  return { endpoint, bucket, accessKeyId, secretAccessKey }
}

/**
 * Serves until SIGINT or SIGTERM, then closes and exits: 0 when it closed cleanly, 1 when
 * closing failed. `describe` says what is being closed, for the log line.
 */
export function closeOnSignal(close: () => Promise<void>, describe: () => string = () => ''): void {
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: closing${describe()}`)
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      }
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

/** Where a command line's two servers listen, and how they serve. */
export interface Listening {
  host: string
  apiPort: number
  s3Port: number
  tls?: { key: Buffer; cert: Buffer }
  externalS3?: ExternalS3
}

/**
 * The flags both command lines read the same way: `--host`, the API's port (`--api-port` on
 * the emulator, `--port` on the server; 3000 by default), `--s3-port` (3001), TLS and an
 * external S3 store. Each is checked in that order, so the first bad one is the one named.
 */
export async function listeningFromFlags(
  values: {
    host?: string
    's3-port'?: string
    'tls-key'?: string
    'tls-cert'?: string
    's3-endpoint'?: string
    's3-bucket'?: string
  },
  apiPort: { flag: string; value: string | undefined }
): Promise<Listening> {
  const listening: Listening = {
    host: values.host ?? '127.0.0.1',
    apiPort: port(apiPort.value, 3000, apiPort.flag),
    s3Port: port(values['s3-port'], 3001, '--s3-port')
  }
  const tls = await tlsFromFlags(values['tls-key'], values['tls-cert'])
  if (tls) listening.tls = tls
  const externalS3 = externalS3FromFlags(values['s3-endpoint'], values['s3-bucket'])
  if (externalS3) listening.externalS3 = externalS3
  return listening
}

/**
 * Runs a command line: reads `flags` (and `--help`, which prints the usage) from the arguments
 * and hands their values to `main`. A problem starting it (a bad flag, a port in use) is
 * printed with the usage, and exits 2.
 */
export function runCli<const T extends Flags>(
  synopsis: string,
  flags: T,
  main: (values: FlagValues<T>) => Promise<void>
): void {
  const options = { ...flags, ...HELP }
  const text = usage(synopsis, options)
  const start = async (): Promise<void> => {
    // TypeScript cannot work out parseArgs' values for a table it does not know yet.
    const { values } = parseArgs({ options, strict: true }) as {
      values: FlagValues<T> & { help?: boolean }
    }
    if (values.help) {
      console.log(text)
      return
    }
    await main(values)
  }
  start().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    console.error(text)
    process.exit(2)
  })
}
