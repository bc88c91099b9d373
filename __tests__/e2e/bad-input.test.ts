import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { open, mkdir } from 'node:fs/promises'
import * as path from 'node:path'
import { REPO, stage, type Stage } from './harness.js'

/**
 * Bad input: each case ends with exactly one clear error, exit code 1, and no change to the
 * repository. They share one emulator; each checks that the run sent no changing request.
 */
describe('bad input', () => {
  let s: Stage
  beforeAll(async () => {
    s = await stage()
    s.emulator.seed(REPO, { name: 'existing.txt', content: 'keep me' })
    await s.files({
      'a.txt': 'a',
      'one/same.txt': '1',
      'two/same.txt': '2',
      'existing.txt': 'new'
    })
    await mkdir(path.join(s.workspace, 'only-a-dir'))
    // A sparse file one byte over S3's 5 GiB limit for one POST: no disk is used.
    const big = await open(path.join(s.workspace, 'huge.iso'), 'w')
    await big.truncate(5 * 1024 ** 3 + 1)
    await big.close()
  })
  afterAll(async () => {
    await s.close()
  })

  const cases: [string, Record<string, string>, RegExp][] = [
    ['no file matched', { glob: 'nothing-*.zip' }, /No files matched 'nothing-\*\.zip' in .*glob/],
    ['a directory only', { glob: 'only-a-dir' }, /No files matched 'only-a-dir'/],
    [
      'duplicate names',
      { glob: '*/same.txt' },
      /same download name \(same\.txt: .*one\/same\.txt, .*two\/same\.txt\)/
    ],
    ['an empty token', { glob: 'a.txt', token: '' }, /Input 'token' is empty/],
    [
      'a wrong token',
      { glob: 'a.txt', token: 'not-the-token' },
      /token was refused \(Bad credentials\).*'token' input/
    ],
    [
      'a malformed repository',
      { glob: 'a.txt', repository: 'no-slash' },
      /Input 'repository' must be 'owner\/name'/
    ],
    [
      'an unknown repository',
      { glob: 'a.txt', repository: 'octocat/missing' },
      /Not found .*'repository' \(octocat\/missing\)/
    ],
    [
      'a non-boolean flag',
      { glob: 'a.txt', 'replace-existing': 'yes' },
      /Input 'replace-existing' must be true or false, got 'yes'/
    ],
    [
      'a file over 5 GiB',
      { glob: 'huge.iso' },
      /huge\.iso is 5368709121 bytes; one upload to S3 carries at most 5 GiB/
    ],
    [
      'a non-loopback http API URL',
      { glob: 'a.txt', 'api-url': 'http://ghe.example.com/api/v3' },
      /Input 'api-url' must use https/
    ],
    [
      'an unknown if-no-files-found',
      { glob: 'a.txt', 'if-no-files-found': 'maybe' },
      /Input 'if-no-files-found' must be one of error, warn, ignore/
    ],
    [
      'a concurrency of zero',
      { glob: 'a.txt', concurrency: '0' },
      /Input 'concurrency' must be a whole number from 1 to 32/
    ],
    [
      'a clash without replace-existing',
      { glob: 'existing.txt' },
      /already exists in octocat\/hello-world .*existing\.txt.*replace-existing/
    ],
    ['only excludes', { glob: '!a.txt' }, /Input 'glob' only excludes/],
    [
      'an API URL that is no URL',
      { glob: 'a.txt', 'api-url': 'not a url' },
      /Input 'api-url' must be the REST API's base URL/
    ],
    [
      'a non-numeric max-attempts',
      { glob: 'a.txt', 'max-attempts': 'many' },
      /Input 'max-attempts' must be a whole number/
    ]
  ]

  it.each(cases)('%s: one clear error, nothing changed', async (_name, inputs, message) => {
    const before = s.emulator.requests.length
    const result = await s.run(inputs)

    expect(result.code).toBe(1)
    expect(result.errors).toHaveLength(1)
    expect(result.errors[0]).toMatch(message)
    // The job summary says so too.
    expect(result.summary).toContain('nothing published')
    const changing = s.emulator.requests
      .slice(before)
      .filter((r) => r.method === 'POST' || r.method === 'DELETE')
    expect(changing).toEqual([])
    expect(s.emulator.downloads(REPO).map((d) => d.name)).toEqual(['existing.txt'])
  })
})
