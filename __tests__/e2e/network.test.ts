import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createProxy } from 'proxy'
import { downloadsOutput, fetchBytes, sha256, stage, type Stage } from './harness.js'

let current: Stage | undefined
let proxy: Server | undefined
afterEach(async () => {
  await current?.close()
  current = undefined
  await new Promise((resolve) => proxy?.close(resolve) ?? resolve(undefined))
  proxy = undefined
})

/** A real HTTP proxy on loopback that notes every host it carries traffic to. */
async function startProxy(): Promise<{ url: string; hosts: string[] }> {
  const hosts: string[] = []
  const server = createProxy(createServer())
  // Tunnels (CONNECT host:port) and plain forwarding (GET http://host/…) both count.
  server.prependListener('connect', (req) => hosts.push(String(req.url)))
  server.prependListener('request', (req) => hosts.push(new URL(String(req.url)).host))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy = server
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hosts }
}

describe('proxies', () => {
  it('sends the API and the S3 traffic through http_proxy', async () => {
    const s = (current = await stage())
    await s.files({ 'app.bin': 'through the proxy' })
    const { url, hosts } = await startProxy()

    const result = await s.run({ glob: 'app.bin' }, { http_proxy: url, HTTP_PROXY: url })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    const api = new URL(s.emulator.apiUrl).host
    const s3 = new URL(s.emulator.s3Url).host
    expect(hosts).toContain(api)
    expect(hosts).toContain(s3)
    const [published] = downloadsOutput(result)
    expect(sha256(await fetchBytes(published.html_url))).toBe(sha256('through the proxy'))
  })

  it('goes direct to hosts listed in no_proxy', async () => {
    const s = (current = await stage())
    await s.files({ 'app.bin': 'direct' })
    const { url, hosts } = await startProxy()

    const result = await s.run(
      { glob: 'app.bin' },
      { http_proxy: url, HTTP_PROXY: url, no_proxy: '127.0.0.1', NO_PROXY: '127.0.0.1' }
    )

    expect(result.code).toBe(0)
    expect(hosts).toEqual([])
  })
})

describe('GitHub Enterprise', () => {
  it('falls back to the runner’s GITHUB_API_URL when api-url is empty', async () => {
    const s = (current = await stage())
    await s.files({ 'app.bin': 'ghes' })

    const result = await s.run({ glob: 'app.bin', 'api-url': '' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result)).toHaveLength(1)
  })
})
