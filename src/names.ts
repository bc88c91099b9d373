/**
 * The rules a download's name must meet, checked before any request so that a bad name fails
 * the run with every offender listed instead of a 422 after other files were published.
 */

import { listSome } from './listing.js'

/** The server keeps a name as one path segment: at most 255 bytes of UTF-8. */
export const MAX_NAME_BYTES = 255

/** C0 controls, DEL and C1 controls: the characters a log or a terminal would act upon. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * Why no download can be called `name`, or undefined when it can. A name is one path segment
 * of the download's URL and of the S3 key: the server refuses C0 controls and DEL, `.`, `..`,
 * `/` and names over 255 bytes (the emulator's `validName` enforces the same). Refused here as
 * well: C1 controls, which nobody can see or type and which terminals act upon (U+009B starts
 * an escape sequence), and a backslash, which Windows cannot have in a file name, so browsers
 * there save the download under another name than the one published.
 */
/**
 * Zero-width characters and bidirectional controls: `\u202eexe.txt` shows as `txt.exe`
 * ("Trojan Source", CVE-2021-42574), and zero-width ones make two names look alike.
 */
const INVISIBLE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g

export function nameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'not a file name'
  const controls = [...new Set(name.match(CONTROL) ?? [])]
  if (controls.length > 0) {
    const which = controls.map(codePoint).join(', ')
    return `control character${controls.length === 1 ? '' : 's'} ${which} in the name`
  }
  const hiding = [...new Set(name.match(INVISIBLE) ?? [])]
  if (hiding.length > 0) {
    return `invisible or text-reordering character${hiding.length === 1 ? '' : 's'} ${hiding.map(codePoint).join(', ')} in the name (a name could show as another one)`
  }
  if (name.includes('/') || name.includes('\\')) return 'a slash or backslash in the name'
  const bytes = Buffer.byteLength(name)
  if (bytes > MAX_NAME_BYTES) {
    return `a name of ${bytes} bytes in UTF-8, over the limit of ${MAX_NAME_BYTES}`
  }
  return undefined
}

/** A file whose download name cannot be used, and why. */
export interface BadName {
  /** The file's path; bytes when the file system's name is not UTF-8. */
  path: string | Buffer
  problem: string
}

/** One error naming every file whose name cannot be a download's, so that one fix suffices. */
export function badNamesError(bad: BadName[]): Error {
  const listing = listSome(
    bad.map((b) => `${showName(b.path)} (${b.problem})`).sort(),
    '; ',
    'Files whose names no download can take'
  )
  const files = bad.length === 1 ? '1 file has a name' : `${bad.length} files have names`
  return new Error(
    `${files} that no download can take: ${listing}. Nothing was changed. Rename ${bad.length === 1 ? 'it' : 'them'}, or leave ${bad.length === 1 ? 'it' : 'them'} out with a '!' pattern in 'glob'.`
  )
}

/**
 * A name or path quoted as JSON quotes it, so that quotes, backslashes and control characters
 * are visible, and, beyond JSON, DEL and C1 controls as `\u007f`…`\u009f` (JSON leaves them
 * raw, and a terminal acts on C1 controls) and bytes that are not UTF-8 as `\xff`.
 */
export function showName(name: string | Buffer): string {
  const parts = typeof name === 'string' ? [name] : decodeKeepingBadBytes(name)
  const shown = parts.map((part) =>
    typeof part === 'number'
      ? `\\x${part.toString(16).padStart(2, '0')}`
      : JSON.stringify(part)
          .slice(1, -1)
          .replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  )
  return `"${shown.join('')}"`
}

/**
 * Splits bytes into the runs that are valid UTF-8 (decoded) and the bytes that belong to no
 * valid sequence (as numbers), so that each bad byte can be shown on its own.
 */
function decodeKeepingBadBytes(bytes: Buffer): (string | number)[] {
  const strict = new TextDecoder('utf-8', { fatal: true })
  const parts: (string | number)[] = []
  let run = ''
  for (let i = 0; i < bytes.length;) {
    const length = sequenceLength(bytes[i])
    let char: string | undefined
    if (length > 0 && i + length <= bytes.length) {
      try {
        char = strict.decode(bytes.subarray(i, i + length))
      } catch {
        // An overlong form, a surrogate or a missing continuation byte: the lead byte is bad.
      }
    }
    if (char === undefined) {
      if (run !== '') parts.push(run)
      run = ''
      parts.push(bytes[i])
      i += 1
    } else {
      run += char
      i += length
    }
  }
  if (run !== '') parts.push(run)
  return parts
}

/** How long a UTF-8 sequence its lead byte announces; 0 for a byte that cannot lead one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1
  if (lead >= 0xc2 && lead <= 0xdf) return 2
  if (lead >= 0xe0 && lead <= 0xef) return 3
  if (lead >= 0xf0 && lead <= 0xf4) return 4
  return 0
}

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}`
}

/** Two names that a user's machine may take for one. */
export interface Lookalike {
  names: [string, string]
  /** What tells them apart: only the Unicode normalization, or only letter case. */
  differ: 'normalization' | 'case'
}

/**
 * Pairs of names that differ only by Unicode normalization (é as one code point or as e and
 * a combining accent) or only by letter case. The server keys downloads by exact name and
 * takes both, but macOS normalizes names and macOS and Windows ignore case, so whoever
 * downloads both into one folder keeps one of them.
 */
export function lookalikes(names: string[]): Lookalike[] {
  // Grouped by what the two tests agree on, so that a thousand files cost a thousand keys,
  // not half a million comparisons. A name alone under its key (nearly all of them) is held
  // as itself, not in an array of its own.
  const groups = new Map<string, string | string[]>()
  for (const name of new Set(names)) {
    const key = name.normalize('NFC').toLowerCase()
    const group = groups.get(key)
    if (group === undefined) groups.set(key, name)
    else if (typeof group === 'string') groups.set(key, [group, name])
    else group.push(name)
  }
  const pairs: Lookalike[] = []
  for (const group of groups.values()) {
    if (typeof group === 'string') continue
    group.forEach((a, i) => {
      for (const b of group.slice(i + 1)) {
        const differ = a.normalize('NFC') === b.normalize('NFC') ? 'normalization' : 'case'
        pairs.push({ names: [a, b], differ })
      }
    })
  }
  return pairs
}

/** The warning for {@link lookalikes}, naming each pair so that the difference shows. */
export function lookalikesWarning(pairs: Lookalike[]): string {
  const listing = listSome(
    pairs.map(({ names: [a, b], differ }) =>
      differ === 'normalization'
        ? `${showName(a)} (${form(a)}) and ${showName(b)} (${form(b)})`
        : `${showName(a)} and ${showName(b)}`
    ),
    '; '
  )
  return `Some download names differ only by Unicode normalization or letter case: ${listing}. They are published as distinct downloads, but macOS and Windows may save them as one file; rename one of each pair if both matter.`
}

/** Which Unicode normalization form a name is in, as a user would be told. */
function form(name: string): string {
  if (name === name.normalize('NFC')) return 'NFC'
  if (name === name.normalize('NFD')) return 'NFD'
  return 'neither NFC nor NFD'
}
