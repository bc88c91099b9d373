/**
 * S3 POST policies (signature version 2): issue the document GitHub issued, sign it, parse what a
 * client sends back and evaluate it against the form, with S3's messages.
 *
 * References: docs/protocol.md, "The policy GitHub issued" and "S3 POST Object (signature
 * version 2)"; AWS "Browser-Based Uploads Using POST (AWS Signature Version 2)".
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** A value of the policy document, once parsed. */
export type PolicyValue =
  string | number | boolean | null | PolicyValue[] | { [key: string]: PolicyValue }

/** One condition, normalised. `text` is how S3 quotes it in a failure message. */
export type PolicyCondition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number; text: string }

export interface PolicyDocument {
  expiration: Date
  conditions: PolicyCondition[]
}

/**
 * How deep arrays and objects may nest in a policy. GitHub's nests two deep; a signed policy
 * nested thousands deep would otherwise overflow the stack (a 500) instead of being refused.
 */
const MAX_POLICY_DEPTH = 32

/** The policy document is unusable: S3's `400 InvalidPolicyDocument`. */
export class InvalidPolicyError extends Error {}

/** What GitHub put in a policy for one download. */
export interface IssueInput {
  expiration: Date
  bucket: string
  key: string
  acl: string
  successActionStatus: string
  /**
   * Adds `["content-length-range", n, n]`: the file must be exactly n bytes. GitHub's policy
   * had none; the policies for an external store carry it.
   */
  contentLength?: number
}

/** The ISO form GitHub used for `expiration` and `expirationdate`: whole seconds, `.000Z`. */
export function formatExpiration(date: Date): string {
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString()
}

/**
 * The conditions, in GitHub's order: one for every form field the upload sends besides
 * `AWSAccessKeyId`, `Policy` and `Signature` (key, acl, success_action_status, Filename,
 * Content-Type), as S3 requires; then the length range, if asked for.
 */
function policyConditions(input: IssueInput): PolicyValue[] {
  const conditions: PolicyValue[] = [
    { bucket: input.bucket },
    { key: input.key },
    { acl: input.acl },
    { success_action_status: input.successActionStatus },
    ['starts-with', '$Filename', ''],
    ['starts-with', '$Content-Type', '']
  ]
  if (input.contentLength !== undefined) {
    conditions.push(['content-length-range', input.contentLength, input.contentLength])
  }
  return conditions
}

