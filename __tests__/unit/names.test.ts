import { describe, expect, it } from '@jest/globals'
import { listSome } from '../../src/listing.js'
import {
  badNamesError,
  lookalikes,
  lookalikesWarning,
  MAX_NAME_BYTES,
  nameProblem,
  showName
} from '../../src/names.js'

describe('nameProblem', () => {
  it.each([
    'app-1.0.tar.gz',
    'read me.txt',
    'résumé.pdf',
    '日本語.txt',
    '.npmrc',
    '#1 notes.txt',
    'a'.repeat(MAX_NAME_BYTES),
    // 85 three-byte characters: exactly 255 bytes.
    '語'.repeat(85)
  ])('accepts %p', (name) => {
    expect(nameProblem(name)).toBeUndefined()
  })

  it.each([
    ['a\u0000b', 'control character U+0000 in the name'],
    ['bell\u0007.txt', 'control character U+0007 in the name'],
    ['line\nbreak\r.txt', 'control characters U+000A, U+000D in the name'],
    ['tab\t.txt', 'control character U+0009 in the name'],
    ['del\u007f.txt', 'control character U+007F in the name'],
    ['next-line\u0085.txt', 'control character U+0085 in the name'],
    ['csi\u009b31m.txt', 'control character U+009B in the name'],
    ['back\\slash.txt', 'a slash or backslash in the name'],
    ['a/b', 'a slash or backslash in the name'],
    ['.', 'not a file name'],
    ['..', 'not a file name'],
    ['', 'not a file name'],
    ['a'.repeat(MAX_NAME_BYTES + 1), 'a name of 256 bytes in UTF-8, over the limit of 255'],
    // 86 characters, but 258 bytes: the limit is on bytes.
    ['語'.repeat(86), 'a name of 258 bytes in UTF-8, over the limit of 255']
  ])('refuses %j: %s', (name, problem) => {
    expect(nameProblem(name)).toBe(problem)
  })
})

describe('showName', () => {
  it('quotes as JSON does, so quotes, backslashes and C0 controls are visible', () => {
    expect(showName('a "b"\\c\n\u0007.txt')).toBe('"a \\"b\\"\\\\c\\n\\u0007.txt"')
  })

  it('escapes DEL and C1 controls too, which JSON leaves raw', () => {
    expect(showName('x\u007fy\u0085z\u009b.txt')).toBe('"x\\u007fy\\u0085z\\u009b.txt"')
  })

  it('leaves printable non-ASCII text alone', () => {
    expect(showName('résumé 日本語.txt')).toBe('"résumé 日本語.txt"')
  })

  it.each([
    [[0x61, 0xff, 0x2e, 0x74], '"a\\xff.t"'],
    // Latin-1 "é": a lead byte without its continuation.
    [[0x72, 0xe9, 0x73], '"r\\xe9s"'],
    // An overlong "/", and a UTF-16 surrogate written as UTF-8: neither is UTF-8.
    [[0xc0, 0xaf], '"\\xc0\\xaf"'],
    [[0xed, 0xa0, 0x80], '"\\xed\\xa0\\x80"'],
    // A sequence cut short at the end.
    [[0x61, 0xe2, 0x82], '"a\\xe2\\x82"'],
    // Valid UTF-8 around a bad byte stays text, and a control character is still escaped.
    [[0xc3, 0xa9, 0xfe, 0x07, 0xe2, 0x82, 0xac], '"é\\xfe\\u0007€"']
  ])('shows bytes %j that are not UTF-8 as \\xNN: %s', (bytes, shown) => {
    expect(showName(Buffer.from(bytes))).toBe(shown)
  })

  it('keeps a literal backslash-x apart from a byte', () => {
    expect(showName(Buffer.from('a\\xff'))).toBe('"a\\\\xff"')
  })
})

describe('badNamesError', () => {
  it('lists every file with its problem in one message, in path order', () => {
    const error = badNamesError([
      { path: '/ws/dist/z\u0007.txt', problem: 'control character U+0007 in the name' },
      { path: Buffer.from([0x2f, 0x61, 0xff]), problem: 'name not valid UTF-8' }
    ])
    expect(error.message).toBe(
      '2 files have names that no download can take: "/a\\xff" (name not valid UTF-8); "/ws/dist/z\\u0007.txt" (control character U+0007 in the name). Nothing was changed. Rename them, or leave them out with a \'!\' pattern in \'glob\'.'
    )
  })
})

describe('lookalikes', () => {
  const nfc = 'r\u00e9sum\u00e9.txt'
  const nfd = 're\u0301sume\u0301.txt'

  it('pairs names that differ only by Unicode normalization', () => {
    expect(lookalikes([nfc, 'other.txt', nfd])).toEqual([
      { names: [nfc, nfd], differ: 'normalization' }
    ])
  })

  it('pairs names that differ only by letter case, all of a group', () => {
    expect(lookalikes(['App.zip', 'b.zip', 'app.zip', 'APP.ZIP'])).toEqual([
      { names: ['App.zip', 'app.zip'], differ: 'case' },
      { names: ['App.zip', 'APP.ZIP'], differ: 'case' },
      { names: ['app.zip', 'APP.ZIP'], differ: 'case' }
    ])
  })

  it('finds nothing among distinct names, or in one name twice', () => {
    expect(lookalikes(['a.zip', 'b.zip', 'a.zip', nfc])).toEqual([])
  })

  it('names each pair in the warning, with the normalization form where that is the difference', () => {
    expect(
      lookalikesWarning([
        { names: [nfc, nfd], differ: 'normalization' },
        { names: ['App.zip', 'app.zip'], differ: 'case' }
      ])
    ).toBe(
      `Some download names differ only by Unicode normalization or letter case: "${nfc}" (NFC) and "${nfd}" (NFD); "App.zip" and "app.zip". They are published as distinct downloads, but macOS and Windows may save them as one file; rename one of each pair if both matter.`
    )
  })
})

describe('listSome', () => {
  it('names up to 20 items and counts the rest', () => {
    const items = Array.from({ length: 10_000 }, (_, i) => `f${i}`)
    const text = listSome(items, ', ')
    expect(text.startsWith('f0, f1, ')).toBe(true)
    expect(text.endsWith('f19, … and 9,980 more')).toBe(true)
    expect(listSome(items.slice(0, 20), ', ')).toBe(items.slice(0, 20).join(', '))
  })
})
