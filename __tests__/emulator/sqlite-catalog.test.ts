/** The server's catalog: what a restart of the server must find again. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteCatalog } from '../../emulator/sqlite-catalog.js'

const REPO = 'Octocat/Hello-World'
let dir: string
let file: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sqlite-catalog-test-'))
  file = join(dir, 'downloads.sqlite')
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

function add(catalog: SqliteCatalog, name: string): ReturnType<SqliteCatalog['insert']> {
  return catalog.insert(
    REPO,
    {
      name,
      description: `about ${name}`,
      contentType: 'zip',
      mimeType: 'application/zip',
      declaredSize: 3
    },
    `downloads/${REPO}/${name}`
  )
}

it('finds every download, its bytes and its count again after it is reopened', () => {
  const first = new SqliteCatalog(file, [REPO])
  const kept = add(first, 'kept.zip')
  Object.assign(kept, {
    uploaded: true,
    size: 3,
    md5: 'a'.repeat(32),
    sha256: 'b'.repeat(64),
    filePath: join(dir, 'downloads', REPO, 'kept.zip'),
    objectContentType: 'application/zip'
  })
  first.saveObject(kept)
  first.countDownload(kept)
  first.countDownload(kept)
  first.delete(add(first, 'gone.zip'))
  first.close()

  // Repositories keep the spelling they were first given, and match in any case.
  const second = new SqliteCatalog(file, ['octocat/hello-world'])
  try {
    expect(second.resolveRepo('OCTOCAT/hello-world')).toBe(REPO)
    expect(second.list(REPO)).toEqual([{ ...kept, downloadCount: 2 }])
    // A deleted download's id is never handed out again.
    expect(add(second, 'new.zip').id).toBe(3)
  } finally {
    second.close()
  }
})

it('serves only the repositories it is given, or all it knows when given none', () => {
  new SqliteCatalog(file, [REPO, 'octocat/other']).close()
  const some = new SqliteCatalog(file, ['octocat/other'])
  expect(some.repoNames()).toEqual(['octocat/other'])
  expect(some.resolveRepo(REPO)).toBeUndefined()
  some.close()
  const all = new SqliteCatalog(file, [])
  expect(all.repoNames()).toEqual([REPO, 'octocat/other'])
  all.close()
})

it('refuses to open a database another catalog holds open', () => {
  const holder = new SqliteCatalog(file, [REPO])
  try {
    expect(() => new SqliteCatalog(file, [REPO])).toThrow(/in use/)
  } finally {
    holder.close()
  }
})