function singleQuoted(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** One condition in GitHub's single-quoted notation: `{'key': 'v'}`, `['starts-with', '$f', '']`. */
function singleQuotedCondition(condition: PolicyValue): string {
  const item = (value: PolicyValue): string =>
    typeof value === 'string' ? singleQuoted(value) : String(value)
  if (Array.isArray(condition)) return `[${condition.map(item).join(', ')}]`
  const entries = Object.entries(condition as Record<string, PolicyValue>)
  return `{${entries.map(([field, value]) => `${singleQuoted(field)}: ${item(value)}`).join(', ')}}`
}

/**
 * The policy text GitHub issued, byte for byte: a single-quoted pseudo-JSON document with four
 * spaces of indentation and no trailing newline (the policy recorded in 2013 decodes to exactly
 * this: docs/protocol.md, "The policy GitHub issued"). S3 accepted it although it is not JSON.
 */
export function policyText(input: IssueInput): string {
  return [
    '{',
    `    'expiration': ${singleQuoted(formatExpiration(input.expiration))},`,
    `    'conditions': [`,
    policyConditions(input)
      .map((condition) => `        ${singleQuotedCondition(condition)}`)
      .join(',\n'),
    '    ]',
    '}'
  ].join('\n')
}

/**
 * The same policy as strict JSON. Stores other than 2013's S3 parse the document as JSON
 * (Ceph's RADOS Gateway answers `400 InvalidArgument: Malformed JSON` to the single-quoted
 * form), so the policies for an external store are written this way.
 */
export function policyJson(input: IssueInput): string {
  return JSON.stringify({
    expiration: formatExpiration(input.expiration),
    conditions: policyConditions(input)
  })
}

/**
 * The `policy` field of a create response: Base64 of {@link policyText} (GitHub's form), or
 * of {@link policyJson} for `json`.
 */
export function issuePolicy(input: IssueInput, format: 'github' | 'json' = 'github'): string {
  const text = format === 'json' ? policyJson(input) : policyText(input)
  return Buffer.from(text, 'utf8').toString('base64')
}

/** `Signature = Base64(HMAC-SHA1(secret, policy-field-as-sent))` (signature version 2). */
export function signPolicy(secret: string, policyField: string): string {
  return createHmac('sha1', secret).update(policyField, 'utf8').digest('base64')
}

/** Whether `signature` is the signature of `policyField` under `secret`. */
export function verifySignature(secret: string, policyField: string, signature: string): boolean {
  const expected = Buffer.from(signPolicy(secret, policyField))
  const given = Buffer.from(signature)
  return expected.length === given.length && timingSafeEqual(expected, given)
}

/**
 * Parses JSON and the single-quoted variant GitHub issued: strings may use either quote, with
 * backslash escapes. Everything else is as strict as JSON (no trailing commas, no comments).
 */
export function parsePolicyValue(text: string): PolicyValue {
  let pos = 0
  const fail = (): never => {
    throw new InvalidPolicyError('Invalid Policy: Invalid JSON.')
  }
  const skipSpace = (): void => {
    while (pos < text.length && /\s/.test(text[pos] ?? '')) pos++
  }
  const parseString = (): string => {
    const quote = text[pos]
    pos++
    let out = ''
    for (;;) {
      const ch = text[pos]
      if (ch === undefined) return fail()
      pos++
      if (ch === quote) return out
      if (ch !== '\\') {
        out += ch
        continue
      }
      const esc = text[pos]
      pos++
      switch (esc) {
        case 'n':
          out += '\n'
          break
        case 't':
          out += '\t'
          break
        case 'r':
          out += '\r'
          break
        case 'b':
          out += '\b'
          break
        case 'f':
          out += '\f'
          break
        case 'u': {
          const hex = text.slice(pos, pos + 4)
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return fail()
          out += String.fromCharCode(parseInt(hex, 16))
          pos += 4
          break
        }
        case '\\':
        case '/':
        case '"':
        case "'":
          out += esc
          break
        default:
          return fail()
      }
    }
  }
  let depth = 0
  const parseValue = (): PolicyValue => {
    skipSpace()
    const ch = text[pos]
    if (ch === '"' || ch === "'") return parseString()
    if ((ch === '{' || ch === '[') && depth >= MAX_POLICY_DEPTH) return fail()
    depth++
    try {
      return parseNested(ch)
    } finally {
      depth--
    }
  }
  const parseNested = (ch: string | undefined): PolicyValue => {
    if (ch === '{') {
      pos++
      // No prototype: a key such as `__proto__` is a key like any other.
      const obj: { [key: string]: PolicyValue } = Object.create(null) as {
        [key: string]: PolicyValue
      }
      skipSpace()
      if (text[pos] === '}') {
        pos++
        return obj
      }
      for (;;) {
        skipSpace()
        if (text[pos] !== '"' && text[pos] !== "'") return fail()
        const key = parseString()
        skipSpace()
        if (text[pos] !== ':') return fail()
        pos++
        obj[key] = parseValue()
        skipSpace()
        if (text[pos] === ',') {
          pos++
          continue
        }
        if (text[pos] === '}') {
          pos++
          return obj
        }
        return fail()
      }
    }
    if (ch === '[') {
      pos++
      const arr: PolicyValue[] = []
      skipSpace()
      if (text[pos] === ']') {
        pos++
        return arr
      }
      for (;;) {
        arr.push(parseValue())
        skipSpace()
        if (text[pos] === ',') {
          pos++
          continue
        }
        if (text[pos] === ']') {
          pos++
          return arr
        }
        return fail()
      }
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(
      text.slice(pos)
    )
    if (!literal) return fail()
    pos += literal[0].length
    if (literal[0] === 'true') return true
    if (literal[0] === 'false') return false
    if (literal[0] === 'null') return null
    return Number(literal[0])
  }
  const value = parseValue()
  skipSpace()
  if (pos !== text.length) fail()
  return value
}

/** How S3 quotes a condition in `Policy Condition failed: [...]`: JSON items joined by ", ". */
function quoteCondition(items: (string | number)[]): string {
  return `[${items.map((item) => JSON.stringify(item)).join(', ')}]`
}

function fieldRef(ref: PolicyValue): string {
  if (typeof ref !== 'string' || !ref.startsWith('$') || ref.length < 2) {
    throw new InvalidPolicyError(
      `Invalid Policy: Invalid Condition: field reference must start with '$': ${String(ref)}`
    )
  }
  return ref.slice(1)
}

function conditionValue(value: PolicyValue): string {
  // Numbers are compared as the text a form field would carry.
  if (typeof value === 'string') return value
  if (typeof value === 'number') return String(value)
  throw new InvalidPolicyError('Invalid Policy: Invalid Simple-Condition: value must be a string.')
}

function normaliseCondition(raw: PolicyValue): PolicyCondition[] {
  if (Array.isArray(raw)) {
    const [opRaw, a, b] = raw
    const op = typeof opRaw === 'string' ? opRaw.toLowerCase() : ''
    if (op === 'content-length-range') {
      if (raw.length !== 3 || typeof a !== 'number' || typeof b !== 'number' || a < 0 || b < a) {
        throw new InvalidPolicyError(
          'Invalid Policy: Invalid content-length-range condition: expected two non-negative numbers.'
        )
      }
      return [{ op, min: a, max: b, text: quoteCondition([op, a, b]) }]
    }
    if ((op === 'eq' || op === 'starts-with') && raw.length === 3) {
      const field = fieldRef(a ?? null)
      const value = conditionValue(b ?? null)
      return [{ op, field, value, text: quoteCondition([op, `$${field}`, value]) }]
    }
    throw new InvalidPolicyError(`Invalid Policy: Invalid Condition: ${JSON.stringify(raw)}`)
  }
  if (raw !== null && typeof raw === 'object') {
    const entries = Object.entries(raw)
    if (entries.length === 0) throw new InvalidPolicyError('Invalid Policy: Invalid Condition: {}')
    // `{"f": v}` is shorthand for `["eq", "$f", v]`, and S3 quotes it in that long form.
    return entries.map(([field, value]) => {
      const text = conditionValue(value)
      return { op: 'eq', field, value: text, text: quoteCondition(['eq', `$${field}`, text]) }
    })
  }
  throw new InvalidPolicyError(`Invalid Policy: Invalid Condition: ${JSON.stringify(raw)}`)
}

/** Parses a decoded policy document (JSON or GitHub's single-quoted form). */
export function parsePolicyDocument(text: string): PolicyDocument {
  const value = parsePolicyValue(text)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidPolicyError('Invalid Policy: Invalid JSON.')
  }
  const expiration = value['expiration']
  if (expiration === undefined) {
    throw new InvalidPolicyError('Invalid Policy: Policy missing expiration.')
  }
  const when = typeof expiration === 'string' ? new Date(expiration) : new Date(NaN)
  if (typeof expiration !== 'string' || Number.isNaN(when.getTime())) {
    throw new InvalidPolicyError(
      `Invalid Policy: Invalid 'expiration' value: '${String(expiration)}'`
    )
  }
  const conditions = value['conditions']
  if (!Array.isArray(conditions)) {
    throw new InvalidPolicyError('Invalid Policy: Policy missing conditions.')
  }
  return { expiration: when, conditions: conditions.flatMap(normaliseCondition) }
}

/** Decodes the `Policy` form field (Base64) and parses it. */
export function decodePolicy(policyField: string): PolicyDocument {
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(policyField) || policyField.trim() === '') {
    throw new InvalidPolicyError('Invalid Policy: Policy could not be decoded as Base64.')
  }
  return parsePolicyDocument(Buffer.from(policyField, 'base64').toString('utf8'))
}

