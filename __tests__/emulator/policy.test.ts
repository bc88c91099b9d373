import {
  InvalidPolicyError,
  decodePolicy,
  evaluatePolicy,
  issuePolicy,
  parsePolicyDocument,
  policyJson,
  policyText,
  signPolicy,
  verifySignature,
  type FormField
} from '../../emulator/policy.js'

// AWS "Browser-Based Uploads Using POST (AWS Signature Version 2)", HTTP POST examples: the
// example policy (bucket johnsmith, key starts-with user/eric/) as AWS published it in Base64.
const AWS_POLICY =
  'eyAiZXhwaXJhdGlvbiI6ICIyMDA3LTEyLTAxVDEyOjAwOjAwLjAwMFoiLAogICJjb25kaXRpb25zIjogWwogICAgeyJidWNrZXQiOiAiam9obnNtaXRoIn0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci9lcmljLyJdLAogICAgeyJhY2wiOiAicHVibGljLXJlYWQifSwKICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL2pvaG5zbWl0aC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwKICAgIFsic3RhcnRzLXdpdGgiLCAiJENvbnRlbnQtVHlwZSIsICJpbWFnZS8iXSwKICAgIHsieC1hbXotbWV0YS11dWlkIjogIjE0MzY1MTIzNjUxMjc0In0sCiAgICBbInN0YXJ0cy13aXRoIiwgIiR4LWFtei1tZXRhLXRhZyIsICIiXQogIF0KfQo='
const AWS_SECRET = 'uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o'
const AWS_SIGNATURE = '0RavWzkygo6QX9caELEqKi9kDbU='

/** The form of AWS's example, in its order. */
const AWS_FIELDS: FormField[] = [
  { name: 'key', value: 'user/eric/MyPicture.jpg' },
  { name: 'acl', value: 'public-read' },
  {
    name: 'success_action_redirect',
    value: 'http://johnsmith.s3.amazonaws.com/successful_upload.html'
  },
  { name: 'Content-Type', value: 'image/jpeg' },
  { name: 'x-amz-meta-uuid', value: '14365123651274' },
  { name: 'x-amz-meta-tag', value: 'Some,Tag,For,Picture' },
  { name: 'AWSAccessKeyId', value: 'AKIAIOSFODNN7EXAMPLE' },
  { name: 'Policy', value: AWS_POLICY },
  { name: 'Signature', value: AWS_SIGNATURE }
]

// The policy, signature and form GitHub and S3 exchanged in 2013 (docs/protocol.md).
const RECORDED_POLICY =
  'ewogICAgJ2V4cGlyYXRpb24nOiAnMjExMy0wNi0yNFQxNTo0OToxNS4wMDBaJywKICAgICdjb25kaXRpb25zJzogWwogICAgICAgIHsnYnVja2V0JzogJ2dpdGh1Yid9LAogICAgICAgIHsna2V5JzogJ2Rvd25sb2Fkcy9hcGktcGxheWdyb3VuZC9hcGktc2FuZGJveC93ZWJfZmxvd190b2tlbi5qc29uJ30sCiAgICAgICAgeydhY2wnOiAncHJpdmF0ZSd9LAogICAgICAgIHsnc3VjY2Vzc19hY3Rpb25fc3RhdHVzJzogJzIwMSd9LAogICAgICAgIFsnc3RhcnRzLXdpdGgnLCAnJEZpbGVuYW1lJywgJyddLAogICAgICAgIFsnc3RhcnRzLXdpdGgnLCAnJENvbnRlbnQtVHlwZScsICcnXQogICAgXQp9'
const RECORDED_KEY = 'downloads/api-playground/api-sandbox/web_flow_token.json'
const RECORDED_FIELDS: FormField[] = [
  { name: 'key', value: RECORDED_KEY },
  { name: 'acl', value: 'private' },
  { name: 'success_action_status', value: '201' },
  { name: 'Filename', value: 'web_flow_token.json' },
  { name: 'AWSAccessKeyId', value: 'AKIAISTNZFOVBIJMK3TQ' },
  { name: 'Policy', value: RECORDED_POLICY },
  { name: 'Signature', value: 'pvRWxNMvC22mvxP441XejpNJjBQ=' },
  { name: 'Content-Type', value: 'text/plain' }
]
const IN_2013 = { bucket: 'github', now: new Date('2013-06-24T15:49:16Z') }

function withField(fields: FormField[], name: string, value: string | undefined): FormField[] {
  const out = fields.filter((field) => field.name !== name)
  if (value !== undefined) {
    const index = fields.findIndex((field) => field.name === name)
    out.splice(index === -1 ? out.length : index, 0, { name, value })
  }
  return out
}

