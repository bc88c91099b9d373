/**
 * `npm run emulator`: runs the Downloads API + S3 emulator in the foreground until SIGINT or
 * SIGTERM. Prints one JSON line with the URLs first, so scripts can read it, then hints.
 */
import { COMMON_FLAGS, closeOnSignal, listeningFromFlags, runCli } from './cli-options.js'
import { startEmulator } from './index.js'
import type { EmulatorOptions, Hop } from './types.js'

const FLAGS = {
  host: COMMON_FLAGS.host,
  'api-port': { type: 'string', value: 'N', help: 'API port (default 3000; 0 = any free port)' },
  's3-port': { type: 'string', value: 'N', help: 'S3 port (default 3001; 0 = any free port)' },
  token: {
    type: 'string',
    multiple: true,
    value: 'T',
    help: 'accepted token, repeatable (default emulator-token)'
  },
  repo: {
    type: 'string',
    multiple: true,
    value: 'OWNER/NAME',
    help: 'existing repository, repeatable (default octocat/hello-world)'
  },
  storage: {
    type: 'string',
    value: 'DIR',
    help: 'keep uploaded bytes in DIR (default: a temp dir, removed on exit)'
  },
  'fault-rate': {
    type: 'string',
    value: 'R',
    help: 'inject random transient faults with probability R (0..1) per request'
  },
  'fault-seed': { type: 'string', value: 'N', help: 'seed for --fault-rate (default 1)' },
  'upload-bandwidth': {
    type: 'string',
    value: 'N',
    help: 'read S3 uploads at N bytes per second at most (default: no limit)'
  },
  'tls-key': COMMON_FLAGS['tls-key'],
  'tls-cert': COMMON_FLAGS['tls-cert'],
  's3-endpoint': {
    type: 'string',
    value: 'URL',
    help: [
      'hand uploads out to this external S3 store (path-style) instead of',
      "the emulator's own S3 server; keys from AWS_ACCESS_KEY_ID and",
      'AWS_SECRET_ACCESS_KEY (with --s3-bucket)'
    ]
  },
  's3-bucket': {
    type: 'string',
    value: 'NAME',
    help: "the external store's bucket (with --s3-endpoint)"
  }
} as const

runCli('Usage: npm run emulator -- [options]', FLAGS, async (values) => {
  const tokens = values.token ?? ['emulator-token']
  const repos = values.repo ?? ['octocat/hello-world']
  const { host, apiPort, s3Port, tls, externalS3 } = await listeningFromFlags(values, {
    flag: '--api-port',
    value: values['api-port']
  })
  const options: EmulatorOptions = { host, apiPort, s3Port, tokens, repos }
  if (values.storage !== undefined) options.storageDir = values.storage
  if (values['upload-bandwidth'] !== undefined) {
    const rate = Number(values['upload-bandwidth'])
    if (!(Number.isFinite(rate) && rate > 0)) {
      throw new Error('--upload-bandwidth must be a positive number of bytes per second')
    }
    options.uploadBytesPerSecond = rate
  }
  if (tls) options.tls = tls
  if (externalS3) {
    if (options.uploadBytesPerSecond !== undefined) {
      throw new Error(
        '--upload-bandwidth does not go with --s3-endpoint: the store reads the uploads'
      )
    }
    options.externalS3 = externalS3
  }
  // An emulator bug answers 500, which a client retries past: say so where it can be seen.
  options.onUnexpectedError = (error) => console.error('emulator bug:', error)
  const emulator = await startEmulator(options)

  if (values['fault-rate'] !== undefined) {
    const rate = Number(values['fault-rate'])
    const seed = Number(values['fault-seed'] ?? '1')
    if (!(rate >= 0 && rate <= 1)) throw new Error('--fault-rate must be within 0..1')
    if (!Number.isInteger(seed)) throw new Error('--fault-seed must be an integer')
    // With an external store, only the API's hops are the emulator's to break.
    const hops: Hop[] | undefined = options.externalS3
      ? ['list', 'create', 'delete', 'download']
      : undefined
    emulator.faults.random({ seed, rate, ...(hops ? { hops } : {}) })
  }

  console.log(
    JSON.stringify({
      apiUrl: emulator.apiUrl,
      s3Url: emulator.s3Url,
      token: tokens[0],
      repository: repos[0]
    })
  )
  const bandwidth =
    options.uploadBytesPerSecond === undefined
      ? ''
      : `   (uploads read at ${options.uploadBytesPerSecond} bytes/s at most)`
  console.log(`Downloads API emulator
  API:     ${emulator.apiUrl}   (token: ${tokens.join(', ')})
  S3:      ${emulator.s3Url}${bandwidth}${options.externalS3 ? '   (external store)' : ''}
  Repos:   ${repos.join(', ')}
  Storage: ${emulator.storageDir}
Try:
  curl -H "Authorization: token ${tokens[0]}" ${emulator.apiUrl}/repos/${repos[0]}/downloads
Press Ctrl+C to stop.`)

  closeOnSignal(
    () => emulator.close(),
    () => ` (${emulator.requests.length} requests served)`
  )
})
