import { describe, expect, it } from '@jest/globals'
import { checksumsText } from '../../src/checksums.js'
import type { Download } from '../../src/downloads-api.js'
import { parseNameTemplate, splitName } from '../../src/name-template.js'
import { globToRegExp, pruneMatches } from '../../src/prune.js'

describe('name templates', () => {
  it.each([
    ['app.tar.gz', 'app', '.tar.gz'],
    ['app.tar.xz', 'app', '.tar.xz'],
    ['app.tar.bz2', 'app', '.tar.bz2'],
    ['app.tar.zst', 'app', '.tar.zst'],
    ['app.TAR.GZ', 'app', '.TAR.GZ'],
    ['app.zip', 'app', '.zip'],
    ['app-1.2.3.exe', 'app-1.2.3', '.exe'],
    ['app', 'app', ''],
    ['.tar.gz', '.tar', '.gz'],
    ['.npmrc', '.npmrc', '']
  ])('splits %s into %s + %s', (name, stem, ext) => {
    expect(splitName(name)).toEqual({ stem, ext })
  })

  it('fills every placeholder', () => {
    const nameOf = parseNameTemplate('{dir}/{name}|{stem}|{ext}')
    expect(nameOf('/w/dist/linux/app.tar.gz')).toBe('linux/app.tar.gz|app|.tar.gz')
  })

  it('names per-platform builds apart with {dir}', () => {
    const nameOf = parseNameTemplate('{stem}-{dir}{ext}')
    expect(nameOf('/w/dist/linux/app')).toBe('app-linux')
    expect(nameOf('/w/dist/windows/app.exe')).toBe('app-windows.exe')
  })

  it('keeps text around placeholders, as the runner left it after expanding ${{ }}', () => {
    expect(parseNameTemplate('{stem}-v1.2.3{ext}')('/w/app.tar.gz')).toBe('app-v1.2.3.tar.gz')
  })
})

describe('checksumsText', () => {
  it('writes one "<sha256>  <name>" line per file, in byte order of the names', () => {
    const a = 'a'.repeat(64)
    const b = 'b'.repeat(64)
    expect(
      checksumsText([
        { name: 'b.zip', sha256: b },
        { name: 'Z.zip', sha256: a }
      ])
    ).toBe(`${a}  Z.zip\n${b}  b.zip\n`)
  })
})

describe('prune', () => {
  const download = (id: number, name: string, createdAt: string): Download => ({
    id,
    name,
    createdAt,
    description: '',
    size: 1,
    contentType: 'application/zip',
    url: `u/${id}`,
    htmlUrl: `h/${id}`
  })
  const existing = [
    download(1, 'app-nightly-1.zip', '2024-05-01T00:00:00Z'),
    download(2, 'app-nightly-2.zip', '2024-05-02T00:00:00Z'),
    download(3, 'app-nightly-3.zip', '2024-05-03T00:00:00Z'),
    download(4, 'app-nightly-4.zip', '2024-05-03T00:00:00Z'),
    download(5, 'app-1.0.zip', '2024-04-01T00:00:00Z'),
    download(6, 'app-nightly-5.zip', '2024-05-05T00:00:00Z')
  ]

  it('matches every download but this run’s own, newest first (by created_at, then id)', () => {
    const matches = pruneMatches(existing, ['app-nightly-*'], new Set(['app-nightly-5.zip']))
    expect(matches.map((d) => d.id)).toEqual([4, 3, 2, 1])
  })

  it('touches nothing without a pattern, and nothing that does not match', () => {
    expect(pruneMatches(existing, [], new Set())).toEqual([])
    expect(pruneMatches(existing, ['app-?.zip'], new Set())).toEqual([])
    expect(pruneMatches(existing, ['app-?.?.zip'], new Set()).map((d) => d.id)).toEqual([5])
  })

  it('matches * and ? only, everything else literally', () => {
    expect(globToRegExp('a.(b)+*').test('a.(b)+c')).toBe(true)
    expect(globToRegExp('a.(b)+*').test('aX(b)+c')).toBe(false)
    expect(globToRegExp('a?c').test('a\nc')).toBe(true)
  })
})