describe('signature version 2', () => {
  it("reproduces AWS's published test vector", () => {
    expect(signPolicy(AWS_SECRET, AWS_POLICY)).toBe(AWS_SIGNATURE)
    expect(verifySignature(AWS_SECRET, AWS_POLICY, AWS_SIGNATURE)).toBe(true)
  })

  it('rejects a signature of anything else', () => {
    expect(verifySignature(AWS_SECRET, AWS_POLICY + 'Cg==', AWS_SIGNATURE)).toBe(false)
    expect(verifySignature('another secret', AWS_POLICY, AWS_SIGNATURE)).toBe(false)
    expect(verifySignature(AWS_SECRET, AWS_POLICY, '')).toBe(false)
  })

  it("accepts AWS's example form before expiry and refuses it after", () => {
    const policy = decodePolicy(AWS_POLICY)
    const before = { bucket: 'johnsmith', now: new Date('2007-11-30T00:00:00Z') }
    expect(evaluatePolicy(policy, AWS_FIELDS, before)).toEqual({ ok: true })
    expect(
      evaluatePolicy(policy, AWS_FIELDS, { ...before, now: new Date('2007-12-01T12:00:01Z') })
    ).toEqual({ ok: false, message: 'Invalid according to Policy: Policy expired.' })
    expect(evaluatePolicy(policy, AWS_FIELDS, { ...before, bucket: 'github' })).toEqual({
      ok: false,
      message:
        'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "johnsmith"]'
    })
    expect(
      evaluatePolicy(policy, withField(AWS_FIELDS, 'Content-Type', 'text/plain'), before)
    ).toEqual({
      ok: false,
      message:
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]'
    })
  })
})

describe('the policy GitHub issued', () => {
  it('is issued byte for byte as recorded in 2013', () => {
    const input = {
      expiration: new Date('2113-06-24T15:49:15Z'),
      bucket: 'github',
      key: RECORDED_KEY,
      acl: 'private',
      successActionStatus: '201'
    }
    expect(issuePolicy(input)).toBe(RECORDED_POLICY)
    expect(policyText(input)).toContain("{'key': 'downloads/api-playground/api-sandbox/")
  })

  it('is satisfied by the recorded 2013 form', () => {
    expect(evaluatePolicy(decodePolicy(RECORDED_POLICY), RECORDED_FIELDS, IN_2013)).toEqual({
      ok: true
    })
  })

  it('names the failed condition the way S3 did', () => {
    const policy = decodePolicy(RECORDED_POLICY)
    const otherKey = withField(RECORDED_FIELDS, 'key', 'downloads/api-playground/api-sandbox/x')
    expect(evaluatePolicy(policy, otherKey, IN_2013)).toEqual({
      ok: false,
      message: `Invalid according to Policy: Policy Condition failed: ["eq", "$key", "${RECORDED_KEY}"]`
    })
    const publicRead = withField(RECORDED_FIELDS, 'acl', 'public-read')
    expect(evaluatePolicy(policy, publicRead, IN_2013)).toMatchObject({
      message: 'Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "private"]'
    })
    const noFilename = withField(RECORDED_FIELDS, 'Filename', undefined)
    expect(evaluatePolicy(policy, noFilename, IN_2013)).toMatchObject({
      message:
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Filename", ""]'
    })
  })

  it('matches field names case-insensitively and values case-sensitively', () => {
    const policy = decodePolicy(RECORDED_POLICY)
    const lowerNames = RECORDED_FIELDS.map((field) => ({
      ...field,
      name: field.name.toLowerCase()
    }))
    expect(evaluatePolicy(policy, lowerNames, IN_2013)).toEqual({ ok: true })
    const upperValue = withField(RECORDED_FIELDS, 'acl', 'PRIVATE')
    expect(evaluatePolicy(policy, upperValue, IN_2013)).toMatchObject({ ok: false })
  })

  it('refuses fields no condition covers, except the exempt ones', () => {
    const policy = decodePolicy(RECORDED_POLICY)
    const extra = [...RECORDED_FIELDS, { name: 'X-Amz-Meta-Content-Disposition', value: 'a' }]
    expect(evaluatePolicy(policy, extra, IN_2013)).toEqual({
      ok: false,
      message: 'Invalid according to Policy: Extra input fields: x-amz-meta-content-disposition'
    })
    const ignored = [...RECORDED_FIELDS, { name: 'x-ignore-anything', value: 'a' }]
    expect(evaluatePolicy(policy, ignored, IN_2013)).toEqual({ ok: true })
  })
})

