/**
 * Fault injection: scripted rules consumed in order, and seeded random transient faults.
 *
 * The servers ask {@link FaultController.take} once per request, at the point where the
 * download name is known (after the JSON body for create, after the fields before the file for
 * the S3 POST). A matching rule wins; otherwise, in random mode, the request draws.
 */
import { codeForStatus, statusForCode } from './s3-errors.js'
import type { FaultInjector, FaultRule, Hop, RandomFaults } from './types.js'

/** A fault chosen for one request, with every default filled in. */
export interface ActiveFault {
  /** `hop:kind`, e.g. `create:503`, `s3:SlowDown`, `delete:resetAfterCommit`. */
  label: string
  status?: number
  s3Code?: string
  message?: string
  reset: boolean
  resetAfterCommit: boolean
  rateLimit?: 'primary' | 'secondary'
  resetInSeconds: number
  retryAfterSeconds: number | null
  delayMs: number
  /** Wait this long between doing the work and answering; 0: answer at once. */
  holdAfterCommitMs: number
  /** create: sign the policy with a wrong secret. */
  badSignature: boolean
}

/** What the server knows about the request when it asks. */
export interface FaultContext {
  origin: 'api' | 's3'
  method: string
  path: string
  name?: string
}

const DEFAULT_RANDOM_HOPS: Hop[] = ['list', 'create', 'delete', 's3', 'download']
/** The hops that do work in the store, so an answer can be held after it. */
const COMMIT_HOPS: readonly Hop[] = ['create', 'delete', 's3']

/** mulberry32: a tiny, well-distributed 32-bit PRNG; the same seed gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The transient kinds a random hit picks from, suited to the hop and origin. */
function randomKinds(hop: Hop, origin: 'api' | 's3', retryAfter: number): FaultRule[] {
  if (origin === 's3') {
    const kinds: FaultRule[] = [
      { hop, s3Code: 'InternalError' },
      { hop, s3Code: 'SlowDown' },
      { hop, s3Code: 'ServiceUnavailable' }
    ]
    if (hop === 's3') kinds.push({ hop, s3Code: 'RequestTimeout' })
    kinds.push({ hop, reset: true })
    if (hop === 's3') kinds.push({ hop, resetAfterCommit: true })
    return kinds
  }
  const kinds: FaultRule[] = [
    { hop, status: 500 },
    { hop, status: 502 },
    { hop, status: 503 },
    { hop, reset: true }
  ]
  if (hop === 'create' || hop === 'delete') kinds.push({ hop, resetAfterCommit: true })
  // github.com's html_url redirect had no API rate limits.
  if (hop !== 'download') kinds.push({ hop, rateLimit: 'secondary', retryAfterSeconds: retryAfter })
  return kinds
}

function resolve(rule: FaultRule, origin: 'api' | 's3'): ActiveFault {
  const fault: ActiveFault = {
    label: '',
    reset: rule.reset === true,
    resetAfterCommit: rule.resetAfterCommit === true,
    resetInSeconds: rule.resetInSeconds ?? 2,
    retryAfterSeconds: rule.retryAfterSeconds === undefined ? 1 : rule.retryAfterSeconds,
    delayMs: rule.delayMs ?? 0,
    holdAfterCommitMs: rule.holdAfterCommitMs ?? 0,
    badSignature: rule.badSignature === true
  }
  if (rule.message !== undefined) fault.message = rule.message
  let kind: string
  if (fault.reset) kind = 'reset'
  else if (fault.resetAfterCommit) kind = 'resetAfterCommit'
  else if (rule.holdAfterCommitMs !== undefined) kind = 'holdAfterCommit'
  else if (fault.badSignature) kind = 'badSignature'
  else if (rule.rateLimit !== undefined && origin === 'api') {
    fault.rateLimit = rule.rateLimit
    fault.status = rule.status ?? 403
    kind = `${rule.rateLimit}-rate-limit`
  } else if (origin === 's3' && (rule.s3Code !== undefined || rule.status !== undefined)) {
    fault.s3Code = rule.s3Code ?? codeForStatus(rule.status ?? 500)
    fault.status = rule.status ?? statusForCode(fault.s3Code)
    kind = fault.s3Code
  } else if (rule.status !== undefined) {
    fault.status = rule.status
    kind = String(rule.status)
  } else {
    kind = fault.delayMs > 0 ? 'delay' : 'noop'
  }
  fault.label = `${rule.hop}:${kind}`
  return fault
}

