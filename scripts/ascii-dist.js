// Rewrites the bundles in pure ASCII: every other character becomes a `\uXXXX` escape.
//
// V8 keeps a script's source in memory as long as its functions may be compiled, one byte a
// character when the text is all Latin-1 and two bytes otherwise. A handful of arrows and
// quotes in messages, and undici's curly apostrophes in comments, made the 2.2 MB bundle a
// 4.3 MiB string: 2.3 MiB of every run's memory.
//
// The escapes mean the same in string and template literals, regular expressions,
// identifiers and most comments, but not everywhere: the raw text of a tagged template (any
// tag, not only String.raw, and over several lines), a character after a backslash (`'\é'` is
// "é", `'\\u00e9'` is not), a line or paragraph separator ending a `//` comment, an astral
// character in an identifier. So the rewritten bundle is parsed and checked against the
// original: the same syntax tree, the same cooked strings and template raw text of tagged
// templates, the same identifiers, the same comments; a bundle that differs is refused.
import { parse } from 'acorn'
import { readFileSync, writeFileSync } from 'node:fs'

for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8')
  const ascii = text.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
  checkSameProgram(file, text, ascii)
  writeFileSync(file, ascii)
}

/** Throws unless `after` parses to the same program as `before`, positions and spelling aside. */
function checkSameProgram(file, before, after) {
  const options = { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true }
  const commentsBefore = []
  const commentsAfter = []
  let treeAfter
  const treeBefore = parse(before, { ...options, onComment: commentsBefore })
  try {
    treeAfter = parse(after, { ...options, onComment: commentsAfter })
  } catch (error) {
    throw new Error(`${file}: escaped, it no longer parses (${error.message})`, { cause: error })
  }
  if (commentsBefore.length !== commentsAfter.length) {
    throw new Error(`${file}: escaping changed where comments end (a line separator in a comment?)`)
  }
  const differ = (where, a, b) =>
    new Error(
      `${file}: escaping changes the program at ${where}: ${JSON.stringify(a)?.slice(0, 120)} became ${JSON.stringify(b)?.slice(0, 120)}`
    )
  const compare = (a, b, where) => {
    if (a === null || typeof a !== 'object') {
      if (a !== b) throw differ(where, a, b)
      return
    }
    if (b === null || typeof b !== 'object') throw differ(where, a, b)
    if (a.type === 'TaggedTemplateExpression') {
      a.quasi.quasis.forEach((q, i) => {
        if (q.value.raw !== b.quasi.quasis[i]?.value.raw) {
          throw differ(
            `${where} (a tagged template's raw text)`,
            q.value.raw,
            b.quasi.quasis[i]?.value.raw
          )
        }
      })
    }
    if (a.type === 'Literal' && a.regex !== undefined) {
      // A regular expression's pattern is its spelling: the same once unescaped, and no
      // non-ASCII character escaped by a backslash before it was rewritten.
      if (/(^|[^\\])(\\\\)*\\[\u0080-\uffff]/.test(a.regex.pattern)) {
        throw differ(
          `${where} (a backslash before a non-ASCII character)`,
          a.regex.pattern,
          b.regex?.pattern
        )
      }
      if (a.regex.flags !== b.regex?.flags) throw differ(where, a.regex.flags, b.regex?.flags)
      return
    }
    for (const key of Object.keys(a)) {
      if (key === 'start' || key === 'end' || key === 'raw') continue
      compare(a[key], b[key], `${where}.${key}`)
    }
  }
  compare(treeBefore, treeAfter, 'Program')
}
