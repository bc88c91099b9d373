/**
 * The API origin: api.github.com's Downloads endpoints, plus github.com's `html_url` redirect
 * to S3 (docs/protocol.md, "The Downloads API").
 */
import {
  createServer,
  STATUS_CODES,
  validateHeaderValue,
  type IncomingMessage,
  type Server
} from 'node:http'
import type { ServerResponse } from 'node:http'
import {
  clientWentAway,
  delay,
  holdAnswer,
  objectUrl,
  parseTarget,
  recordOf,
  recordRequest,
  reportUnexpected,
  type EmulatorContext,
  type ServerFactory
} from './context.js'
import type { ActiveFault } from './faults.js'
import {
  isDownloadsPage,
  PAGE_HEADERS,
  renderDownloadsPage,
  renderNotFoundPage
} from './downloads-page.js'
import { decideMimeType } from './mime-type.js'
import { formatExpiration, issuePolicy, signPolicy } from './policy.js'
import { rateLimitHeaders, type RateState } from './rate-limit.js'
import type { DownloadRecord } from './store.js'
import type { CommitHop, RequestRecord } from './types.js'

/**
 * The longest description taken, in UTF-8 bytes: room for release notes, while a page that
 * lists a repository's downloads stays a page (the self-hosted server serves it to anyone).
 */
export const MAX_DESCRIPTION_BYTES = 64 * 1024
/** A create body larger than this is not a Downloads request. */
const MAX_JSON_BYTES = 1024 * 1024
/** The longest name the emulator accepts: one path segment on common file systems. */
const MAX_NAME_BYTES = 255

type Route =
  | { hop: 'list' | 'create'; repo: string }
  | { hop: 'get' | 'delete'; repo: string; id: string }
  | { hop: 'download'; repo: string; name: string }
  | { hop: 'page'; repo: string }
  | { hop: 'other' }

function classify(method: string, pathname: string): Route {
  let segments: string[]
  try {
    segments = pathname.split('/').slice(1).map(decodeURIComponent)
  } catch {
    return { hop: 'other' }
  }
  const [first, owner, name, fourth, fifth, ...rest] = segments
  if (owner === undefined || name === undefined || owner === '' || name === '') {
    return { hop: 'other' }
  }
  const repo = `${owner}/${name}`
  const isGet = method === 'GET' || method === 'HEAD'
  if (first === 'repos' && fourth === 'downloads' && rest.length === 0) {
    if (fifth === undefined) {
      if (isGet) return { hop: 'list', repo }
      if (method === 'POST') return { hop: 'create', repo }
    } else if (fifth !== '') {
      if (isGet) return { hop: 'get', repo, id: fifth }
      if (method === 'DELETE') return { hop: 'delete', repo, id: fifth }
    }
  }
  // github.com/downloads/:owner/:repo/:name (the html_url) redirected to the object on S3.
  if (first === 'downloads' && fourth !== undefined && fourth !== '' && fifth === undefined) {
    if (isGet) return { hop: 'download', repo, name: fourth }
  }
  // github.com/:owner/:repo/downloads: the Downloads page.
  if (isDownloadsPage(segments) && isGet) return { hop: 'page', repo: `${first}/${owner}` }
  return { hop: 'other' }
}

/** `Authorization: token T` or `Bearer T`; undefined when absent, '' when unusable. */
function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (header === undefined) return undefined
  const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header)
  return match?.[1] ?? ''
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  let tooLarge = false
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_JSON_BYTES) tooLarge = true
    else chunks.push(chunk)
  }
  return tooLarge ? undefined : Buffer.concat(chunks)
}

/**
 * Answers one request: holds the answer after a commit when a `holdAfterCommitMs` fault says
 * so, and loses it when a `resetAfterCommit` fault does.
 */
class Answer {
  constructor(
    private readonly context: EmulatorContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly record: RequestRecord,
    private readonly fault: ActiveFault | undefined,
    private readonly extraHeaders: Record<string, string> = {}
  ) {}

  withHeaders(headers: Record<string, string>): Answer {
    return new Answer(this.context, this.req, this.res, this.record, this.fault, {
      ...this.extraHeaders,
      ...headers
    })
  }

