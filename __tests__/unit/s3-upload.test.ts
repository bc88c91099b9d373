import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { appendFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { UploadTicket } from '../../src/downloads-api.js'
import { LocalFileError, S3Error, ProtocolError } from '../../src/errors.js'
import { LocalFile } from '../../src/local-file.js'
import { isTransient } from '../../src/retry.js'
import { formFields, isPolicyExpired, uploadToS3 } from '../../src/s3-upload.js'
import {
  FakeHttp,
  parseMultipart,
  s3Error,
  type RecordedRequest,
  type ScriptedAnswer
} from '../helpers/fake-http.js'
import { rejectionOf } from '../helpers/rejection.js'

const S3 = 'https://github.s3.amazonaws.com/'

let dir: string
let http: FakeHttp
let opened: LocalFile[]

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 's3-upload-test-'))
  http = new FakeHttp()
  opened = []
})

afterEach(async () => {
  await Promise.all(opened.map((file) => file.close()))
  await rm(dir, { recursive: true, force: true })
  expect(http.unused()).toEqual([])
})

function ticketFor(name: string, s3Url = S3): UploadTicket {
  return {
    download: {
      id: 9,
      name,
      description: '',
      size: 0,
      contentType: '.zip',
      url: `https://api.github.com/repos/octo/demo/downloads/9`,
      htmlUrl: `https://github.com/downloads/octo/demo/${name}`,
      createdAt: '2013-06-24T15:49:14Z'
    },
    s3Url,
    key: `downloads/octo/demo/${name}`,
    acl: 'private',
    accessKeyId: 'AKIAEXAMPLE',
    policy: 'eydleHBpcmF0aW9uJzogJzIxMTMtMDYtMjRUMTU6NDk6MTUuMDAwWid9',
    signature: 'mwnFDC+/x0RavWzkygo6QX9caEL=',
    // The server's choice, deliberately not what the file name suggests.
    mimeType: 'application/x-zip-compressed'
  }
}