/** Refuses rules the servers could not carry out, at once rather than as a 500 later. */
function checkRule(rule: FaultRule): void {
  if (
    rule.status !== undefined &&
    !(Number.isInteger(rule.status) && rule.status >= 200 && rule.status <= 599)
  ) {
    throw new RangeError(`fault status must be an integer within 200..599, got ${rule.status}`)
  }
  if (rule.badSignature) {
    if (rule.hop !== 'create') {
      throw new RangeError(`badSignature needs hop create, got ${rule.hop}`)
    }
    // These answer (or drop) instead of creating: there would be no policy to sign.
    if (rule.status !== undefined || rule.s3Code !== undefined || rule.rateLimit || rule.reset) {
      throw new RangeError('badSignature does not go with status, s3Code, rateLimit or reset')
    }
  }
  if (rule.holdAfterCommitMs !== undefined) {
    if (!COMMIT_HOPS.includes(rule.hop)) {
      throw new RangeError(`holdAfterCommitMs needs hop create, delete or s3, got ${rule.hop}`)
    }
    if (!Number.isFinite(rule.holdAfterCommitMs) || rule.holdAfterCommitMs < 0) {
      throw new RangeError(
        `holdAfterCommitMs must be a non-negative number, got ${rule.holdAfterCommitMs}`
      )
    }
    // These answer (or drop) before any work is done: nothing would be held.
    if (rule.status !== undefined || rule.s3Code !== undefined || rule.rateLimit || rule.reset) {
      throw new RangeError('holdAfterCommitMs does not go with status, s3Code, rateLimit or reset')
    }
  }
}

/** The {@link FaultInjector} the tests see, plus the servers' side of it. */
export class FaultController implements FaultInjector {
  /**
   * @param s3Hops false when the uploads and object GETs go to an external store: the
   *   emulator never sees them, so a rule for them could never hit, and is refused.
   */
  constructor(private readonly s3Hops = true) {}

  private rules: { rule: FaultRule; left: number }[] = []
  private randomConfig: RandomFaults | null = null
  private next: () => number = Math.random
  private counts: Record<string, number> = {}

  inject(rule: FaultRule): void {
    checkRule(rule)
    if (!this.s3Hops && (rule.hop === 's3' || rule.s3Code !== undefined)) {
      throw new Error(
        `a fault on ${rule.hop === 's3' ? 'the S3 upload' : 'an S3 object GET'} cannot hit: with externalS3 those requests go to the store, not to the emulator`
      )
    }
    this.rules.push({ rule, left: rule.times ?? 1 })
  }

  random(config: RandomFaults | null): void {
    if (config !== null && !(config.rate >= 0 && config.rate <= 1)) {
      throw new Error(`random fault rate must be within 0..1, got ${config.rate}`)
    }
    this.randomConfig = config
    if (config) this.next = mulberry32(config.seed)
  }

  clear(): void {
    this.rules = []
    this.randomConfig = null
    this.counts = {}
  }

  get injected(): Record<string, number> {
    return { ...this.counts }
  }

  get total(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0)
  }

  /** The fault for this request, if any; counts it. */
  take(hop: Hop, context: FaultContext): ActiveFault | undefined {
    const request = {
      method: context.method,
      path: context.path,
      ...(context.name !== undefined ? { name: context.name } : {})
    }
    const index = this.rules.findIndex(
      ({ rule }) =>
        rule.hop === hop &&
        // An S3 error code means the rule is for S3: on the 'download' hop it skips the
        // github.com redirect and hits the object GET.
        (rule.s3Code === undefined || context.origin === 's3') &&
        (rule.match === undefined || rule.match(request))
    )
    let fault: ActiveFault | undefined
    const entry = this.rules[index]
    if (entry) {
      entry.left--
      if (entry.left <= 0) this.rules.splice(index, 1)
      fault = resolve(entry.rule, context.origin)
    } else if (this.randomConfig) {
      const config = this.randomConfig
      if ((config.hops ?? DEFAULT_RANDOM_HOPS).includes(hop) && this.next() < config.rate) {
        const kinds = randomKinds(hop, context.origin, config.retryAfterSeconds ?? 1)
        const pick = kinds[Math.floor(this.next() * kinds.length)] ?? kinds[0]
        if (pick) fault = resolve(pick, context.origin)
      }
    }
    if (fault) this.counts[fault.label] = (this.counts[fault.label] ?? 0) + 1
    return fault
  }
}