  /**
   * The work of `hop` is done in the store: marks the request committed, then holds the
   * answer if a fault says so. False when the client went away meanwhile: do not answer.
   */
  async commit(hop: CommitHop, name: string): Promise<boolean> {
    this.context.waiters.committed(this.record, hop, name)
    const hold = this.fault?.holdAfterCommitMs ?? 0
    if (hold > 0 && !(await holdAnswer(this.context, this.req, this.res, hold))) {
      this.record.status = 0
      this.req.socket.destroy()
      return false
    }
    return true
  }

  send(status: number, headers: Record<string, string>, body?: string): void {
    if (this.fault?.resetAfterCommit) {
      this.record.status = 0
      this.req.socket.destroy()
      return
    }
    this.record.status = status
    const all: Record<string, string> = { ...this.extraHeaders, ...headers }
    if (body !== undefined) all['Content-Length'] = String(Buffer.byteLength(body))
    this.res.writeHead(status, all)
    this.res.end(body)
  }

  json(status: number, value: unknown, headers: Record<string, string> = {}): void {
    this.send(
      status,
      { 'Content-Type': 'application/json; charset=utf-8', ...headers },
      JSON.stringify(value)
    )
  }

  message(status: number, message: string, headers: Record<string, string> = {}): void {
    this.json(status, { message }, headers)
  }
}

function defaultMessage(status: number): string {
  if (status === 500 || status === 502) return 'Server Error'
  return STATUS_CODES[status] ?? 'Error'
}

export function createApiServer(
  context: EmulatorContext,
  makeServer: ServerFactory = createServer
): Server {
  return makeServer({}).on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    handle(context, req, res).catch((error: unknown) => {
      // A handler bug or a socket that went away: never leave the client hanging.
      if (!clientWentAway(context, socket, error)) reportUnexpected(context, error)
      if (!res.headersSent && !res.destroyed) {
        const record = recordOf(req)
        if (record) record.status = 500
        res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' })
        res.end(JSON.stringify({ message: 'Server Error' }))
      } else {
        res.destroy()
      }
    })
  })
}

async function handle(
  context: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse
): Promise<void> {
  const method = req.method ?? 'GET'
  const url = parseTarget(req.url)
  if (!url) {
    // `GET http://[/x`: a request target that is no URL. A 400, as any HTTP front end gives.
    const record = recordRequest(context, 'api', 'other', req)
    return new Answer(context, req, res, record, undefined).message(400, 'Bad Request')
  }
  const route = classify(method, url.pathname)
  const record = recordRequest(context, 'api', route.hop, req)
  // Seeds on their way to an external store land before anything is answered about them.
  await context.external?.settled()

  const token = tokenOf(req)
  const authorized = token !== undefined && context.tokens.has(token)
  let body: Buffer | undefined
  let name: string | undefined
  // Only a caller with a token gets its create body read: a stranger's is not even looked at.
  if (route.hop === 'create' && authorized) {
    body = await readBody(req)
    name = peekName(body)
  }
  const fault = context.faults.take(route.hop, {
    origin: 'api',
    method,
    path: req.url ?? '/',
    ...(name !== undefined ? { name } : {})
  })
  if (fault) {
    record.fault = fault.label
    if (fault.delayMs > 0) await delay(fault.delayMs, context.shutdown)
    if (fault.reset) {
      req.socket.destroy()
      return
    }
  }
  const answer = new Answer(context, req, res, record, fault)

  if (route.hop === 'page') {
    // github.com, not the API: a public page, no token, no rate limit.
    if (fault?.status !== undefined) return answer.message(fault.status, faultMessage(fault))
    return downloadsPage(context, route.repo, answer)
  }
  if (route.hop === 'download') {
    // github.com, not the API: no token, no rate limit.
    if (fault?.status !== undefined) return answer.message(fault.status, faultMessage(fault))
    return redirectToObject(context, method, route.repo, route.name, answer)
  }

  const rate = context.limiter.consume(authorized ? `token:${token}` : 'anonymous')
  if (fault?.status !== undefined) return answerFault(fault, rate, answer)
  let api = answer.withHeaders(rateLimitHeaders(rate))
  // A create body left unread: the connection closes after the answer instead of reading it.
  if (route.hop === 'create' && !authorized) api = api.withHeaders({ Connection: 'close' })
  if (token === undefined) return api.message(401, 'Requires authentication')
  if (!authorized) return api.message(401, 'Bad credentials')
  if (rate.exceeded) {
    // Primary limit: 403 with x-ratelimit-remaining: 0 until x-ratelimit-reset.
    return api.message(403, 'API rate limit exceeded for user ID 1.')
  }
  if (route.hop === 'other') return api.message(404, 'Not Found')
  const repo = context.store.resolveRepo(route.repo)
  if (repo === undefined) return api.message(404, 'Not Found')

  switch (route.hop) {
    case 'list':
      return list(context, repo, url, api)
    case 'create':
      return create(context, repo, body, api, fault)
    case 'get': {
      const found = findById(context, repo, route.id)
      if (!found) return api.message(404, 'Not Found')
      await context.external?.checkUploaded([found])
      return api.json(200, listItem(context, found))
    }
    case 'delete': {
      const found = findById(context, repo, route.id)
      if (!found) return api.message(404, 'Not Found')
      // The download goes at once (a second delete of it meets a 404), then its object on an
      // external store: should that fail, the answer is a 500, and the next create of the
      // name clears the key anyway.
      await context.store.remove(found)
      await context.external?.removeObject(found)
      if (!(await api.commit('delete', found.name))) return
      return api.send(204, {})
    }
  }
}

