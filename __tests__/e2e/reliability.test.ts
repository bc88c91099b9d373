import { describe, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import {
  downloadsOutput,
  fetchBytes,
  itWithOwnS3,
  onCeph,
  REPO,
  sha256,
  closeAfterTest,
  stage,
  TOKEN,
  type Stage
} from './harness.js'

/** Why a test is not run on Ceph: it scripts faults on the S3 hop, which the emulator serves. */
const S3_FAULTS = 'scripts faults on the emulator’s own S3 hop'

/** Every download in the repository has its bytes, and each name is there once. */
function expectNoOrphanNoDuplicate(s: Stage): void {
  const stored = s.emulator.downloads(REPO)
  expect(stored.filter((d) => !d.uploaded).map((d) => d.name)).toEqual([])
  expect(new Set(stored.map((d) => d.name)).size).toBe(stored.length)
}

const API_FAULTS = [
  ['list', { hop: 'list', status: 503 }],
  ['list (reset)', { hop: 'list', reset: true }],
  ['create', { hop: 'create', status: 502 }],
  ['create (reset)', { hop: 'create', reset: true }]
] as const
const S3_HOP_FAULTS = [
  ['S3 SlowDown', { hop: 's3', status: 503, s3Code: 'SlowDown' }],
  ['S3 InternalError', { hop: 's3', status: 500, s3Code: 'InternalError' }],
  ['S3 reset mid-body', { hop: 's3', reset: true }],
  ['S3 answer lost after storing', { hop: 's3', resetAfterCommit: true }]
] as const

describe('transient faults on every hop', () => {
  const s3Each = onCeph ? it.skip.each(S3_HOP_FAULTS) : it.each(S3_HOP_FAULTS)
  it.each(API_FAULTS)('%s: retried, and the file lands byte-exact', retriedAndLands)
  s3Each(
    `%s: retried, and the file lands byte-exact${onCeph ? ` [not on Ceph: ${S3_FAULTS}]` : ''}`,
    retriedAndLands
  )

  async function retriedAndLands(
    _name: string,
    rule: (typeof API_FAULTS | typeof S3_HOP_FAULTS)[number][1]
  ): Promise<void> {
    const s = closeAfterTest(await stage())
    const bytes = randomBytes(200_000)
    await s.files({ 'app.bin': bytes })
    s.emulator.faults.inject({ ...rule, times: 2 })

    const result = await s.run({ glob: 'app.bin' })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    expect(s.emulator.faults.total).toBe(2)
    expect(result.stdout).toMatch(/attempt 2 failed/)
    const [published] = downloadsOutput(result)
    expect(sha256(await fetchBytes(published.html_url))).toBe(sha256(bytes))
    expectNoOrphanNoDuplicate(s)
  }

  it('a delete that fails once during a replace is retried', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'app.bin', content: 'old' })
    await s.files({ 'app.bin': 'new' })
    s.emulator.faults.inject({ hop: 'delete', status: 500 })

    const result = await s.run({ glob: 'app.bin', 'replace-existing': 'true' })

    expect(result.code).toBe(0)
    expect((await fetchBytes(downloadsOutput(result)[0].html_url)).toString()).toBe('new')
    expectNoOrphanNoDuplicate(s)
  })

  it('a create whose answer was lost is recognised as the run’s own', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'app.bin': 'payload' })
    s.emulator.faults.inject({ hop: 'create', resetAfterCommit: true })

    const result = await s.run({ glob: 'app.bin' })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('was lost, but the server made it')
    expect(s.emulator.downloads(REPO).map((d) => [d.name, d.uploaded])).toEqual([['app.bin', true]])
  })

  it('an expired policy gets a fresh download resource', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'app.bin': 'payload' })
    s.emulator.setPolicyTtl(-60)
    s.emulator.faults.inject({
      hop: 'create',
      // Let the first create issue an already-expired policy, then restore the normal one.
      match: () => {
        setImmediate(() => s.emulator.setPolicyTtl(3600))
        return false
      }
    })

    const result = await s.run({ glob: 'app.bin' })

    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('policy for app.bin expired')
    expect(s.emulator.downloads(REPO).map((d) => [d.name, d.uploaded])).toEqual([['app.bin', true]])
  })
})

