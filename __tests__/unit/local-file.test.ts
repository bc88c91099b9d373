import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash, randomBytes } from 'node:crypto'
import { appendFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { LocalFileError } from '../../src/errors.js'
import type { SourceFile } from '../../src/files.js'
import { digestsOf, LocalFile } from '../../src/local-file.js'
import { isTransient, withRetry } from '../../src/retry.js'
import { rejectionOf } from '../helpers/rejection.js'

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'local-file-test-'))
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function sourceWith(name: string, bytes: Buffer): Promise<SourceFile> {
  const file = path.join(dir, name)
  await writeFile(file, bytes)
  return { path: file, name, size: bytes.length, contentType: 'application/zip' }
}

const digest = (algorithm: string, bytes: Buffer) =>
  createHash(algorithm).update(bytes).digest('hex')

describe('LocalFile.open', () => {
  it('fails on a missing file with a LocalFileError naming its path, which no retry repeats', async () => {
    const missing: SourceFile = {
      path: path.join(dir, 'gone.zip'),
      name: 'gone.zip',
      size: 3,
      contentType: 'application/zip'
    }
    let attempts = 0
    const error = await rejectionOf(
      withRetry('Uploading gone.zip', { maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 0 }, () => {
        attempts++
        return LocalFile.open(missing)
      })
    )

    expect(error).toBeInstanceOf(LocalFileError)
    expect(error.message).toBe(
      `Cannot read ${missing.path} (it no longer exists): make sure no later step removes or locks it before this one.`
    )
    expect(isTransient(error)).toBe(false)
    expect(attempts).toBe(1)
  })

  it('fails on a file whose size is no longer the one measured', async () => {
    const source = await sourceWith('app.zip', Buffer.from('0123456789'))
    await appendFile(source.path, 'more')
    await expect(LocalFile.open(source)).rejects.toThrow(
      `${source.path} changed while it was uploaded (it was 10 bytes when the run began): make sure no other step writes it.`
    )
  })
})

describe('LocalFile, once open', () => {
  it('reads the bytes at any position', async () => {
    const source = await sourceWith('app.zip', Buffer.from('0123456789'))
    const file = await LocalFile.open(source)
    try {
      expect((await file.read(Buffer.alloc(4), 4, 3)).toString()).toBe('3456')
      expect((await file.read(Buffer.alloc(4), 4, 0)).toString()).toBe('0123')
    } finally {
      await file.close()
    }
  })

  it('says the file changed when it shrank and a read comes up short', async () => {
    const source = await sourceWith('app.zip', Buffer.from('0123456789'))
    const file = await LocalFile.open(source)
    try {
      await truncate(source.path, 5)
      const error = await rejectionOf(file.read(Buffer.alloc(10), 10, 0))
      expect(error).toBeInstanceOf(LocalFileError)
      expect(error.message).toMatch(
        `${source.path} changed while it was uploaded (it was 10 bytes when the run began)`
      )
    } finally {
      await file.close()
    }
  })

  it('says the file changed when it grew', async () => {
    const source = await sourceWith('app.zip', Buffer.from('0123456789'))
    const file = await LocalFile.open(source)
    try {
      await appendFile(source.path, 'more')
      expect(() => file.checkSize()).toThrow(
        `${source.path} changed while it was uploaded (it was 10 bytes when the run began)`
      )
    } finally {
      await file.close()
    }
  })
})

describe('digestsOf', () => {
  it.each([
    ['an empty file', 0],
    ['a small file', 5],
    ['a file of several read buffers', 2 * 1024 * 1024 + 7]
  ])('gives the MD5 and SHA-256 node:crypto gives, for %s', async (_what, size) => {
    const bytes = randomBytes(size)
    const source = await sourceWith('data.bin', bytes)
    expect(await digestsOf(source)).toEqual({
      md5: digest('md5', bytes),
      sha256: digest('sha256', bytes)
    })
  })

  it('fails, naming the path, on a file that vanished', async () => {
    const source = await sourceWith('data.bin', Buffer.from('x'))
    await rm(source.path)
    await expect(digestsOf(source)).rejects.toThrow(`Cannot read ${source.path}`)
  })
})
