/**
 * Moments the action's end-to-end tests wait for: an upload that got so far, a request that
 * did its work in the store. The servers report progress and commits here; tests await
 * {@link Waiters.whenUploadReceived} and {@link Waiters.whenCommitted}.
 *
 * Both look at what already happened too, so a test that asks late does not miss the moment.
 */
import type { CommitHop, RequestRecord } from './types.js'

/** How long a wait lasts unless the caller says otherwise. */
export const DEFAULT_WAIT_MS = 30_000

const COMMIT_HOPS: readonly string[] = ['create', 'delete', 's3']

interface Pending {
  /** Resolves the wait if its moment came. */
  settle(): void
  reject(error: Error): void
}

function checkTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`timeoutMs must be a non-negative number, got ${timeoutMs}`)
  }
}

export class Waiters {
  /** Download name → the most file bytes one S3 POST for it has received. */
  private readonly received = new Map<string, number>()
  /** Committed requests in commit order, with the name of the download they changed. */
  private readonly commits: { record: RequestRecord; hop: CommitHop; name: string }[] = []
  private readonly pending = new Set<Pending>()
  private closed = false

  /**
   * @param retain false: keep nothing of what happened (a long-running server's memory stays
   * flat), so a wait sees only what happens after it is asked
   */
  constructor(private readonly retain = true) {}

  /** An S3 POST for `name` has received `bytes` bytes of its file part so far. */
  uploadProgress(name: string, bytes: number): void {
    if (bytes <= (this.received.get(name) ?? -1)) return
    this.received.set(name, bytes)
    this.settle()
    if (!this.retain) this.received.delete(name)
  }

  /** `record` did its work in the store for the download `name`. */
  committed(record: RequestRecord, hop: CommitHop, name: string): void {
    record.committed = true
    this.commits.push({ record, hop, name })
    this.settle()
    if (!this.retain) this.commits.length = 0
  }

  async whenUploadReceived(
    name: string,
    bytes: number,
    timeoutMs = DEFAULT_WAIT_MS
  ): Promise<void> {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new RangeError(`bytes must be a non-negative number, got ${bytes}`)
    }
    checkTimeout(timeoutMs)
    return this.wait(
      () => ((this.received.get(name) ?? -1) >= bytes ? { value: undefined } : undefined),
      timeoutMs,
      () => {
        const most = this.received.get(name)
        const sofar = most === undefined ? 'no upload of it started' : `the most was ${most}`
        return `no S3 POST for "${name}" received ${bytes} bytes of its file within ${timeoutMs} ms (${sofar})`
      }
    )
  }

  async whenCommitted(
    hop: CommitHop,
    name?: string,
    timeoutMs = DEFAULT_WAIT_MS
  ): Promise<RequestRecord> {
    if (!COMMIT_HOPS.includes(hop)) {
      throw new TypeError(`hop must be create, delete or s3, got ${String(hop)}`)
    }
    checkTimeout(timeoutMs)
    return this.wait(
      () => {
        const found = this.commits.find(
          (commit) => commit.hop === hop && (name === undefined || commit.name === name)
        )
        return found ? { value: found.record } : undefined
      },
      timeoutMs,
      () =>
        `no ${hop} request${name === undefined ? '' : ` for "${name}"`} committed within ${timeoutMs} ms`
    )
  }

  /** Rejects every wait still pending: nothing will happen any more. */
  close(): void {
    this.closed = true
    for (const wait of [...this.pending]) wait.reject(new Error('the emulator closed'))
  }

  private settle(): void {
    for (const wait of [...this.pending]) wait.settle()
  }

  private wait<T>(
    probe: () => { value: T } | undefined,
    timeoutMs: number,
    timeoutMessage: () => string
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const now = probe()
      if (now) return resolve(now.value)
      if (this.closed) return reject(new Error('the emulator closed'))
      const wait: Pending = {
        settle: () => {
          const found = probe()
          if (!found) return
          done()
          resolve(found.value)
        },
        reject: (error) => {
          done()
          reject(error)
        }
      }
      const timer = setTimeout(() => wait.reject(new Error(timeoutMessage())), timeoutMs)
      const done = (): void => {
        clearTimeout(timer)
        this.pending.delete(wait)
      }
      this.pending.add(wait)
    })
  }
}