describe('the policy for an external store', () => {
  const input = {
    expiration: new Date('2113-06-24T15:49:15Z'),
    bucket: 'downloads',
    key: "downloads/o/r/it's.zip",
    acl: 'private',
    successActionStatus: '201',
    contentLength: 1234
  }

  it('is strict JSON with GitHub’s conditions and the exact size', () => {
    expect(JSON.parse(policyJson(input))).toEqual({
      expiration: '2113-06-24T15:49:15.000Z',
      conditions: [
        { bucket: 'downloads' },
        { key: "downloads/o/r/it's.zip" },
        { acl: 'private' },
        { success_action_status: '201' },
        ['starts-with', '$Filename', ''],
        ['starts-with', '$Content-Type', ''],
        ['content-length-range', 1234, 1234]
      ]
    })
    expect(Buffer.from(issuePolicy(input, 'json'), 'base64').toString()).toBe(policyJson(input))
  })

  it('reads back the same in both notations, and holds the size', () => {
    const fields = [
      { name: 'key', value: input.key },
      { name: 'acl', value: 'private' },
      { name: 'success_action_status', value: '201' },
      { name: 'Filename', value: "it's.zip" },
      { name: 'Content-Type', value: 'application/zip' }
    ]
    const context = { bucket: 'downloads', now: new Date('2013-06-24T15:49:15Z') }
    for (const text of [policyJson(input), policyText(input)]) {
      expect(evaluatePolicy(parsePolicyDocument(text), fields, context)).toEqual({
        ok: true,
        lengthRange: { min: 1234, max: 1234 }
      })
    }
    expect(policyText(input)).toContain("        ['content-length-range', 1234, 1234]\n    ]")
  })
})

describe('parsing policy documents', () => {
  const json = `{"expiration": "2030-01-01T00:00:00.000Z", "conditions": [
    {"bucket": "github"}, ["eq", "$key", "a/b"], ["starts-with", "$Content-Type", "text/"],
    ["content-length-range", 1, 10]]}`

  it('reads JSON and the single-quoted form alike', () => {
    const single = json.replace(/"/g, "'")
    expect(parsePolicyDocument(single)).toEqual(parsePolicyDocument(json))
    const doc = parsePolicyDocument(json)
    expect(doc.expiration.toISOString()).toBe('2030-01-01T00:00:00.000Z')
    expect(doc.conditions.map((c) => c.op)).toEqual([
      'eq',
      'eq',
      'starts-with',
      'content-length-range'
    ])
  })

  it('reports content-length-range for the file check', () => {
    const fields: FormField[] = [
      { name: 'key', value: 'a/b' },
      { name: 'Content-Type', value: 'text/plain' }
    ]
    expect(
      evaluatePolicy(parsePolicyDocument(json), fields, {
        bucket: 'github',
        now: new Date('2020-01-01T00:00:00Z')
      })
    ).toEqual({ ok: true, lengthRange: { min: 1, max: 10 } })
  })

  it('handles escaped quotes in single-quoted strings', () => {
    const key = "downloads/o/r/it's \\ here"
    const policy = issuePolicy({
      expiration: new Date('2030-01-01T00:00:00Z'),
      bucket: 'github',
      key,
      acl: 'private',
      successActionStatus: '201'
    })
    expect(decodePolicy(policy).conditions[1]).toMatchObject({ op: 'eq', field: 'key', value: key })
  })

  it('refuses what is not a policy', () => {
    expect(() => parsePolicyDocument('{"conditions": []}')).toThrow('missing expiration')
    expect(() => parsePolicyDocument('{"expiration": "soon", "conditions": []}')).toThrow(
      InvalidPolicyError
    )
    expect(() =>
      parsePolicyDocument('{"expiration": "2030-01-01T00:00:00Z", "conditions": [],}')
    ).toThrow('Invalid JSON')
    expect(() =>
      parsePolicyDocument('{"expiration": "2030-01-01T00:00:00Z", "conditions": [["in", "$a"]]}')
    ).toThrow(InvalidPolicyError)
    expect(() => decodePolicy('not base64!')).toThrow(InvalidPolicyError)
  })

  it('refuses nesting deeper than a policy needs, instead of overflowing the stack', () => {
    const deep = (depth: number): string =>
      `{"expiration": "2030-01-01T00:00:00Z", "conditions": [${'['.repeat(depth)}${']'.repeat(depth)}]}`
    expect(() => parsePolicyDocument(deep(20))).toThrow('Invalid Condition')
    expect(() => parsePolicyDocument(deep(5000))).toThrow(InvalidPolicyError)
    expect(() => parsePolicyDocument(deep(5000))).toThrow('Invalid JSON')
  })

  it('takes `__proto__` as a plain key', () => {
    const inherited = '{"__proto__": {"expiration": "2030-01-01T00:00:00Z", "conditions": []}}'
    expect(() => parsePolicyDocument(inherited)).toThrow('missing expiration')
    const doc = parsePolicyDocument(
      '{"expiration": "2030-01-01T00:00:00Z", "conditions": [{"__proto__": "x"}]}'
    )
    expect(doc.conditions).toEqual([
      { op: 'eq', field: '__proto__', value: 'x', text: '["eq", "$__proto__", "x"]' }
    ])
  })
})