describe('failures that cannot be ridden out', () => {
  itWithOwnS3(S3_FAULTS)(
    'a file S3 refuses for good leaves no record behind, and the others still land',
    async () => {
      const s = closeAfterTest(await stage())
      await s.files({ 'a.bin': 'a', 'b.bin': 'b', 'c.bin': 'c' })
      s.emulator.faults.inject({
        hop: 's3',
        status: 403,
        s3Code: 'SignatureDoesNotMatch',
        match: (req) => req.name === 'b.bin'
      })

      const result = await s.run({ glob: '*.bin', concurrency: '1' })

      expect(result.code).toBe(1)
      expect(result.errors).toHaveLength(1)
      expect(result.errors[0]).toMatch(/^b\.bin: S3 refused b\.bin: SignatureDoesNotMatch/)
      expect(s.emulator.downloads(REPO).map((d) => d.name)).toEqual(['a.bin', 'c.bin'])
      expectNoOrphanNoDuplicate(s)
      expect(downloadsOutput(result).map((d) => d.name)).toEqual(['a.bin', 'c.bin'])
      expect(result.summary).toContain('Not published')
    }
  )

  itWithOwnS3(S3_FAULTS)(
    'a large file S3 refuses before reading it fails at once with S3’s code, not a network error',
    async () => {
      const s = closeAfterTest(await stage())
      await s.files({ 'big.bin': randomBytes(16 * 1024 * 1024) })
      s.emulator.faults.inject({ hop: 's3', status: 403, s3Code: 'SignatureDoesNotMatch' })

      const result = await s.run({ glob: 'big.bin' })

      expect(result.code).toBe(1)
      expect(result.errors).toEqual([
        expect.stringMatching(/^big\.bin: S3 refused big\.bin: SignatureDoesNotMatch/)
      ])
      expect(result.stdout).not.toMatch(/attempt 1 failed/)
      expect(s.emulator.downloads(REPO)).toEqual([])
    }
  )

  itWithOwnS3(S3_FAULTS)('gives up after max-attempts on a server that stays broken', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a' })
    s.emulator.faults.inject({ hop: 's3', status: 503, s3Code: 'ServiceUnavailable', times: 3 })

    const result = await s.run({ glob: 'a.bin', 'max-attempts': '3' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/ServiceUnavailable.*gave up after 3 attempts/)
    expect(s.emulator.downloads(REPO)).toEqual([])
  })

  itWithOwnS3(S3_FAULTS)('a failed replace puts the previous version back', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'app.bin', content: 'the old bytes', description: 'v1' })
    await s.files({ 'app.bin': 'the new bytes' })
    s.emulator.faults.inject({
      hop: 's3',
      status: 403,
      s3Code: 'AccessDenied',
      message: 'Access Denied'
    })

    const result = await s.run({ glob: 'app.bin', 'replace-existing': 'true', description: 'v2' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(
      /The previous version of app\.bin was put back \(download \d+\)/
    )
    expect(result.post.stdout).toContain('the main step left nothing half-done')
    const stored = s.emulator.downloads(REPO)
    expect(stored.map((d) => [d.name, d.description, d.uploaded])).toEqual([
      ['app.bin', 'v1', true]
    ])
    expect(stored[0].sha256).toBe(sha256('the old bytes'))
  })
  itWithOwnS3(S3_FAULTS)(
    'when restoring fails too, the copy is kept and the post step puts it back',
    async () => {
      const s = closeAfterTest(await stage())
      s.emulator.seed(REPO, { name: 'app.bin', content: 'the old bytes', description: 'v1' })
      await s.files({ 'app.bin': 'the new bytes' })
      // Both the new upload and the restore's upload are refused; the post step's goes through.
      s.emulator.faults.inject({ hop: 's3', status: 403, s3Code: 'AccessDenied', times: 2 })

      const result = await s.run({ glob: 'app.bin', 'replace-existing': 'true' })

      expect(result.code).toBe(1)
      expect(result.errors).toHaveLength(1)
      expect(result.errors[0]).toMatch(
        /Putting back the previous version of app\.bin failed too .*its bytes are kept at \S+previous-1, and the post step tries again/
      )
      expect(result.post.code).toBe(0)
      expect(result.post.stdout).toMatch(
        /app\.bin: put back the previous version from its saved copy/
      )
      expect(result.post.summary).toContain('app.bin')
      const stored = s.emulator.downloads(REPO)
      expect(stored.map((d) => [d.name, d.description, d.uploaded])).toEqual([
        ['app.bin', 'v1', true]
      ])
      expect(stored[0].sha256).toBe(sha256('the old bytes'))
      expectNoOrphanNoDuplicate(s)
    }
  )
})

