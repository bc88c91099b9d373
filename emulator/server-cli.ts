/**
 * `npm run server`: the self-hosted Downloads service in the foreground until SIGINT or
 * SIGTERM. Prints one JSON line first, so scripts can read it, then hints for a human.
 */
import { COMMON_FLAGS, closeOnSignal, listeningFromFlags, runCli } from './cli-options.js'
import { startServer, type ServerOptions } from './server.js'

const FLAGS = {
  data: {
    type: 'string',
    value: 'DIR',
    help: [
      'the database (DIR/downloads.sqlite) and, without --s3-endpoint, the',
      'uploaded bytes (DIR/objects/, one file per upload); created if missing'
    ]
  },
  host: COMMON_FLAGS.host,
  port: { type: 'string', value: 'N', help: 'API port (default 3000; 0 = any free port)' },
  's3-port': {
    type: 'string',
    value: 'N',
    help: 'port of the upload endpoint for local bytes (default 3001; 0 = any)'
  },
  token: {
    type: 'string',
    multiple: true,
    value: 'T',
    help: 'accepted token, repeatable (default: a random one, printed)'
  },
  repo: {
    type: 'string',
    multiple: true,
    value: 'OWNER/NAME',
    help: 'repository served, repeatable (default: those DIR knows already)'
  },
  's3-endpoint': {
    type: 'string',
    value: 'URL',
    help: [
      'keep the bytes in this S3-compatible store (path-style) instead of',
      'DIR; keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with',
      '--s3-bucket; the bucket must exist)'
    ]
  },
  's3-bucket': { type: 'string', value: 'NAME', help: "the store's bucket (with --s3-endpoint)" },
  'tls-key': COMMON_FLAGS['tls-key'],
  'tls-cert': COMMON_FLAGS['tls-cert'],
  'public-url': {
    type: 'string',
    value: 'URL',
    help: "the API's URL as clients reach it (behind a reverse proxy)"
  },
  's3-public-url': {
    type: 'string',
    value: 'URL',
    help: "the upload endpoint's URL as clients reach it (behind a reverse proxy)"
  },
  'policy-ttl': {
    type: 'string',
    value: 'S',
    help: 'how long an upload policy stays valid, in seconds (default 3600)'
  },
  'idle-timeout': {
    type: 'string',
    value: 'S',
    help: [
      'close a connection silent this long, in seconds (default 60); a slow',
      'upload that keeps sending goes on'
    ]
  },
  'max-connections': {
    type: 'string',
    value: 'N',
    help: [
      'the most connections the API, and the upload endpoint, each hold at',
      'once (default 256); more are closed as they arrive'
    ]
  }
} as const

/** A base URL given on the command line: http(s), no query; `slash` says how it ends. */
function baseUrl(value: string, flag: string, slash: boolean): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new Error(`${flag} must be a URL, got ${value}`)
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw new Error(`${flag} must be an http(s) URL without query or fragment, got ${value}`)
  }
  const bare = url.href.replace(/\/+$/, '')
  return slash ? `${bare}/` : bare
}

function positiveWhole(value: string, flag: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${flag} must be a positive whole number`)
  return n
}

runCli('Usage: npm run server -- --data DIR [options]', FLAGS, async (values) => {
  if (values.data === undefined) throw new Error('--data DIR is required')
  const { host, apiPort, s3Port, tls, externalS3 } = await listeningFromFlags(values, {
    flag: '--port',
    value: values.port
  })
  const options: ServerOptions = { dataDir: values.data, host, port: apiPort, s3Port }
  if (values.token !== undefined) {
    if (values.token.some((token) => !/^\S+$/.test(token))) {
      throw new Error('--token must be non-empty, without spaces')
    }
    options.tokens = values.token
  }
  if (values.repo !== undefined) options.repos = values.repo
  if (tls) options.tls = tls
  if (externalS3) options.externalS3 = externalS3
  if (values['public-url'] !== undefined) {
    options.publicUrl = baseUrl(values['public-url'], '--public-url', false)
  }
  if (values['s3-public-url'] !== undefined) {
    if (externalS3) throw new Error('--s3-public-url does not go with --s3-endpoint')
    options.s3PublicUrl = baseUrl(values['s3-public-url'], '--s3-public-url', true)
  }
  if (values['policy-ttl'] !== undefined) {
    const ttl = Number(values['policy-ttl'])
    if (!Number.isInteger(ttl) || ttl <= 0) {
      throw new Error('--policy-ttl must be a positive whole number of seconds')
    }
    options.policyTtlSeconds = ttl
  }

  if (values['idle-timeout'] !== undefined) {
    options.idleTimeoutMs = positiveWhole(values['idle-timeout'], '--idle-timeout') * 1000
  }
  if (values['max-connections'] !== undefined) {
    options.maxConnections = positiveWhole(values['max-connections'], '--max-connections')
  }

  const server = await startServer(options)
  // A token given on the command line is the operator's secret: not repeated in the logs.
  const generated = options.tokens === undefined ? server.tokens[0] : undefined
  console.log(
    JSON.stringify({
      apiUrl: server.apiUrl,
      s3Url: server.s3Url,
      ...(generated !== undefined ? { token: generated } : {}),
      repositories: server.repos,
      dataDir: server.dataDir
    })
  )
  console.log(`Downloads service
  API:     ${server.apiUrl}   (the action's api-url)
  Uploads: ${server.s3Url}${externalS3 ? '   (external store)' : ''}
  Repos:   ${server.repos.join(', ')}
  Data:    ${server.dataDir}
  Tokens:  ${server.tokens.length}${generated !== undefined ? ` (generated: ${generated})` : ''}
  Page:    ${server.apiUrl}/${server.repos[0]}/downloads
Press Ctrl+C to stop.`)

  closeOnSignal(() => server.close())
})
