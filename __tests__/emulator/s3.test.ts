import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Emulator } from '../../emulator/index.js'
import { signPolicy } from '../../emulator/policy.js'
import {
  REPO,
  createDownload,
  curlForm,
  postForm,
  rawRequest,
  s3Code,
  s3Message,
  specFields,
  specParts,
  type Ticket,
  startEmulator
} from './helpers.js'
import { takeUnexpectedErrors } from '../helpers/unexpected-errors.js'

const SECRET = 'test-secret-0123456789'
let emulator: Emulator
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emulator-s3-test-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

beforeEach(async () => {
  emulator = await startEmulator({ secret: SECRET })
})

afterEach(async () => {
  await emulator.close()
})

async function localFile(name: string, content: Buffer | string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

function md5(content: Buffer | string): string {
  return createHash('md5').update(content).digest('hex')
}

/** Replaces one field's value, keeping the order. */
function withValue(fields: [string, string][], name: string, value: string): [string, string][] {
  return fields.map(([n, v]) => [n, n === name ? value : v])
}

describe("the spec's curl command", () => {
  it('uploads, answers 201 with the PostResponse, and serves the bytes back', async () => {
    const content = randomBytes(64 * 1024)
    const ticket = await createDownload(emulator, 'new_file.jpg', content.length)
    const path = await localFile('new_file.jpg', content)

    const answer = await curlForm(ticket.s3_url, specFields(ticket), path)

    const etag = `"${md5(content)}"`
    const location = `${emulator.s3Url}${encodeURIComponent(ticket.path)}`
    expect(answer.status).toBe(201)
    expect(answer.headers['content-type']).toBe('application/xml')
    expect(answer.headers['etag']).toBe(etag)
    expect(answer.headers['location']).toBe(location)
    expect(answer.body).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<PostResponse><Location>${location}</Location><Bucket>github</Bucket>` +
        `<Key>${ticket.path}</Key><ETag>${etag}</ETag></PostResponse>`
    )
    expect(emulator.downloads(REPO)).toEqual([
      expect.objectContaining({
        name: 'new_file.jpg',
        uploaded: true,
        size: content.length,
        md5: md5(content),
        sha256: createHash('sha256').update(content).digest('hex')
      })
    ])

    const served = await fetch(ticket.html_url)
    expect(served.status).toBe(200)
    expect(served.headers.get('content-type')).toBe('image/jpeg')
    // Saved, not shown: an uploaded page does not run on the upload origin.
    expect(served.headers.get('content-disposition')).toBe(
      "attachment; filename*=UTF-8''new_file.jpg"
    )
    expect(served.headers.get('x-content-type-options')).toBe('nosniff')
    expect(served.headers.get('content-security-policy')).toBe('sandbox')
    expect(Buffer.from(await served.arrayBuffer()).equals(content)).toBe(true)
    const listed = emulator.requests.map((r) => `${r.origin}:${r.hop}:${r.status}`)
    expect(listed).toEqual(['api:create:201', 's3:s3:201', 'api:download:302', 's3:download:200'])
  })

  it('streams a 5 MiB file through Expect: 100-continue', async () => {
    const content = randomBytes(5 * 1024 * 1024)
    const ticket = await createDownload(emulator, 'big.bin', content.length)
    const path = await localFile('big.bin', content)
    const answer = await curlForm(ticket.s3_url, specFields(ticket), path)
    expect(answer.status).toBe(201)
    expect(emulator.requests.find((r) => r.hop === 's3')?.headers['expect']).toBe('100-continue')
    const stored = await readFile(emulator.downloads(REPO)[0]?.filePath ?? '')
    expect(stored.equals(content)).toBe(true)
  })

  it('takes field names in any case', async () => {
    const ticket = await createDownload(emulator, 'case.txt', 2)
    const path = await localFile('case.txt', 'hi')
    const lower = specFields(ticket).map(([n, v]): [string, string] => [n.toLowerCase(), v])
    expect((await curlForm(ticket.s3_url, lower, path)).status).toBe(201)
  })
})

describe('strictness', () => {
  let ticket: Ticket
  let path: string

  beforeEach(async () => {
    ticket = await createDownload(emulator, 'strict.txt', 5)
    path = await localFile('strict.txt', 'hello')
  })

  async function expectRefused(
    answer: { status: number; body: string },
    status: number,
    code: string,
    message?: string
  ): Promise<void> {
    expect({ status: answer.status, code: s3Code(answer.body) }).toEqual({ status, code })
    if (message !== undefined) expect(s3Message(answer.body)).toBe(message)
    expect(answer.body).toMatch(/<RequestId>[0-9A-F]{16}<\/RequestId>/)
    expect(emulator.downloads(REPO)[0]?.uploaded).toBe(false)
  }

  it('refuses fields out of the spec order', async () => {
    const fields = specFields(ticket)
    const swapped = [fields[1], fields[0], ...fields.slice(2)] as [string, string][]
    const answer = await curlForm(ticket.s3_url, swapped, path)
    await expectRefused(
      answer,
      400,
      'InvalidArgument',
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
    )
    const late = [...fields.slice(0, 4), ...fields.slice(5), fields[4]] as [string, string][]
    await expectRefused(await curlForm(ticket.s3_url, late, path), 400, 'InvalidArgument')
  })

  it('refuses a form without key', async () => {
    const answer = await curlForm(ticket.s3_url, specFields(ticket).slice(1), path)
    await expectRefused(
      answer,
      400,
      'InvalidArgument',
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."
    )
  })

  it('refuses a field no condition covers', async () => {
    const fields = specFields(ticket)
    fields.push(['x-amz-meta-content-disposition', 'attachment; filename=strict.txt'])
    await expectRefused(
      await curlForm(ticket.s3_url, fields, path),
      403,
      'AccessDenied',
      'Invalid according to Policy: Extra input fields: x-amz-meta-content-disposition'
    )
  })

  it('accepts x-ignore- fields', async () => {
    const fields = [...specFields(ticket), ['x-ignore-trace', 'abc'] as [string, string]]
    expect((await curlForm(ticket.s3_url, fields, path)).status).toBe(201)
  })

  it('refuses a modified field value', async () => {
    const other = await createDownload(emulator, 'other.txt', 5)
    const answer = await curlForm(
      ticket.s3_url,
      withValue(specFields(ticket), 'key', other.path),
      path
    )
    expect(answer.status).toBe(403)
    expect(s3Message(answer.body)).toBe(
      `Invalid according to Policy: Policy Condition failed: ["eq", "$key", "${ticket.path}"]`
    )
    const publicRead = withValue(specFields(ticket), 'acl', 'public-read')
    const acl = await curlForm(ticket.s3_url, publicRead, path)
    expect(s3Message(acl.body)).toBe(
      'Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "private"]'
    )
    expect(emulator.downloads(REPO).every((d) => !d.uploaded)).toBe(true)
  })

  it('refuses a bad signature and an unknown access key', async () => {
    const badSignature = withValue(
      specFields(ticket),
      'Signature',
      signPolicy('wrong', ticket.policy)
    )
    await expectRefused(
      await curlForm(ticket.s3_url, badSignature, path),
      403,
      'SignatureDoesNotMatch'
    )
    const badKey = withValue(specFields(ticket), 'AWSAccessKeyId', 'AKIAOTHER')
    await expectRefused(await curlForm(ticket.s3_url, badKey, path), 403, 'InvalidAccessKeyId')
  })

  it('refuses an expired policy', async () => {
    emulator.setPolicyTtl(-10)
    const expired = await createDownload(emulator, 'expired.txt', 5)
    const answer = await curlForm(expired.s3_url, specFields(expired), path)
    expect(answer.status).toBe(403)
    expect(s3Code(answer.body)).toBe('AccessDenied')
    expect(s3Message(answer.body)).toBe('Invalid according to Policy: Policy expired.')
  })

  it('refuses a chunked body with 411', async () => {
    const answer = await curlForm(ticket.s3_url, specFields(ticket), path, [
      '-H',
      'Transfer-Encoding: chunked'
    ])
    await expectRefused(
      answer,
      411,
      'MissingContentLength',
      'You must provide the Content-Length HTTP header.'
    )
    const viaNode = await rawRequest(emulator.s3Url, {
      headers: { 'Content-Type': 'multipart/form-data; boundary=x' },
      body: Buffer.from('--x--\r\n'),
      chunked: true
    })
    expect(viaNode.status).toBe(411)
  })

  it('refuses a body that is not multipart/form-data with 412', async () => {
    const answer = await rawRequest(emulator.s3Url, {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(`key=${encodeURIComponent(ticket.path)}`)
    })
    await expectRefused(
      answer,
      412,
      'PreconditionFailed',
      'Bucket POST must be of the enclosure-type multipart/form-data'
    )
  })

  it('refuses a form without a file', async () => {
    const answer = await curlForm(ticket.s3_url, specFields(ticket), undefined)
    await expectRefused(
      answer,
      400,
      'IncorrectNumberOfFilesInPostRequest',
      'POST requires exactly one file upload per request.'
    )
  })

  it('ignores everything after the file, a second file included', async () => {
    const parts = [
      ...specParts(ticket, 'hello'),
      { name: 'file', value: 'second', filename: 'second.txt' },
      { name: 'x-amz-meta-late', value: 'ignored' }
    ]
    expect((await postForm(emulator, parts)).status).toBe(201)
    const [stored] = emulator.downloads(REPO)
    expect(await readFile(stored?.filePath ?? '', 'utf8')).toBe('hello')
  })

  it('takes a file part without a filename, since S3 goes by the name `file`', async () => {
    const parts = specParts(ticket, 'hello').map((part) =>
      part.name === 'file' ? { name: 'file', value: part.value ?? '' } : part
    )
    expect((await postForm(emulator, parts)).status).toBe(201)
  })

  it('refuses more than 20 KiB of fields before the file', async () => {
    const parts = specParts(ticket, 'hello')
    parts.splice(1, 0, { name: 'x-ignore-padding', value: 'p'.repeat(21 * 1024) })
    await expectRefused(await postForm(emulator, parts), 400, 'MaxPostPreDataLengthExceeded')
  })

  it('refuses a Content-Length over 5 GiB before reading the body', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(emulator.s3Url).port), '127.0.0.1', () => {
        socket.write(
          'POST / HTTP/1.1\r\nHost: s3\r\nContent-Type: multipart/form-data; boundary=x\r\n' +
            `Content-Length: ${6 * 1024 ** 3}\r\n\r\n--x\r\n`
        )
      })
      let text = ''
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toContain('<Code>EntityTooLarge</Code>')
    expect(answer).toContain(`<MaxSizeAllowed>${5 * 1024 ** 3}</MaxSizeAllowed>`)
  })

  it('never lets a failed upload replace good bytes; a later good upload overwrites', async () => {
    expect((await postForm(emulator, specParts(ticket, 'good1'))).status).toBe(201)
    const tampered = specParts(ticket, 'evil!').map((part) =>
      part.name === 'Signature' ? { ...part, value: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } : part
    )
    expect((await postForm(emulator, tampered)).status).toBe(403)
    const [afterFailure] = emulator.downloads(REPO)
    expect(afterFailure?.md5).toBe(md5('good1'))
    expect(await readFile(afterFailure?.filePath ?? '', 'utf8')).toBe('good1')
    expect((await postForm(emulator, specParts(ticket, 'good2, longer'))).status).toBe(201)
    const [afterSecond] = emulator.downloads(REPO)
    expect(afterSecond).toMatchObject({ size: 13, md5: md5('good2, longer') })
    expect(await readFile(afterSecond?.filePath ?? '', 'utf8')).toBe('good2, longer')
  })

  it('answers a failure of its own disk with InternalError, and notes it as unexpected', async () => {
    await rm(join(emulator.storageDir, '.incoming'), { recursive: true })
    const answer = await postForm(emulator, specParts(ticket, 'hello'))
    expect({ status: answer.status, code: s3Code(answer.body) }).toEqual({
      status: 500,
      code: 'InternalError'
    })
    expect(emulator.downloads(REPO)).toEqual([expect.objectContaining({ uploaded: false })])
    // Provoked on purpose here; anywhere else it fails the test (see helpers.ts).
    expect(takeUnexpectedErrors(emulator)).toEqual([expect.objectContaining({ code: 'ENOENT' })])
  })

  it('refuses keys that belong to no download', async () => {
    await fetch(`${emulator.apiUrl}/repos/${REPO}/downloads/${ticket.id}`, {
      method: 'DELETE',
      headers: { Authorization: 'token emulator-token' }
    })
    const answer = await postForm(emulator, specParts(ticket, 'hello'))
    expect({ status: answer.status, code: s3Code(answer.body) }).toEqual({
      status: 403,
      code: 'AccessDenied'
    })
  })
})

describe('policies of its own (JSON, content-length-range, success_action_status)', () => {
  function customForm(
    ticket: Ticket,
    status: string,
    content: string
  ): Parameters<typeof postForm>[1] {
    const policy = Buffer.from(
      JSON.stringify({
        expiration: new Date(Date.now() + 60_000).toISOString(),
        conditions: [
          { bucket: 'github' },
          ['eq', '$key', ticket.path],
          { acl: 'private' },
          { success_action_status: status },
          ['starts-with', '$Filename', ''],
          ['starts-with', '$Content-Type', 'text/'],
          ['content-length-range', 2, 10]
        ]
      })
    ).toString('base64')
    const fields: [string, string][] = [
      ['key', ticket.path],
      ['acl', 'private'],
      ['success_action_status', status],
      ['Filename', ticket.name],
      ['AWSAccessKeyId', 'AKIAEMULATOREXAMPLE'],
      ['Policy', policy],
      ['Signature', signPolicy(SECRET, policy)],
      ['Content-Type', 'text/plain']
    ]
    return [
      ...fields.map(([name, value]) => ({ name, value })),
      { name: 'file', value: content, filename: ticket.name }
    ]
  }

  it('answers 200 or 204 as asked', async () => {
    const ticket = await createDownload(emulator, 'own.txt', 5)
    const ok200 = await postForm(emulator, customForm(ticket, '200', 'hello'))
    expect({ status: ok200.status, body: ok200.body }).toEqual({ status: 200, body: '' })
    expect(ok200.headers['etag']).toBe(`"${md5('hello')}"`)
    const ok204 = await postForm(emulator, customForm(ticket, '299', 'hello'))
    expect(ok204.status).toBe(204)
  })

  it('enforces content-length-range', async () => {
    const ticket = await createDownload(emulator, 'range.txt', 5)
    const large = await postForm(emulator, customForm(ticket, '201', '12345678901'))
    expect(s3Code(large.body)).toBe('EntityTooLarge')
    expect(large.body).toContain(
      '<ProposedSize>11</ProposedSize><MaxSizeAllowed>10</MaxSizeAllowed>'
    )
    const small = await postForm(emulator, customForm(ticket, '201', 'a'))
    expect(small.status).toBe(400)
    expect(small.body).toContain('<ProposedSize>1</ProposedSize><MinSizeAllowed>2</MinSizeAllowed>')
    expect(emulator.downloads(REPO)[0]?.uploaded).toBe(false)
    expect((await postForm(emulator, customForm(ticket, '201', 'just right'))).status).toBe(201)
  })
})