describe('refusals the store makes itself (on Ceph: the gateway’s own answers)', () => {
  // A policy signed with a wrong secret: the emulator's S3 says SignatureDoesNotMatch, Ceph's
  // gateway a bare AccessDenied with an empty message.
  const refused = (name: string): RegExp => {
    const escaped = name.replace(/\./g, '\\.')
    const answer = onCeph ? 'AccessDenied \\(the store gave no reason' : 'SignatureDoesNotMatch: '
    return new RegExp(`^${escaped}: S3 refused ${escaped}: ${answer}`)
  }

  it('a file whose signed form the store refuses leaves no record behind, and the others land', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a', 'b.bin': 'b', 'c.bin': 'c' })
    s.emulator.faults.inject({
      hop: 'create',
      badSignature: true,
      match: (req) => req.name === 'b.bin'
    })

    const result = await s.run({ glob: '*.bin', concurrency: '1' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(refused('b.bin'))
    // Refused for good: one attempt.
    expect(result.stdout).not.toMatch(/b\.bin.*attempt 1 failed/)
    expect(s.emulator.downloads(REPO).map((d) => d.name)).toEqual(['a.bin', 'c.bin'])
    expectNoOrphanNoDuplicate(s)
    expect(downloadsOutput(result).map((d) => d.name)).toEqual(['a.bin', 'c.bin'])
  })

  it('a replace whose upload is refused puts the previous version back', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'app.bin', content: 'the old bytes', description: 'v1' })
    await s.files({ 'app.bin': 'the new bytes' })
    s.emulator.faults.inject({ hop: 'create', badSignature: true })

    const result = await s.run({ glob: 'app.bin', 'replace-existing': 'true', description: 'v2' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(refused('app.bin'))
    expect(result.errors[0]).toMatch(
      /The previous version of app\.bin was put back \(download \d+\)/
    )
    const stored = s.emulator.downloads(REPO)
    expect(stored.map((d) => [d.name, d.description, d.uploaded])).toEqual([
      ['app.bin', 'v1', true]
    ])
    expect(stored[0].sha256).toBe(sha256('the old bytes'))
  })

  it('when putting it back is refused too, the post step puts it back', async () => {
    const s = closeAfterTest(await stage())
    s.emulator.seed(REPO, { name: 'app.bin', content: 'the old bytes', description: 'v1' })
    await s.files({ 'app.bin': 'the new bytes' })
    s.emulator.faults.inject({ hop: 'create', badSignature: true, times: 2 })

    const result = await s.run({ glob: 'app.bin', 'replace-existing': 'true' })

    expect(result.code).toBe(1)
    expect(result.errors[0]).toMatch(/Putting back the previous version of app\.bin failed too/)
    expect(result.post.code).toBe(0)
    expect(result.post.stdout).toMatch(
      /app\.bin: put back the previous version from its saved copy/
    )
    const stored = s.emulator.downloads(REPO)
    expect(stored.map((d) => [d.name, d.description, d.uploaded])).toEqual([
      ['app.bin', 'v1', true]
    ])
    expect(stored[0].sha256).toBe(sha256('the old bytes'))
    expectNoOrphanNoDuplicate(s)
  })
})

