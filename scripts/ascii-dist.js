// Rewrites the bundles in pure ASCII: every other character becomes a `\uXXXX` escape.
//
// V8 keeps a script's source in memory as long as its functions may be compiled, one byte a
// character when the text is all Latin-1 and two bytes otherwise. A handful of arrows and
// quotes in messages, and undici's curly apostrophes in comments, made the 2.2 MB bundle a
// 4.3 MiB string: 2.3 MiB of every run's memory. The escapes mean the same in string and
// template literals, regular expressions, identifiers and comments; they would change only
// the raw text of a tagged template, which is checked below.
import { readFileSync, writeFileSync } from 'node:fs'

for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, 'utf8')
  const tagged = text
    .split('\n')
    .find((line) => /String\.raw/.test(line) && /[\u0080-\uffff]/.test(line))
  if (tagged !== undefined) {
    throw new Error(
      `${file}: a String.raw template holds non-ASCII text, which escaping would change: ${tagged}`
    )
  }
  const ascii = text.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
  )
  writeFileSync(file, ascii)
}