/** A file with these bytes, opened for upload as the publisher opens it. */
async function fileWith(name: string, bytes: Buffer): Promise<LocalFile> {
  const file = path.join(dir, name)
  await writeFile(file, bytes)
  const local = await LocalFile.open({
    path: file,
    name,
    size: bytes.length,
    contentType: 'application/zip'
  })
  opened.push(local)
  return local
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex')
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

/** S3's success answer for whatever file the form carried. */
function stored(request: RecordedRequest): ScriptedAnswer {
  const parts = parseMultipart(request.body, request.headers['content-type'])
  const etag = `"${md5(parts[parts.length - 1].data)}"`
  return {
    status: 201,
    headers: { etag, 'content-type': 'application/xml' },
    body: `<PostResponse><Location>${S3}x</Location><Bucket>github</Bucket><Key>x</Key><ETag>${etag}</ETag></PostResponse>`
  }
}

describe('uploadToS3', () => {
  it('posts the signed fields in the documented order with the ticket values, then the file', async () => {
    const bytes = Buffer.from('PK\u0003\u0004 a small zip\r\n--not-a-boundary\r\n')
    const upload = await fileWith('app 1.0.zip', bytes)
    const ticket = ticketFor('app 1.0.zip')
    http.on('POST', S3, stored)

    await uploadToS3(http, ticket, upload)

    const [request] = http.requests
    expect(request.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    const parts = parseMultipart(request.body, request.headers['content-type'])
    expect(parts.slice(0, -1).map((p) => [p.name, p.data.toString('utf8')])).toEqual([
      ['key', 'downloads/octo/demo/app 1.0.zip'],
      ['acl', 'private'],
      ['success_action_status', '201'],
      ['Filename', 'app 1.0.zip'],
      ['AWSAccessKeyId', 'AKIAEXAMPLE'],
      ['Policy', ticket.policy],
      ['Signature', ticket.signature],
      ['Content-Type', 'application/x-zip-compressed']
    ])
    const file = parts[parts.length - 1]
    expect(file.name).toBe('file')
    expect(file.filename).toBe('app 1.0.zip')
    expect(file.data).toEqual(bytes)
  })

  it('states the real body length in Content-Length and sends no Authorization', async () => {
    const upload = await fileWith('big.bin', randomBytes(3 * 1024 * 1024 + 17))
    http.on('POST', S3, stored)
    await uploadToS3(http, ticketFor('big.bin'), upload)
    const [request] = http.requests
    expect(request.headers['content-length']).toBe(String(request.body.length))
    expect(request.headers).not.toHaveProperty('authorization')
    expect(request.headers).not.toHaveProperty('transfer-encoding')
  })

  it('counts a non-ASCII name in bytes, not characters, in Content-Length', async () => {
    const name = 'résumé 日本語.pdf'
    const upload = await fileWith(name, Buffer.from('%PDF-1.7'))
    http.on('POST', S3, stored)
    await uploadToS3(http, ticketFor(name), upload)
    const [request] = http.requests
    expect(request.headers['content-length']).toBe(String(request.body.length))
    const parts = parseMultipart(request.body, request.headers['content-type'])
    expect(parts.find((p) => p.name === 'Filename')?.data.toString('utf8')).toBe(name)
    expect(parts.find((p) => p.name === 'key')?.data.toString('utf8')).toBe(
      `downloads/octo/demo/${name}`
    )
  })

  it('returns the byte count and the MD5 and SHA-256 of the bytes sent', async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 5)
    const upload = await fileWith('data.bin', bytes)
    const progress: number[] = []
    http.on('POST', S3, stored)

    const result = await uploadToS3(http, ticketFor('data.bin'), upload, {
      onProgress: (sent) => progress.push(sent)
    })

    expect(result).toEqual({
      bytes: bytes.length,
      md5: md5(bytes),
      sha256: sha256(bytes),
      etag: md5(bytes)
    })
    expect(progress.length).toBeGreaterThan(1)
    expect(progress[progress.length - 1]).toBe(bytes.length)
    expect([...progress].sort((a, b) => a - b)).toEqual(progress)
  })

  it('takes the ETag from the XML when the header is missing', async () => {
    const bytes = Buffer.from('hello')
    const upload = await fileWith('a.txt', bytes)
    http.on('POST', S3, {
      status: 201,
      body: `<PostResponse><ETag>&quot;${md5(bytes)}&quot;</ETag></PostResponse>`
    })
    expect((await uploadToS3(http, ticketFor('a.txt'), upload)).etag).toBe(md5(bytes))
  })

  it('takes Ceph’s answer: no ETag header, the ETag unquoted in the XML', async () => {
    const bytes = Buffer.from('hello')
    const upload = await fileWith('a b.txt', bytes)
    // Ceph RADOS Gateway 16.2's 201, as it sent it (no XML declaration, no ETag header).
    http.on('POST', S3, {
      status: 201,
      headers: { 'content-type': 'application/xml' },
      body: `<PostResponse><Location>http://127.0.0.1:7480/downloads/downloads%2Focto%2Fdemo%2Fa%20b.txt</Location><Bucket>downloads</Bucket><Key>downloads/octo/demo/a b.txt</Key><ETag>${md5(bytes)}</ETag></PostResponse>`
    })
    expect((await uploadToS3(http, ticketFor('a b.txt'), upload)).etag).toBe(md5(bytes))
  })

  // Bug: form-data takes `knownLength: 0` for "unknown", so getLengthSync() fails ("Unhandled
  // error. (Error: Cannot calculate proper length in synchronous way.") and an empty file,
  // which findSourceFiles accepts, can never be uploaded.
  it('uploads an empty file', async () => {
    const upload = await fileWith('EMPTY.md', Buffer.alloc(0))
    http.fallback(stored)
    const result = await uploadToS3(http, ticketFor('EMPTY.md'), upload)
    expect(result.bytes).toBe(0)
    expect(result.md5).toBe('d41d8cd98f00b204e9800998ecf8427e')
    const [request] = http.requests
    expect(request.headers['content-length']).toBe(String(request.body.length))
  })

  it.each(['http://s3.example.test/', 'http://10.0.0.5:9000/'])(
    'refuses a plain-http upload URL to another machine (%s)',
    async (url) => {
      const upload = await fileWith('a.zip', Buffer.from('x'))
      const error = await rejectionOf(uploadToS3(http, ticketFor('a.zip', url), upload))
      expect(error).toBeInstanceOf(ProtocolError)
      expect(error.message).toBe(
        `The server handed out a plain-http upload URL (${new URL(url).origin}); refusing to send a.zip unencrypted.`
      )
      expect(isTransient(error)).toBe(false)
      expect(http.requests).toEqual([])
    }
  )

  it('accepts a plain-http upload URL on this machine (the emulator)', async () => {
    const local = 'http://127.0.0.1:9000/bucket'
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', local, stored)
    await expect(uploadToS3(http, ticketFor('a.zip', local), upload)).resolves.toMatchObject({
      bytes: 1
    })
  })

  it('fails, as worth retrying, when the ETag is not the MD5 of the bytes sent', async () => {
    const upload = await fileWith('a.zip', Buffer.from('the bytes'))
    http.on('POST', S3, { status: 201, headers: { etag: '"0123456789abcdef0123456789abcdef"' } })
    const error = await rejectionOf<S3Error>(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error).toBeInstanceOf(S3Error)
    expect(error.code).toBe('BadDigest')
    expect(error.message).toBe(
      `S3 stored a.zip with ETag 0123456789abcdef0123456789abcdef, but the bytes sent have MD5 ${md5(Buffer.from('the bytes'))}: the upload was corrupted.`
    )
    expect(isTransient(error)).toBe(true)
  })

  it.each([
    [503, 'SlowDown', 'Please reduce your request rate.'],
    [500, 'InternalError', 'We encountered an internal error. Please try again.'],
    [
      400,
      'RequestTimeout',
      'Your socket connection to the server was not read from or written to within the timeout period.'
    ]
  ])('takes %i %s as transient, with its code', async (status, code, message) => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, s3Error(status, code, message))
    const error = await rejectionOf<S3Error>(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error).toBeInstanceOf(S3Error)
    expect(error.code).toBe(code)
    expect(error.status).toBe(status)
    expect(error.message).toBe(`S3 refused a.zip: ${code}: ${message}`)
    expect(isTransient(error)).toBe(true)
  })

  it('recognises an expired policy', async () => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on(
      'POST',
      S3,
      s3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.')
    )
    const error = await rejectionOf(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(isPolicyExpired(error)).toBe(true)
    expect(isTransient(error)).toBe(false)
  })

  it('recognises Ceph’s expired policy: AccessDenied, “Policy expired”', async () => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, s3Error(403, 'AccessDenied', 'Policy expired'))
    const error = await rejectionOf(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(isPolicyExpired(error)).toBe(true)
  })

  it('explains a bare EntityTooLarge (Ceph counts the whole form against its size limit), as final', async () => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, s3Error(400, 'EntityTooLarge', ''))
    const error = await rejectionOf<S3Error>(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error.message).toBe(
      "S3 refused a.zip: EntityTooLarge (over the store's size limit for one upload; Ceph's gateway counts the whole form against its rgw_max_put_size, 5 GiB by default)"
    )
    expect(isTransient(error)).toBe(false)
  })

  it('says so when the store refuses with a bare AccessDenied, as Ceph does, and takes it as final', async () => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, s3Error(403, 'AccessDenied', ''))
    const error = await rejectionOf<S3Error>(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error.message).toBe(
      'S3 refused a.zip: AccessDenied (the store gave no reason: it refused the signature, the policy or the bucket permissions)'
    )
    expect(isPolicyExpired(error)).toBe(false)
    expect(isTransient(error)).toBe(false)
  })

  it('names a code that came without a message', async () => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, s3Error(400, 'InvalidArgument', ''))
    const error = await rejectionOf<S3Error>(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error.message).toBe('S3 refused a.zip: InvalidArgument (no message)')
    expect(isTransient(error)).toBe(false)
  })

  it.each([
    ['AccessDenied', 'Invalid according to Policy: Extra input fields: content-type'],
    [
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.'
    ]
  ])('takes %s (%s) as final, and no expired policy', async (code, message) => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, s3Error(403, code, message))
    const error = await rejectionOf(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error).toBeInstanceOf(S3Error)
    expect(isPolicyExpired(error)).toBe(false)
    expect(isTransient(error)).toBe(false)
  })

  it('reports an answer without XML by its status', async () => {
    const upload = await fileWith('a.zip', Buffer.from('x'))
    http.on('POST', S3, { status: 502, body: 'Bad Gateway' })
    const error = await rejectionOf<S3Error>(uploadToS3(http, ticketFor('a.zip'), upload))
    expect(error.message).toBe('S3 answered 502 for a.zip: Bad Gateway')
    expect(error.code).toBe('HTTP502')
    expect(isTransient(error)).toBe(true)
  })

  it('notices a file that grew after it was opened, naming its path, and does not retry', async () => {
    const file = await fileWith('grow.log', Buffer.from('0123456789'))
    await appendFile(file.source.path, ' and more')
    // The body breaks off before any answer: nothing to script.
    http.fallback(stored)
    const error = await rejectionOf(uploadToS3(http, ticketFor('grow.log'), file))
    expect(error).toBeInstanceOf(LocalFileError)
    expect(error.message).toBe(
      `${file.source.path} changed while it was uploaded (it was 10 bytes when the run began): make sure no other step writes it.`
    )
    expect(isTransient(error)).toBe(false)
  })

  it('notices a file that shrank after it was opened', async () => {
    const file = await fileWith('shrink.log', Buffer.from('0123456789'))
    await truncate(file.source.path, 4)
    http.fallback(stored)
    await expect(uploadToS3(http, ticketFor('shrink.log'), file)).rejects.toThrow(
      `${file.source.path} changed while it was uploaded (it was 10 bytes when the run began)`
    )
  })

  it('reads the file from its first byte on every call, so a retry sends every byte again', async () => {
    const bytes = randomBytes(1024 * 1024 + 3)
    const upload = await fileWith('again.bin', bytes)
    http.on('POST', S3, s3Error(503, 'SlowDown', 'Please reduce your request rate.'), stored)
    await expect(uploadToS3(http, ticketFor('again.bin'), upload)).rejects.toThrow('SlowDown')
    await expect(uploadToS3(http, ticketFor('again.bin'), upload)).resolves.toMatchObject({
      md5: md5(bytes)
    })
    const second = parseMultipart(http.requests[1].body, http.requests[1].headers['content-type'])
    // Compared by digest: a deep equality over a MiB of bytes is slow.
    expect(sha256(second[second.length - 1].data)).toBe(sha256(bytes))
  })
})

describe('formFields', () => {
  it('uses the server mime_type for Content-Type, never a local guess', () => {
    const fields = formFields(ticketFor('a.zip'))
    expect(fields.map(([name]) => name)).toEqual([
      'key',
      'acl',
      'success_action_status',
      'Filename',
      'AWSAccessKeyId',
      'Policy',
      'Signature',
      'Content-Type'
    ])
    expect(fields[7][1]).toBe('application/x-zip-compressed')
  })
})