describe('rate limits', () => {
  it('waits out a primary limit, sending nothing meanwhile', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a' })
    s.emulator.faults.inject({ hop: 'create', rateLimit: 'primary', resetInSeconds: 1 })

    const result = await s.run({ glob: 'a.bin' })

    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/primary rate limit: holding every request/)
    const creates = s.emulator.requests.filter((r) => r.hop === 'create')
    expect(creates.map((r) => r.status)).toEqual([403, 201])
  })

  it('fails saying when the limit lifts when that is beyond rate-limit-wait, changing nothing', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a' })
    s.emulator.faults.inject({ hop: 'list', rateLimit: 'primary', resetInSeconds: 600 })

    const result = await s.run({ glob: 'a.bin', 'rate-limit-wait': '5' })

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(
      /primary rate limit is exhausted.*lifts at \d{4}-\d\d-\d\dT.*rate-limit-wait/
    )
    expect(s.changes()).toEqual([])
  })

  it('honours retry-after on a secondary limit and lowers the concurrency', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a', 'b.bin': 'b', 'c.bin': 'c', 'd.bin': 'd' })
    s.emulator.faults.inject({ hop: 'create', rateLimit: 'secondary', retryAfterSeconds: 1 })

    const result = await s.run({ glob: '*.bin', concurrency: '4' })

    expect(result.code).toBe(0)
    expect(result.warnings.join('\n')).toMatch(/secondary rate limit hit: uploading 2 at a time/)
    expect(downloadsOutput(result)).toHaveLength(4)
  })
})

describe('secrets', () => {
  it('with debug logging on, no token, policy, signature or access key id reaches the log unmasked', async () => {
    const s = closeAfterTest(await stage())
    await s.files({ 'a.bin': 'a', 'b.bin': 'b' })

    const result = await s.run({ glob: '*.bin' }, { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' })

    expect(result.code).toBe(0)
    const lines = result.stdout.split('\n')
    const masked = lines
      .filter((l) => l.startsWith('::add-mask::'))
      .map((l) => l.slice('::add-mask::'.length))
    expect(masked).toContain(TOKEN)
    // Per create: policy, signature, access key id.
    expect(masked.length).toBeGreaterThanOrEqual(1 + 2 * 3)
    for (const secret of masked) {
      const leaks = lines.filter((l) => !l.startsWith('::add-mask::') && l.includes(secret))
      expect(leaks).toEqual([])
    }
  })
})

describe('soak', () => {
  it('100 files through a seeded 20% rate of mixed transient faults on every hop all land byte-exact', async () => {
    const s = closeAfterTest(await stage())
    const files: Record<string, Buffer> = {}
    for (let i = 0; i < 100; i++)
      files[`file-${String(i).padStart(3, '0')}.bin`] = randomBytes(1000 + i * 37)
    await s.files(files)
    s.emulator.faults.random({ seed: 20261124, rate: 0.2, retryAfterSeconds: 1 })

    const result = await s.run({ glob: '*.bin', 'max-attempts': '10', concurrency: '8' })

    s.emulator.faults.random(null)
    const retries = (result.stdout.match(/attempt \d+ failed/g) ?? []).length
    const figures = {
      files: 100,
      faultsInjected: s.emulator.faults.total,
      byKind: s.emulator.faults.injected,
      retries,
      exitCode: result.code,
      seconds: result.elapsedMs / 1000
    }
    process.stdout.write(`soak: ${JSON.stringify(figures)}\n`)
    expect(result.errors).toEqual([])
    expect(result.code).toBe(0)
    // On Ceph only the API's hops draw (the uploads go past the emulator): fewer faults.
    expect(s.emulator.faults.total).toBeGreaterThan(onCeph ? 15 : 30)
    const published = downloadsOutput(result)
    expect(published).toHaveLength(100)
    for (const d of published) {
      expect(d.sha256).toBe(sha256(files[d.name]))
    }
    const stored = s.emulator.downloads(REPO)
    expect(stored).toHaveLength(100)
    for (const d of stored) expect(d.sha256).toBe(sha256(files[d.name]))
    expectNoOrphanNoDuplicate(s)
  }, 300_000)
})
