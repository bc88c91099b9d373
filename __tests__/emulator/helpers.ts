/**
 * Shared helpers for the emulator's tests: API calls with fetch, the spec's curl command, and
 * raw multipart requests for what curl cannot express.
 */
import { afterEach, beforeEach } from '@jest/globals'
import { execFile } from 'node:child_process'
import { request } from 'node:http'
import { connect } from 'node:net'
import { promisify } from 'node:util'
import {
  startEmulator as start,
  type Emulator,
  type EmulatorOptions
} from '../../emulator/index.js'
import { throwAll, unexpectedErrorFailures } from '../helpers/unexpected-errors.js'

const exec = promisify(execFile)

/** Every emulator a test of this file started, closed or not. */
const started = new Set<Emulator>()

/**
 * Starts an emulator whose unexpected errors fail the test that was running when they
 * happened: they were answered with a 500, which a client could take for a fault to retry.
 */
export async function startEmulator(options?: EmulatorOptions): Promise<Emulator> {
  const emulator = await start(options)
  started.add(emulator)
  return emulator
}

afterEach(() => {
  throwAll(unexpectedErrorFailures(started))
})

export const TOKEN = 'emulator-token'
export const REPO = 'octocat/hello-world'

export interface ApiAnswer {
  status: number
  headers: Headers
  body: unknown
}

/** Calls the API with the default token (or `token: null` for none). */
export async function api(
  emulator: Emulator,
  path: string,
  init: { method?: string; body?: unknown; token?: string | null; rawBody?: string } = {}
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {}
  const token = init.token === undefined ? TOKEN : init.token
  if (token !== null) headers['Authorization'] = `token ${token}`
  let body: string | undefined = init.rawBody
  if (init.body !== undefined) {
    body = JSON.stringify(init.body)
    headers['Content-Type'] = 'application/json'
  }
  const res = await fetch(`${emulator.apiUrl}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(body !== undefined ? { body } : {})
  })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: text === '' ? undefined : JSON.parse(text)
  }
}

/** The create response fields the upload needs. */
export interface Ticket {
  id: number
  name: string
  path: string
  acl: string
  accesskeyid: string
  policy: string
  signature: string
  mime_type: string
  s3_url: string
  html_url: string
  [field: string]: unknown
}

/** Creates a download and returns the create response. */
export async function createDownload(
  emulator: Emulator,
  name: string,
  size = 0,
  extra: Record<string, unknown> = {}
): Promise<Ticket> {
  const answer = await api(emulator, `/repos/${REPO}/downloads`, {
    method: 'POST',
    body: { name, size, ...extra }
  })
  if (answer.status !== 201) throw new Error(`create failed: ${JSON.stringify(answer.body)}`)
  return answer.body as Ticket
}

/** The form fields in the spec's order (docs/protocol.md, "The form"). */
export function specFields(ticket: Ticket): [string, string][] {
  return [
    ['key', ticket.path],
    ['acl', ticket.acl],
    ['success_action_status', '201'],
    ['Filename', ticket.name],
    ['AWSAccessKeyId', ticket.accesskeyid],
    ['Policy', ticket.policy],
    ['Signature', ticket.signature],
    ['Content-Type', ticket.mime_type]
  ]
}

export interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Splits `curl -i` output: skips interim `100 Continue` blocks. */
function parseCurlOutput(raw: Buffer): HttpAnswer {
  let rest = raw
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) throw new Error(`no HTTP response in curl output: ${rest.toString()}`)
    const lines = rest.subarray(0, end).toString('latin1').split('\r\n')
    const status = Number(lines[0]?.split(' ')[1])
    rest = rest.subarray(end + 4)
    if (status >= 100 && status < 200) continue
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    return { status, headers, body: rest.toString('utf8') }
  }
}

/**
 * Runs the spec's curl command: `curl -F name=value ... -F file=@path URL`, plus `extraArgs`
 * (placed before the URL).
 */
export async function curlForm(
  url: string,
  fields: [string, string][],
  filePath: string | undefined,
  extraArgs: string[] = []
): Promise<HttpAnswer> {
  const args = ['-sS', '-i']
  for (const [name, value] of fields) args.push('-F', `${name}=${value}`)
  if (filePath !== undefined) args.push('-F', `file=@${filePath}`)
  args.push(...extraArgs, url)
  const { stdout } = await exec('curl', args, { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 })
  return parseCurlOutput(stdout)
}

/** One part of a hand-built multipart body. */
export interface Part {
  name: string
  value?: string | Buffer
  filename?: string
  contentType?: string
}

export const BOUNDARY = '----emulator-test-boundary-7MA4YWxkTrZu0gW'

/** Builds a multipart/form-data body with the parts in the given order. */
export function multipartBody(parts: Part[], boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = []
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`
    // Quotes and backslashes escaped with a backslash, as curl does.
    if (part.filename !== undefined)
      head += `; filename="${part.filename.replace(/["\\]/g, '\\$&')}"`
    head += '\r\n'
    if (part.contentType !== undefined) head += `Content-Type: ${part.contentType}\r\n`
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.from(part.value ?? ''), Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return Buffer.concat(chunks)
}

/** The spec's fields followed by a file part. */
export function specParts(ticket: Ticket, content: Buffer | string): Part[] {
  return [
    ...specFields(ticket).map(([name, value]) => ({ name, value })),
    { name: 'file', value: content, filename: ticket.name, contentType: ticket.mime_type }
  ]
}

/**
 * A raw request with node's http client. `body` is sent with a Content-Length unless `chunked`.
 * Rejects when the server drops the connection.
 */
export function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer; chunked?: boolean }
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.chunked) headers['Transfer-Encoding'] = 'chunked'
    else if (init.body !== undefined) headers['Content-Length'] = String(init.body.length)
    const req = request(url, { method: init.method ?? 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const flat: Record<string, string> = {}
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: flat,
          body: Buffer.concat(chunks).toString('utf8')
        })
      })
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/** POSTs a hand-built multipart body to the S3 endpoint. */
export function postForm(emulator: Emulator, parts: Part[]): Promise<HttpAnswer> {
  return rawRequest(emulator.s3Url, {
    headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` },
    body: multipartBody(parts)
  })
}

/** `<Code>` of an S3 XML error. */
export function s3Code(body: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body)?.[1]
}

/** `<Message>` of an S3 XML error. */
export function s3Message(body: string): string | undefined {
  return /<Message>([^<]*)<\/Message>/.exec(body)?.[1]
}

/**
 * Sends `text` as is on a new TCP connection and resolves with everything the server wrote
 * until it closed the connection (send `Connection: close`).
 */
export function rawHttp(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text))
    let answer = ''
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')))
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
  })
}

/** Polls `check` until it returns true; rejects after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A create through node's http client, so a dropped connection is an error, not a retry. */
export function rawCreate(emulator: Emulator, name: string): Promise<HttpAnswer> {
  return rawRequest(`${emulator.apiUrl}/repos/${REPO}/downloads`, {
    headers: { Authorization: 'token emulator-token', 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify({ name, size: 5 }))
  })
}

/**
 * A fresh emulator for each test of the file, closed after it: `assign` receives it, `get`
 * reads it back for the close.
 */
export function emulatorPerTest(assign: (emulator: Emulator) => void, get: () => Emulator): void {
  beforeEach(async () => {
    assign(await startEmulator())
  })
  afterEach(async () => {
    await get().close()
  })
}
