import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { ACTION_DEFAULTS, createCoreFake } from '../helpers/core-fake.js'

const fake = createCoreFake()
jest.unstable_mockModule('@actions/core', () => fake.module)
const { readInputs } = await import('../../src/inputs.js')

const savedEnv = { ...process.env }

beforeEach(() => {
  fake.reset({ ...ACTION_DEFAULTS, glob: 'dist/*.zip' })
  process.env.GITHUB_WORKSPACE = '/home/runner/work/hello-world/hello-world'
  delete process.env.GITHUB_API_URL
})

afterEach(() => {
  process.env = { ...savedEnv }
})

/** readInputs with one input changed from action.yml's defaults. */
function readWith(name: string, value: string) {
  fake.inputs[name] = value
  return readInputs()
}

describe('readInputs', () => {
  it("reads action.yml's defaults into typed values", () => {
    expect(readInputs()).toEqual({
      patterns: ['dist/*.zip'],
      description: '',
      replaceExisting: false,
      token: 'test-token',
      owner: 'octocat',
      repo: 'hello-world',
      apiUrl: 'https://api.github.com',
      ifNoFilesFound: 'error',
      includeHiddenFiles: false,
      dryRun: false,
      concurrency: 4,
      maxAttempts: 5,
      rateLimitWait: 600,
      nameOf: undefined,
      checksumsFile: undefined,
      prune: [],
      pruneKeep: 0,
      workspace: '/home/runner/work/hello-world/hello-world'
    })
  })

  it.each([
    ["action.yml's {name}", '{name}'],
    ['an empty template', '']
  ])('keeps base names for %s', (_label, template) => {
    expect(readWith('name-template', template).nameOf).toBeUndefined()
  })

  it('reads a name template into a function that names files', () => {
    fake.inputs['name-template'] = '{stem}-linux{ext}'
    expect(readInputs().nameOf?.('/w/dist/app.tar.gz')).toBe('app-linux.tar.gz')
  })

  it.each([
    ['{nme}', /unknown placeholder \{nme\}/],
    ['{stem', /'\{' without its '\}'/],
    ['stem}', /'\}' without its '\{'/]
  ])('refuses the name template %s, naming the problem', (template, message) => {
    fake.inputs['name-template'] = template
    expect(() => readInputs()).toThrow(message)
  })

  it('refuses a checksums-file that no download could be named', () => {
    fake.inputs['checksums-file'] = 'sums/SHA256'
    expect(() => readInputs()).toThrow(/Input 'checksums-file' must be a download name/)
  })

  it('reads prune patterns without comments, and prune-keep as a whole number', () => {
    fake.inputs.prune = 'app-nightly-*\n# old style\n  app-rc-?.zip  '
    fake.inputs['prune-keep'] = '4'
    expect(readInputs()).toMatchObject({ prune: ['app-nightly-*', 'app-rc-?.zip'], pruneKeep: 4 })
    fake.inputs['prune-keep'] = '-1'
    expect(() => readInputs()).toThrow(/Input 'prune-keep' must be a whole number/)
  })

  it('masks the token', () => {
    fake.inputs.token = 'ghp_secret123'
    readInputs()
    expect(fake.secrets).toContain('ghp_secret123')
  })

  it('drops blank and # comment lines from the glob and keeps ! excludes', () => {
    const inputs = readWith(
      'glob',
      '# build output\nout/*.tar.gz\n\n  !out/debug-*.tar.gz  \n#out/x'
    )
    expect(inputs.patterns).toEqual(['out/*.tar.gz', '!out/debug-*.tar.gz'])
  })

  it('reads true/false in the YAML spellings and the other values as given', () => {
    Object.assign(fake.inputs, {
      'replace-existing': 'True',
      'dry-run': 'TRUE',
      'include-hidden-files': 'true',
      'if-no-files-found': 'Warn',
      concurrency: '32',
      'max-attempts': '1',
      'rate-limit-wait': '0',
      description: 'Nightly build'
    })
    const inputs = readInputs()
    expect(inputs).toMatchObject({
      replaceExisting: true,
      dryRun: true,
      includeHiddenFiles: true,
      ifNoFilesFound: 'warn',
      concurrency: 32,
      maxAttempts: 1,
      rateLimitWait: 0,
      description: 'Nightly build'
    })
  })

  it('falls back to GITHUB_API_URL and to the working directory', () => {
    fake.inputs['api-url'] = ''
    process.env.GITHUB_API_URL = 'https://ghe.example.com/api/v3'
    delete process.env.GITHUB_WORKSPACE
    const inputs = readInputs()
    expect(inputs.apiUrl).toBe('https://ghe.example.com/api/v3')
    expect(inputs.workspace).toBe(process.cwd())
  })

  describe('refuses a bad value with one error naming the input and what it takes', () => {
    it('an empty token', () => {
      expect(() => readWith('token', '')).toThrow(/^Input 'token' is empty: pass a token/)
    })

    it.each(['noslash', 'a/b/c', '-x/y', 'o/..', 'o/.', '', 'own er/repo'])(
      'repository %p',
      (value) => {
        expect(() => readWith('repository', value)).toThrow(
          `Input 'repository' must be 'owner/name' (e.g. octocat/hello-world); got '${value}'.`
        )
      }
    )

    it.each(['replace-existing', 'dry-run', 'include-hidden-files'])('%s: yes', (name) => {
      expect(() => readWith(name, 'yes')).toThrow(
        `Input '${name}' must be true or false, got 'yes'.`
      )
    })

    it('if-no-files-found: an unknown choice', () => {
      expect(() => readWith('if-no-files-found', 'fail')).toThrow(
        "Input 'if-no-files-found' must be one of error, warn, ignore; got 'fail'."
      )
    })

    it.each(['0', '33', 'abc', '-1', '2.5', ''])('concurrency %p', (value) => {
      expect(() => readWith('concurrency', value)).toThrow(
        `Input 'concurrency' must be a whole number from 1 to 32; got '${value}'.`
      )
    })

    it.each([
      ['max-attempts', '0', 'from 1 to 20'],
      ['max-attempts', '21', 'from 1 to 20'],
      ['rate-limit-wait', '3601', 'from 0 to 3600']
    ])('%s %p', (name, value, range) => {
      expect(() => readWith(name, value)).toThrow(
        `Input '${name}' must be a whole number ${range}; got '${value}'.`
      )
    })

    it('api-url that is not a URL', () => {
      expect(() => readWith('api-url', 'api.github.com')).toThrow(
        "Input 'api-url' must be the REST API's base URL (e.g. https://api.github.com); got 'api.github.com'."
      )
    })

    it.each(['http://example.com', 'http://api.github.com/', 'ftp://localhost/'])(
      'api-url %p: plain http to another machine',
      (value) => {
        expect(() => readWith('api-url', value)).toThrow(
          `Input 'api-url' must use https (plain http is accepted only for localhost); got '${value}'.`
        )
      }
    )

    it.each(['https://user:pw@ghe.example.com', 'https://ghe.example.com/api/v3?x=1'])(
      'api-url %p: credentials or a query',
      (value) => {
        expect(() => readWith('api-url', value)).toThrow(
          /^Input 'api-url' must be a plain base URL without query, fragment or credentials/
        )
      }
    )

    // Bug: an empty query or fragment ('…/v3?' or '…/v3#') passes, since URL.search and
    // URL.hash are '' for them, and the '?' or '#' stays in apiUrl: every API path appended to
    // it then lands in the query or the fragment instead of the path. Refusing the value or
    // dropping the empty '?'/'#' would both do.
    it.each(['https://ghe.example.com/api/v3?', 'https://ghe.example.com/api/v3#'])(
      'api-url %p: an empty query or fragment',
      (value) => {
        let outcome: string
        try {
          outcome = readWith('api-url', value).apiUrl
        } catch (error) {
          outcome = (error as Error).message
        }
        expect(outcome).toMatch(
          /^(https:\/\/ghe\.example\.com\/api\/v3|Input 'api-url' must be a plain base URL without query, fragment or credentials.*)$/
        )
      }
    )

    it('a glob of comments only', () => {
      expect(() => readWith('glob', '# nothing yet\n  # still nothing')).toThrow(
        "Input 'glob' has no pattern: give one or more file patterns, one per line."
      )
    })

    it('a glob of excludes only', () => {
      expect(() => readWith('glob', '!*.log\n# comment\n!tmp/**')).toThrow(
        /^Input 'glob' only excludes \(every line starts with '!'\)/
      )
    })
  })

  it.each([
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['http://localhost', 'http://localhost'],
    ['http://localhost:8080/', 'http://localhost:8080'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
    ['https://ghe.example.com/api/v3/', 'https://ghe.example.com/api/v3'],
    ['https://api.github.com', 'https://api.github.com']
  ])('accepts api-url %p as %p', (value, expected) => {
    expect(readWith('api-url', value).apiUrl).toBe(expected)
  })
})
