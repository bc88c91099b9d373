/**
 * A stand-in for an external S3 store, for the emulator's `externalS3` tests in the normal
 * run (`npm run test:ceph` runs the action against a real one, Ceph's gateway): path-style
 * objects in memory behind signature-version-2 checks, header and presigned. It answers PUT,
 * HEAD, GET and DELETE of objects and PUT of its bucket; it takes no POST Object uploads (a
 * test stores an object with a signed PUT instead, as if an upload had landed).
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { signV2, type ExternalS3 } from '../../emulator/s3-client.js'

export interface FakeStore {
  config: ExternalS3
  /** `METHOD /bucket/key` of every request, signed or not, in order. */
  requests: string[]
  /** Key → bytes. */
  objects: Map<string, Buffer>
  close(): Promise<void>
}

function deny(res: ServerResponse, status = 403, code = 'AccessDenied'): void {
  res.writeHead(status, { 'Content-Type': 'application/xml' })
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message></Message></Error>`
  )
}

export async function startFakeStore(bucket = 'fake-bucket'): Promise<FakeStore> {
  const accessKeyId = 'FAKEACCESSKEY'
  const secretAccessKey = 'fake/secret/key'
  const requests: string[] = []
  const objects = new Map<string, Buffer>()
  const types = new Map<string, string>()

  const signedOk = (req: IncomingMessage, url: URL): boolean => {
    const method = req.method ?? 'GET'
    const header = req.headers.authorization
    if (header !== undefined) {
      const [id, signature] = header.replace(/^AWS /, '').split(':')
      const type = req.headers['content-type'] ?? ''
      const date = req.headers.date ?? ''
      const expected = signV2(secretAccessKey, `${method}\n\n${type}\n${date}\n${url.pathname}`)
      return id === accessKeyId && signature === expected
    }
    const expires = url.searchParams.get('Expires') ?? ''
    if (Number(expires) * 1000 < Date.now()) return false
    // A response override is a signed sub-resource, with its value as is (not URL-encoded).
    const disposition = url.searchParams.get('response-content-disposition')
    const resource =
      disposition === null
        ? url.pathname
        : `${url.pathname}?response-content-disposition=${disposition}`
    const expected = signV2(secretAccessKey, `${method}\n\n\n${expires}\n${resource}`)
    return (
      url.searchParams.get('AWSAccessKeyId') === accessKeyId &&
      url.searchParams.get('Signature') === expected
    )
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://store.invalid')
      const method = req.method ?? 'GET'
      requests.push(`${method} ${url.pathname}`)
      if (!signedOk(req, url)) return deny(res)
      const [, bucketName, ...rest] = url.pathname.split('/')
      if (bucketName !== bucket) return deny(res, 404, 'NoSuchBucket')
      if (rest.length === 0) {
        res.writeHead(method === 'PUT' ? 200 : 405)
        return res.end()
      }
      const key = rest.map(decodeURIComponent).join('/')
      const body = objects.get(key)
      switch (method) {
        case 'PUT': {
          const bytes = Buffer.concat(chunks)
          objects.set(key, bytes)
          types.set(key, req.headers['content-type'] ?? 'binary/octet-stream')
          res.writeHead(200, { ETag: `"${createHash('md5').update(bytes).digest('hex')}"` })
          return res.end()
        }
        case 'GET':
        case 'HEAD':
          if (body === undefined) return deny(res, 404, 'NoSuchKey')
          res.writeHead(200, {
            'Content-Length': body.length,
            'Content-Type': types.get(key) ?? 'binary/octet-stream',
            ETag: `"${createHash('md5').update(body).digest('hex')}"`,
            'Last-Modified': new Date().toUTCString(),
            ...(url.searchParams.has('response-content-disposition')
              ? {
                  'Content-Disposition': url.searchParams.get('response-content-disposition') ?? ''
                }
              : {})
          })
          return res.end(method === 'GET' ? body : undefined)
        case 'DELETE':
          objects.delete(key)
          res.writeHead(204)
          return res.end()
        default:
          return deny(res, 405, 'MethodNotAllowed')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    config: { endpoint: `http://127.0.0.1:${port}`, bucket, accessKeyId, secretAccessKey },
    requests,
    objects,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