function faultMessage(fault: ActiveFault): string {
  if (fault.message !== undefined) return fault.message
  if (fault.rateLimit === 'primary') return 'API rate limit exceeded for user ID 1.'
  if (fault.rateLimit === 'secondary') {
    return 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.'
  }
  return defaultMessage(fault.status ?? 500)
}

function answerFault(fault: ActiveFault, rate: RateState, answer: Answer): void {
  const status = fault.status ?? 500
  if (fault.rateLimit === 'primary') {
    const exhausted: RateState = {
      ...rate,
      remaining: 0,
      used: rate.limit,
      reset: Math.floor(Date.now() / 1000) + fault.resetInSeconds
    }
    return answer.withHeaders(rateLimitHeaders(exhausted)).message(status, faultMessage(fault))
  }
  const headers = rateLimitHeaders(rate)
  if (fault.rateLimit === 'secondary' && fault.retryAfterSeconds !== null) {
    headers['Retry-After'] = String(fault.retryAfterSeconds)
  }
  return answer.withHeaders(headers).message(status, faultMessage(fault))
}

function peekName(body: Buffer | undefined): string | undefined {
  if (!body) return undefined
  try {
    const value: unknown = JSON.parse(body.toString('utf8'))
    if (value !== null && typeof value === 'object' && 'name' in value) {
      return typeof value.name === 'string' ? value.name : undefined
    }
  } catch {
    // The handler answers "Problems parsing JSON" for it.
  }
  return undefined
}

function findById(context: EmulatorContext, repo: string, id: string): DownloadRecord | undefined {
  return /^[1-9]\d{0,15}$/.test(id) ? context.store.get(repo, Number(id)) : undefined
}

function repoPath(repo: string): string {
  return repo.split('/').map(encodeURIComponent).join('/')
}

function downloadUrl(context: EmulatorContext, record: DownloadRecord): string {
  return `${context.apiUrl}/repos/${repoPath(record.repo)}/downloads/${record.id}`
}

function htmlUrl(context: EmulatorContext, record: DownloadRecord): string {
  return `${context.apiUrl}/downloads/${repoPath(record.repo)}/${encodeURIComponent(record.name)}`
}

/** The list/get shape, with `created_at` as recorded in 2013 (docs/protocol.md, "The Downloads API"). */
function listItem(context: EmulatorContext, record: DownloadRecord): Record<string, unknown> {
  return {
    url: downloadUrl(context, record),
    id: record.id,
    html_url: htmlUrl(context, record),
    name: record.name,
    description: record.description,
    created_at: record.createdAt,
    size: record.size,
    download_count: record.downloadCount,
    content_type: record.contentType
  }
}

