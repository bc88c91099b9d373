import { describe, expect, it } from '@jest/globals'
import {
  downloadsOutput,
  fetchBytes,
  sha256,
  closeAfterTest,
  stage,
  startProxy
} from './harness.js'

describe('proxies', () => {
  it('sends the API and the S3 traffic through http_proxy', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'app.bin': 'through the proxy' })
    const proxy = closeAfterTest(await startProxy())
    const { url, hosts } = proxy

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
    const s = closeAfterTest(await stage())
    await s.files({ 'app.bin': 'direct' })
    const proxy = closeAfterTest(await startProxy())
    const { url, hosts } = proxy

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
    const s = closeAfterTest(await stage())
    await s.files({ 'app.bin': 'ghes' })

    const result = await s.run({ glob: 'app.bin', 'api-url': '' })

    expect(result.code).toBe(0)
    expect(downloadsOutput(result)).toHaveLength(1)
  })
})
