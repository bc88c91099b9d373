/** Flags the emulator's and the server's command lines share. */
import { readFile } from 'node:fs/promises'
import type { ExternalS3 } from './types.js'

/** `--port`-style flags: an integer within 0..65535 (0 picks a free port). */
export function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be a port number`)
  return n
}

/** `--tls-key FILE --tls-cert FILE`: both or neither. */
export async function tlsFromFlags(
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
export function externalS3FromFlags(
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

/**
 * Runs a command line's `main`: a problem starting it (a bad flag, a port in use) is printed
 * with the usage, and exits 2.
 */
export function runCli(main: () => Promise<void>, usage: string): void {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    console.error(usage)
    process.exit(2)
  })
}
