import {
  ApiError,
  CancelledError,
  isTransientStatus,
  NetworkError,
  ProtocolError
} from './errors.js'
import type { HttpClient, HttpRequest, HttpResponse } from './http.js'
import type { RateLimitGate } from './rate-limits.js'
import { withRetry, type RetryOptions } from './retry.js'

/** The repository an API client works on, and how it reaches and authenticates to the API. */
export interface Repository {
  apiUrl: string
  token: string
  owner: string
  repo: string
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the server, checked field by field where used
export type Json = any

/** `text` as JSON; an answer that is not JSON is not the API's (a proxy's page, a cut body). */
export function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text)
  } catch {
    throw new ProtocolError(`The server's answer with ${what} is not JSON: ${text.slice(0, 200)}`)
  }
}

/**
 * Whether the server may have acted on a request whose attempt failed this way: the
 * connection dropped after the request went out, a cancel cut it short, a gateway answered
 * 5xx in the server's place, or the answer is not the API's.
 */
export function mayHaveActed(error: unknown): boolean {
  return (
    error instanceof NetworkError ||
    error instanceof CancelledError ||
    error instanceof ProtocolError ||
    // A 5xx may come from a gateway after the server acted; a 429 or 408 is a refusal.
    (error instanceof ApiError && error.status >= 500)
  )
}

/**
 * GitHub's REST API as one repository's client sees it: the headers, the rate-limit gate,
 * retries, and each failure turned into a typed error whose message says what to do. The
 * token goes to the API origin and nowhere else: redirects are not followed (see
 * `createHttpClient`), and callers check the URLs the API hands them with {@link isApiOrigin}.
 */
export class RestClient {
  readonly origin: string

  /**
   * `signal`: a cancelled run stops this client's requests, retries and rate-limit waits
   * (the forward work's client; the undo's has none).
   */
  constructor(
    private readonly http: HttpClient,
    readonly repository: Repository,
    private readonly retry: RetryOptions,
    private readonly gate: RateLimitGate,
    private readonly signal?: AbortSignal
  ) {
    this.origin = new URL(repository.apiUrl).origin
  }

  /** `owner/repo`, for messages. */
  get slug(): string {
    return `${this.repository.owner}/${this.repository.repo}`
  }

  /** The URL of `path` under the repository (`/repos/:owner/:repo/…`), segments encoded. */
  repoUrl(path: string): string {
    const { apiUrl, owner, repo } = this.repository
    return `${apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/${path}`
  }

  /** Whether `url` is on the API's origin, the only one the token may be sent to. */
  isApiOrigin(url: string): boolean {
    return new URL(url).origin === this.origin
  }

  /** One request, retried while its failures are transient. */
  call<T>(
    what: string,
    request: HttpRequest,
    read: (res: HttpResponse) => Promise<T>,
    okStatuses: number[] = []
  ): Promise<T> {
    return this.retrying(what, () => this.once(request, read, okStatuses))
  }

  /**
   * `attempt` retried while its failures are transient, with this client's budget and
   * cancellation: for callers that must see each attempt's failure (see {@link mayHaveActed}).
   */
  retrying<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    return withRetry(what, { ...this.retry, signal: this.signal }, attempt)
  }

  /**
   * One attempt: waits out any rate limit, sends, and turns a failure into a typed error.
   * `read` gets the 2xx answers, and those in `okStatuses`.
   */
  async once<T>(
    request: HttpRequest,
    read: (res: HttpResponse) => Promise<T>,
    okStatuses: number[] = []
  ): Promise<T> {
    await this.gate.ready(this.signal)
    const res = await this.http.request({
      ...request,
      signal: this.signal,
      headers: {
        // The caller's first: the token and the media type are always this client's.
        ...request.headers,
        accept: 'application/vnd.github+json',
        authorization: `token ${this.repository.token}`,
        'user-agent': 'upload-downloads-action',
        ...(request.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {})
      }
    })
    this.gate.observe(res.headers)
    if ((res.status >= 200 && res.status < 300) || okStatuses.includes(res.status)) {
      return read(res)
    }
    throw await this.failure(request, res)
  }

  private async failure(request: HttpRequest, res: HttpResponse): Promise<ApiError> {
    const text = await res.text().catch(() => '')
    const body = safeJson(text)
    const message = typeof body?.message === 'string' ? body.message : `HTTP ${res.status}`
    const limited = this.gate.check(res.status, res.headers, message)
    if (limited) return limited
    const codes = Array.isArray(body?.errors)
      ? body.errors.map((e: { code?: unknown }) => String(e?.code))
      : []
    const what = `${request.method} ${new URL(request.url).pathname}`
    switch (res.status) {
      case 401:
        return new ApiError(
          `The token was refused (${message}): check the 'token' input; it must be able to write ${this.slug}.`,
          401
        )
      case 403:
        return new ApiError(
          `Forbidden (${message}): the token may read but not write ${this.slug}'s downloads; give it the repo scope or contents: write.`,
          403
        )
      case 404:
        return new ApiError(
          `Not found (${message}) at ${what}: check 'repository' (${this.slug}), 'api-url' (${this.repository.apiUrl}) and that the token can see the repository, and that the server serves the Downloads API.`,
          404
        )
      case 422:
        return new ApiError(
          `The server refused the request (${message}${codes.length ? `: ${describeErrors(body?.errors)}` : ''}).`,
          422,
          { codes }
        )
      default:
        return new ApiError(`${what} answered ${res.status} (${message})`, res.status, {
          transient: isTransientStatus(res.status)
        })
    }
  }
}

function safeJson(text: string): Json {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** GitHub's validation errors (`{ field, code, message }`), for a message. */
function describeErrors(errors: Json): string {
  return (errors as Json[])
    .map((e) => [e?.field, e?.code, e?.message].filter(Boolean).join(' '))
    .join('; ')
}
