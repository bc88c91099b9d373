import * as core from '@actions/core'
import { ActionError, ApiError, ConflictError, describe, ProtocolError } from './errors.js'
import type { HttpClient } from './http.js'
import type { RateLimitGate } from './rate-limits.js'
import { mayHaveActed, parseJson, RestClient, type Json, type Repository } from './rest.js'
import type { RetryOptions } from './retry.js'

export type { Repository } from './rest.js'

/** A download as the repository lists it. */
export interface Download {
  id: number
  name: string
  description: string
  /** As the server reports it; GitHub answered 0 until the bytes reached S3. */
  size: number
  contentType: string
  url: string
  htmlUrl: string
  /** ISO 8601, as the server lists it; '' when it does not say. */
  createdAt: string
}

/** What a create hands back: the download, and the signed form that lets S3 take its bytes. */
export interface UploadTicket {
  download: Download
  s3Url: string
  key: string
  acl: string
  accessKeyId: string
  policy: string
  signature: string
  /** The server's choice of MIME type; S3's form must carry exactly this value. */
  mimeType: string
}

export interface NewDownload {
  name: string
  size: number
  description: string
  contentType: string
}

/**
 * A create whose outcome is unknown: an attempt's answer was lost, so the server may hold a
 * record without bytes that this run made. `exists`: a retry met `already_exists`, so it
 * certainly holds one.
 */
export class LostCreateError extends ActionError {
  constructor(
    message: string,
    readonly exists: boolean,
    cause: unknown
  ) {
    super(message, { cause })
  }
}

/** GitHub's maximum page size for list endpoints. */
const PAGE_SIZE = 100
/** A million downloads: no repository had that many, so a longer chain of pages is a loop. */
const MAX_PAGES = 10_000

/**
 * The Downloads API of one repository (list, create, delete), on the REST core that retries
 * transient faults, honours GitHub's rate limits and keeps the token on the API's origin.
 */
export class DownloadsApi {
  private readonly rest: RestClient
  private readonly base: string
  /** The server's clock when it last answered a listing (its `Date` header), in ms. */
  serverDate: number | undefined

  /**
   * `signal`: a cancelled run stops this client's requests, retries and rate-limit waits
   * (the forward work's client; the undo's has none).
   */
  constructor(
    http: HttpClient,
    repository: Repository,
    retry: RetryOptions,
    gate: RateLimitGate,
    signal?: AbortSignal
  ) {
    this.rest = new RestClient(http, repository, retry, gate, signal)
    this.base = this.rest.repoUrl('downloads')
  }

  get slug(): string {
    return this.rest.slug
  }

  /** Every existing download, following `Link: rel="next"` through all pages. */
  async list(): Promise<Download[]> {
    const downloads: Download[] = []
    for await (const page of this.pages()) downloads.push(...page)
    return downloads
  }

  /**
   * The existing downloads a page at a time, for a caller that needs only something from each
   * (thousands of downloads held at once cost megabytes).
   */
  async *pages(): AsyncGenerator<Download[]> {
    let url: string | undefined = `${this.base}?per_page=${PAGE_SIZE}`
    const seen = new Set<string>([url])
    while (url !== undefined) {
      const page: string = url
      const { items, next } = await this.rest.call(
        `Listing the downloads of ${this.slug}`,
        { method: 'GET', url: page },
        async (res) => {
          const body = parseJson(await res.text(), 'the list of downloads')
          if (!Array.isArray(body)) {
            throw new ProtocolError('The list of downloads is not a JSON array.')
          }
          const date = Date.parse(res.headers['date'] ?? '')
          if (!Number.isNaN(date)) this.serverDate = date
          return { items: body.map(toDownload), next: nextLink(res.headers['link']) }
        }
      )
      if (next !== undefined && !this.rest.isApiOrigin(next)) {
        throw new ProtocolError(
          `The API sent the next page to another origin (${new URL(next).origin}); refusing to send the token there.`
        )
      }
      // A `next` that was seen already, or more pages than any repository has, is a loop
      // that would spend the whole rate limit.
      if (next !== undefined && (seen.has(next) || seen.size >= MAX_PAGES)) {
        throw new ProtocolError(
          `The API's pages do not end (page ${seen.size + 1} links back to ${next}); stopped listing.`
        )
      }
      yield items
      if (next !== undefined) seen.add(next)
      url = next
    }
  }