/** One form field as sent, in order. */
export interface FormField {
  name: string
  value: string
}

/** Fields S3 never requires a condition for (docs/protocol.md, "The form"). */
function isExemptField(lowerName: string): boolean {
  return (
    lowerName === 'awsaccesskeyid' ||
    lowerName === 'signature' ||
    lowerName === 'policy' ||
    lowerName === 'file' ||
    lowerName.startsWith('x-ignore-')
  )
}

export type PolicyVerdict =
  { ok: true; lengthRange?: { min: number; max: number } } | { ok: false; message: string }

/**
 * Checks a policy against the form fields that precede the file, the way S3 did: expiration,
 * then every condition, then the "extra input fields" rule. Field names match
 * case-insensitively, values case-sensitively; `bucket` is the endpoint's bucket, not a field.
 * A failure is S3's `403 AccessDenied` with `message`.
 */
export function evaluatePolicy(
  policy: PolicyDocument,
  fields: readonly FormField[],
  context: { bucket: string; now: Date }
): PolicyVerdict {
  if (policy.expiration.getTime() <= context.now.getTime()) {
    return { ok: false, message: 'Invalid according to Policy: Policy expired.' }
  }
  const byName = new Map<string, string>()
  for (const field of fields) {
    const lower = field.name.toLowerCase()
    if (!byName.has(lower)) byName.set(lower, field.value)
  }
  const covered = new Set<string>()
  let lengthRange: { min: number; max: number } | undefined
  for (const condition of policy.conditions) {
    if (condition.op === 'content-length-range') {
      // Checked against the file once its size is known; see the S3 server.
      lengthRange = { min: condition.min, max: condition.max }
      continue
    }
    const lower = condition.field.toLowerCase()
    covered.add(lower)
    const actual = lower === 'bucket' ? context.bucket : byName.get(lower)
    if (!conditionHolds(condition.op, lower, actual, condition.value)) {
      return {
        ok: false,
        message: `Invalid according to Policy: Policy Condition failed: ${condition.text}`
      }
    }
  }
  for (const field of fields) {
    const lower = field.name.toLowerCase()
    if (!isExemptField(lower) && !covered.has(lower)) {
      return { ok: false, message: `Invalid according to Policy: Extra input fields: ${lower}` }
    }
  }
  return lengthRange ? { ok: true, lengthRange } : { ok: true }
}

function conditionHolds(
  op: 'eq' | 'starts-with',
  lowerField: string,
  actual: string | undefined,
  expected: string
): boolean {
  // A condition on a field the form lacks fails: GitHub's spec calls every field required.
  if (actual === undefined) return false
  if (op === 'eq') return actual === expected
  if (lowerField === 'content-type') {
    // AWS: for Content-Type, starts-with applies to each value of a comma-separated list.
    return actual.split(',').every((part) => part.trim().startsWith(expected))
  }
  return actual.startsWith(expected)
}