function positiveInt(raw: string | null): number | undefined {
  if (raw === null || !/^\d+$/.test(raw.trim())) return undefined
  const n = Number(raw.trim())
  return n >= 1 ? n : undefined
}

/** Paging as the REST API does it: `per_page` (default 30, max 100), `page` from 1, `Link`. */
async function list(context: EmulatorContext, repo: string, url: URL, api: Answer): Promise<void> {
  const all = context.store.list(repo)
  const perPage = Math.min(positiveInt(url.searchParams.get('per_page')) ?? 30, 100)
  const page = positiveInt(url.searchParams.get('page')) ?? 1
  const last = Math.max(1, Math.ceil(all.length / perPage))
  const items = all.slice((page - 1) * perPage, page * perPage)
  // An external store says which of them hold their bytes (their `size`).
  await context.external?.checkUploaded(items)
  const link = (target: number, rel: string): string => {
    const params = new URLSearchParams(url.searchParams)
    params.set('page', String(target))
    return `<${context.apiUrl}${url.pathname}?${params.toString()}>; rel="${rel}"`
  }
  const links: string[] = []
  // GitHub's order: prev, next, last, first; no prev/first on page 1, no next/last on the last.
  if (page > 1) links.push(link(Math.min(page - 1, last), 'prev'))
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'))
  if (page > 1) links.push(link(1, 'first'))
  const headers: Record<string, string> = links.length > 0 ? { Link: links.join(', ') } : {}
  api.json(
    200,
    items.map((record) => listItem(context, record)),
    headers
  )
}

type FieldError = { resource: 'Download'; field: string; code: 'missing_field' | 'invalid' }

/**
 * Whether a string is well-formed Unicode: no lone surrogate. JSON may carry one
 * (`"\ud800"`), but it cannot be UTF-8, a URL or a file name.
 */
export function isWellFormed(value: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)
}

/** Whether the API accepts `name` for a download (`emulator.seed` checks the same). */
export function validName(name: string): boolean {
  return (
    name !== '' &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    isWellFormed(name) &&
    // Control characters cannot appear in an S3 form field or a file name.
    ![...name].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) &&
    Buffer.byteLength(name) <= MAX_NAME_BYTES
  )
}

async function create(
  context: EmulatorContext,
  repo: string,
  body: Buffer | undefined,
  api: Answer,
  fault: ActiveFault | undefined
): Promise<void> {
  if (body === undefined) return api.message(413, 'Payload too large')
  let input: unknown
  try {
    // An empty body is an empty object, as GitHub read it.
    input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'))
  } catch {
    return api.message(400, 'Problems parsing JSON')
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return api.message(400, 'Body should be a JSON object')
  }
  const fields = input as Record<string, unknown>
  const errors: FieldError[] = []
  const problem = (field: string, code: FieldError['code']): void => {
    errors.push({ resource: 'Download', field, code })
  }
  const { name, size, description, content_type: contentType } = fields
  if (name === undefined || name === null) problem('name', 'missing_field')
  else if (typeof name !== 'string' || !validName(name)) problem('name', 'invalid')
  if (size === undefined || size === null) problem('size', 'missing_field')
  else if (
    typeof size !== 'number' ||
    !Number.isSafeInteger(size) ||
    size < 0 ||
    // JSON.parse reads `-0` as negative zero: not a size.
    Object.is(size, -0)
  ) {
    problem('size', 'invalid')
  }
  if (
    description !== undefined &&
    description !== null &&
    (typeof description !== 'string' ||
      !isWellFormed(description) ||
      Buffer.byteLength(description) > MAX_DESCRIPTION_BYTES)
  ) {
    problem('description', 'invalid')
  }
  if (
    contentType !== undefined &&
    contentType !== null &&
    (typeof contentType !== 'string' || !isWellFormed(contentType))
  ) {
    problem('content_type', 'invalid')
  }
  if (errors.length > 0 || typeof name !== 'string' || typeof size !== 'number') {
    return api.json(422, { message: 'Validation Failed', errors })
  }
  if (context.store.findByName(repo, name)) {
    return api.json(422, {
      message: 'Validation Failed',
      errors: [{ resource: 'Download', field: 'name', code: 'already_exists' }]
    })
  }
  const givenType = typeof contentType === 'string' ? contentType : undefined
  const mimeType = decideMimeType(name, givenType)
  const record = context.store.create(repo, {
    name,
    description: typeof description === 'string' ? description : '',
    contentType: givenType ?? mimeType,
    mimeType,
    declaredSize: size
  })
  // Atomic: everything that can still fail runs before the create counts as done, and a
  // failure takes the download back out, so a failed create never leaves one behind.
  let payload: string
  let location: string
  try {
    // The policy is signed now, with the lifetime in force when the request came.
    payload = JSON.stringify(createResponse(context, record, fault?.badSignature === true))
    location = downloadUrl(context, record)
    validateHeaderValue('Location', location)
    // A new download starts without bytes: whatever an external store still holds at its key
    // (a late upload for a deleted download of that name) goes.
    await context.external?.removeObject(record)
  } catch (err) {
    await context.store.remove(record)
    throw err
  }
  if (!(await api.commit('create', record.name))) return
  api.send(201, { 'Content-Type': 'application/json; charset=utf-8', Location: location }, payload)
}