  /**
   * Creates the download resource. When an attempt's answer may have been lost (the
   * connection dropped after the server acted, or a gateway's 5xx), the server may hold a
   * record this call made: a later failure, `already_exists` included, then comes back as a
   * {@link LostCreateError} so that the caller can find that record and clear it.
   */
  async create(spec: NewDownload): Promise<UploadTicket> {
    let answerLost = false
    try {
      return await this.rest.retrying(`Creating download ${spec.name}`, async () => {
        try {
          return await this.rest.once(
            {
              method: 'POST',
              url: this.base,
              body: JSON.stringify({
                name: spec.name,
                size: spec.size,
                description: spec.description,
                content_type: spec.contentType
              })
            },
            async (res) => toTicket(parseJson(await res.text(), 'the created download'))
          )
        } catch (error) {
          if (mayHaveActed(error)) answerLost = true
          throw error
        }
      })
    } catch (error) {
      if (!answerLost) throw error
      const exists = error instanceof ApiError && error.codes.includes('already_exists')
      throw new LostCreateError(
        exists
          ? `The answer to creating ${spec.name} was lost, and the server made it.`
          : `Creating ${spec.name} failed after an answer was lost, so the server may hold a record of it: ${describe(error)}`,
        exists,
        error
      )
    }
  }

  /**
   * Deletes a download. With `mustExist` (the download this run is replacing), a 404 on the
   * first try means somebody else deleted it meanwhile, which the caller must hear of; after
   * a try whose answer was lost it means that try did the work.
   */
  async delete(id: number, { mustExist = false } = {}): Promise<void> {
    let answerLost = false
    await this.rest.retrying(`Deleting download ${id}`, async () => {
      try {
        await this.rest.once(
          { method: 'DELETE', url: `${this.base}/${id}` },
          async (res) => {
            if (res.status === 404 && mustExist && !answerLost) {
              throw new ConflictError(
                `download ${id} was deleted by somebody else while this run was replacing it`
              )
            }
            await res.dump()
          },
          [404]
        )
      } catch (error) {
        if (mayHaveActed(error)) answerLost = true
        throw error
      }
    })
  }

  /**
   * Whether download `id` exists, asked of it alone. A listing read page by page can miss a
   * download that is there: when another writer deletes one listed before it while the pages
   * are read, it moves up onto a page already read.
   */
  async exists(id: number): Promise<boolean> {
    return this.rest.call(
      `Looking up download ${id}`,
      { method: 'GET', url: `${this.base}/${id}` },
      async (res) => {
        await res.dump()
        return res.status !== 404
      },
      [404]
    )
  }

  /** The downloads named `name` (at most one, unless another writer raced this run). */
  async findByName(name: string): Promise<Download[]> {
    return (await this.list()).filter((d) => d.name === name)
  }
}

function toDownload(raw: Json): Download {
  if (typeof raw?.id !== 'number' || typeof raw?.name !== 'string') {
    throw new ProtocolError(
      `A download in the server's answer has no id or name: ${JSON.stringify(raw).slice(0, 200)}`
    )
  }
  return {
    id: raw.id,
    name: raw.name,
    description: String(raw.description ?? ''),
    size: Number(raw.size ?? 0),
    contentType: String(raw.content_type ?? ''),
    url: String(raw.url ?? ''),
    htmlUrl: String(raw.html_url ?? ''),
    createdAt: String(raw.created_at ?? '')
  }
}

function toTicket(raw: Json): UploadTicket {
  const required = [
    'policy',
    'signature',
    'accesskeyid',
    'path',
    'acl',
    'mime_type',
    's3_url'
  ] as const
  const missing = required.filter((field) => typeof raw?.[field] !== 'string')
  if (missing.length > 0) {
    throw new ProtocolError(
      `The created download lacks ${missing.join(', ')}: the server does not look like the Downloads API.`
    )
  }
  // Masked before anything could print them: together they let anyone write that S3 key.
  for (const secret of [raw.policy, raw.signature, raw.accesskeyid]) core.setSecret(secret)
  return {
    download: toDownload(raw),
    s3Url: raw.s3_url,
    key: raw.path,
    acl: raw.acl,
    accessKeyId: raw.accesskeyid,
    policy: raw.policy,
    signature: raw.signature,
    mimeType: raw.mime_type
  }
}

/** The `rel="next"` target of a `Link` header (RFC 8288), as GitHub pages its lists. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined
  for (const part of header.split(',')) {
    const match = /<([^>]+)>\s*;(.*)/.exec(part.trim())
    if (match && /\brel="?([^"]*\s)?next(\s[^"]*)?"?/.test(match[2])) return match[1]
  }
  return undefined
}
