import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { downloadsOutput, closeAfterTest, itWithOwnS3, stage, startProxy } from './harness.js'

/**
 * GitHub Enterprise Server behind a private CA: the emulator serves HTTPS with a certificate
 * that a throwaway CA signed, and the runner trusts that CA through NODE_EXTRA_CA_CERTS.
 */
let certs: string
let tls: { key: Buffer; cert: Buffer }
beforeAll(async () => {
  certs = await mkdtemp(path.join(tmpdir(), 'ca-'))
  const at = (name: string): string => path.join(certs, name)
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' })
  }
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Emulator test CA'
  )
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1'
  )
  await writeFile(at('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext'
  )
  tls = { key: await readFile(at('server.key')), cert: await readFile(at('server.pem')) }
})
afterAll(async () => {
  await rm(certs, { recursive: true, force: true })
})

describe('HTTPS with a private CA', () => {
  it('uploads when NODE_EXTRA_CA_CERTS names the CA', async () => {
    const s = closeAfterTest(await stage({ tls }))
    await s.files({ 'app.bin': 'over tls' })
    expect(s.emulator.apiUrl).toMatch(/^https:/)

    const result = await s.run(
      { glob: 'app.bin' },
      { NODE_EXTRA_CA_CERTS: path.join(certs, 'ca.pem') }
    )

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    expect(downloadsOutput(result)[0].name).toBe('app.bin')
    expect(s.emulator.downloads('octocat/hello-world')[0].uploaded).toBe(true)
  })

  it('without the CA: one error that says what to do, no retries, nothing changed', async () => {
    const s = closeAfterTest(await stage({ tls }))
    await s.files({ 'app.bin': 'over tls' })

    const result = await s.run({ glob: 'app.bin' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY/)
    expect(result.errors[0]).toContain('NODE_EXTRA_CA_CERTS')
    expect(result.stdout).not.toMatch(/attempt 1 failed/)
    expect(s.changes()).toEqual([])
  })

  itWithOwnS3('the gateway serves plain http on loopback, so the S3 hop takes no https_proxy')(
    'tunnels through https_proxy to an HTTPS server',
    async () => {
      const s = closeAfterTest(await stage({ tls }))
      await s.files({ 'app.bin': 'tunnelled' })
      const proxy = closeAfterTest(await startProxy())

      const result = await s.run(
        { glob: 'app.bin' },
        {
          NODE_EXTRA_CA_CERTS: path.join(certs, 'ca.pem'),
          https_proxy: proxy.url,
          HTTPS_PROXY: proxy.url
        }
      )

      expect(result.code).toBe(0)
      expect(proxy.hosts).toContain(new URL(s.emulator.apiUrl).host)
      expect(proxy.hosts).toContain(new URL(s.emulator.s3Url).host)
    }
  )
})
