import { describe, expect, it } from '@jest/globals'
import { isLoopbackHost, isSecureOrLocal } from '../../src/urls.js'

describe('isLoopbackHost', () => {
  it.each([
    'localhost',
    'LOCALHOST',
    'emulator.localhost',
    '127.0.0.1',
    '127.1.2.3',
    '[::1]',
    '::1'
  ])('%s is this machine', (host) => {
    expect(isLoopbackHost(host)).toBe(true)
  })

  it.each([
    'example.com',
    'localhost.example.com',
    '127.0.0.1.nip.io',
    '10.0.0.1',
    '0.0.0.0',
    '[::2]',
    '[::ffff:10.0.0.1]'
  ])('%s is not', (host) => {
    expect(isLoopbackHost(host)).toBe(false)
  })
})

describe('isSecureOrLocal', () => {
  it.each([
    ['https://example.com/', true],
    ['http://127.0.0.1:3000/', true],
    ['http://[::1]:3000/', true],
    ['http://localhost/', true],
    ['http://example.com/', false],
    ['http://localhost.example.com/', false],
    ['ftp://localhost/', false],
    ['file:///etc/passwd', false]
  ])('%s → %p', (url, expected) => {
    expect(isSecureOrLocal(new URL(url))).toBe(expected)
  })
})
