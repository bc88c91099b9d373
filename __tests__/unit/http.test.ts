import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CancelledError, NetworkError } from '../../src/errors.js'
import { createHttpClient, type HttpClient } from '../../src/http.js'
import { isTransient } from '../../src/retry.js'

let server: Server | undefined
let client: HttpClient | undefined
afterEach(async () => {
  await client?.close()
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = client = undefined
})

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler)
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function* slowBody(chunks: number, everyMs: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < chunks; i++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs))
    yield Buffer.alloc(1024, i)
  }
}

describe('createHttpClient timeouts', () => {
  it('gives up on a server that stays silent, as a transient network error', async () => {
    const url = await serve(() => {
      // Never answers.
    })
    client = createHttpClient({ connectMs: 1000, idleMs: 300 })

    const error = await client.request({ method: 'GET', url }).then(
      () => undefined,
      (e: unknown) => e
    )

    expect(error).toBeInstanceOf(NetworkError)
    expect(isTransient(error)).toBe(true)
    expect((error as Error).message).toMatch(/Timeout/i)
  })

  it('does not time out an upload that takes longer than the idle limit but keeps moving', async () => {
    const url = await serve((req, res) => {
      let received = 0
      req.on('data', (chunk: Buffer) => (received += chunk.length))
      req.on('end', () => res.end(String(received)))
    })
    client = createHttpClient({ connectMs: 1000, idleMs: 300 })

    // Twenty chunks 100 ms apart: two seconds in all, over six idle limits.
    const res = await client.request({
      method: 'POST',
      url,
      headers: { 'content-length': String(20 * 1024) },
      body: slowBody(20, 100)
    })

    expect(res.status).toBe(200)
    expect(await res.text()).toBe(String(20 * 1024))
  })

  it('never follows a redirect: the caller sees the 3xx', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end()
    })
    client = createHttpClient()

    const res = await client.request({ method: 'GET', url, headers: { authorization: 'token t' } })

    expect(res.status).toBe(302)
    expect(res.headers.location).toBe('http://127.0.0.1:9/elsewhere')
    await res.dump()
  })
})

describe('createHttpClient answers and cancellation', () => {
  it('stops a request that waits for its answer when its signal aborts', async () => {
    const url = await serve(() => {
      // Never answers.
    })
    client = createHttpClient()
    const controller = new AbortController()

    const pending = client.request({ method: 'GET', url, signal: controller.signal })
    setTimeout(() => controller.abort(new Error('cancelled (SIGINT)')), 50)
    const error = await pending.then(
      () => undefined,
      (e: unknown) => e
    )

    expect(error).toBeInstanceOf(CancelledError)
  })

  it('stops every request in flight under one signal, and later ones at once', async () => {
    const url = await serve(() => {
      // Never answers.
    })
    const http = createHttpClient()
    client = http
    const controller = new AbortController()
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => 'answered',
        (e: unknown) => (e instanceof CancelledError ? 'cancelled' : String(e))
      )

    const pending = [1, 2, 3].map(() =>
      settle(http.request({ method: 'GET', url, signal: controller.signal }))
    )
    await new Promise((resolve) => setTimeout(resolve, 50))
    controller.abort(new Error('cancelled (SIGINT)'))

    expect(await Promise.all(pending)).toEqual(['cancelled', 'cancelled', 'cancelled'])
    expect(await settle(http.request({ method: 'GET', url, signal: controller.signal }))).toBe(
      'cancelled'
    )
  })

  it('reads a large answer in full, and discards one it was not asked to read', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'x')
    const url = await serve((_req, res) => res.end(big))
    client = createHttpClient()

    const read = await client.request({ method: 'GET', url })
    expect((await read.text()).length).toBe(big.length)
    const dumped = await client.request({ method: 'GET', url })
    await dumped.dump()
    // The connection is still good for the next request.
    const again = await client.request({ method: 'GET', url })
    expect(again.status).toBe(200)
    await again.dump()
  })

  it('tells of an answer cut off after its headers when it is read', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' })
      res.write('partial')
      setTimeout(() => res.destroy(), 20)
    })
    client = createHttpClient()

    const res = await client.request({ method: 'GET', url })
    // Read only once the connection is gone: the failure must still reach the reader.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const error = await res.text().then(
      () => undefined,
      (e: unknown) => e
    )

    expect(error).toBeInstanceOf(NetworkError)
    expect(isTransient(error)).toBe(true)
  })
})