/** The create response: field order and names as recorded in 2013 (docs/protocol.md). */
function createResponse(
  context: EmulatorContext,
  record: DownloadRecord,
  badSignature: boolean
): Record<string, unknown> {
  const expiration = new Date(Date.now() + context.policyTtlSeconds * 1000)
  const input = {
    expiration,
    bucket: context.bucket,
    key: record.key,
    acl: context.acl,
    successActionStatus: '201'
  }
  // An external store gets strict JSON (RGW refuses GitHub's single-quoted form) and a length
  // range: the only way its answer can tie an object to the declared size.
  const policy = context.external
    ? issuePolicy({ ...input, contentLength: record.declaredSize }, 'json')
    : issuePolicy(input)
  return {
    ...listItem(context, record),
    policy,
    // The badSignature fault: a secret the store does not know.
    signature: signPolicy(badSignature ? `${context.secret}-wrong` : context.secret, policy),
    bucket: context.bucket,
    accesskeyid: context.accessKeyId,
    path: record.key,
    acl: context.acl,
    expirationdate: formatExpiration(expiration),
    prefix: `downloads/${record.repo}`,
    mime_type: record.mimeType,
    redirect: false,
    'x-amz-meta-content-disposition': `attachment; filename=${record.name}`,
    s3_url: context.s3Url
  }
}

/** The Downloads page of a repository: its uploaded downloads, newest first. */
async function downloadsPage(
  context: EmulatorContext,
  repoName: string,
  answer: Answer
): Promise<void> {
  const repo = context.store.resolveRepo(repoName)
  if (repo === undefined) {
    return answer.send(404, PAGE_HEADERS, renderNotFoundPage(repoName))
  }
  const all = context.store.list(repo)
  // An external store says which of them hold their bytes.
  await context.external?.checkUploaded(all)
  const items = all.map((record) => ({ ...record, htmlUrl: htmlUrl(context, record) }))
  answer.send(200, PAGE_HEADERS, renderDownloadsPage(repo, items))
}

async function redirectToObject(
  context: EmulatorContext,
  method: string,
  repoName: string,
  name: string,
  answer: Answer
): Promise<void> {
  const repo = context.store.resolveRepo(repoName)
  const record = repo === undefined ? undefined : context.store.findByName(repo, name)
  if (!record) return answer.message(404, 'Not Found')
  // A HEAD looks, it does not download; and a download without bytes has nothing to count.
  if (method === 'GET') {
    if (!record.uploaded) await context.external?.checkUploaded([record])
    if (record.uploaded) context.store.countDownload(record)
  }
  // On an external store, a URL presigned for this method: the object stays private (GitHub's
  // 2013 acl), and the store tells a missing object (404) from a hidden one (403) only to a
  // reader allowed to list the bucket, which a presigned owner's URL is.
  const location = context.external
    ? context.external.redirectUrl(method === 'HEAD' ? 'HEAD' : 'GET', record)
    : objectUrl(context, record.key)
  answer.send(302, { Location: location, 'Content-Length': '0' })
}
