import * as path from 'node:path'

/**
 * Download names from a template (input `name-template`), e.g. `{stem}-v1.2.3{ext}`. The
 * runner expands `${{ … }}` before the action sees the input, so only these placeholders are
 * the action's own.
 */
export const PLACEHOLDERS = ['name', 'stem', 'ext', 'dir'] as const
type Placeholder = (typeof PLACEHOLDERS)[number]

/** Extensions of two parts that name one format: `app.tar.gz` is `app` + `.tar.gz`. */
const COMPOUND_EXTENSIONS = ['.tar.gz', '.tar.xz', '.tar.bz2', '.tar.zst']

/** A file's base name split before its extension, compound extensions kept whole. */
export function splitName(name: string): { stem: string; ext: string } {
  const lower = name.toLowerCase()
  const compound = COMPOUND_EXTENSIONS.find(
    (ext) => lower.endsWith(ext) && name.length > ext.length
  )
  const ext = compound !== undefined ? name.slice(-compound.length) : path.extname(name)
  return { stem: name.slice(0, name.length - ext.length), ext }
}

/** The values of the placeholders for one file. */
function placeholdersOf(file: string): Record<Placeholder, string> {
  const name = path.basename(file)
  return { name, ...splitName(name), dir: path.basename(path.dirname(file)) }
}

/**
 * Parses a template; throws, naming the problem, on an unknown placeholder or an unclosed
 * `{`. Resolves to the function that names a file. What it makes is checked as any download
 * name is (not empty, no `/`, `\` or control character), with the file named in the error.
 */
export function parseNameTemplate(template: string): (file: string) => string {
  const parts: ({ text: string } | { placeholder: Placeholder })[] = []
  const text = (from: number, to: number): void => {
    const piece = template.slice(from, to)
    // A `}` outside a placeholder is a typo far more often than a wanted character.
    if (piece.includes('}')) {
      throw new Error(`Input 'name-template' has a '}' without its '{': '${template}'.`)
    }
    if (piece !== '') parts.push({ text: piece })
  }
  for (let at = 0; at < template.length;) {
    const open = template.indexOf('{', at)
    if (open === -1) {
      text(at, template.length)
      break
    }
    text(at, open)
    const close = template.indexOf('}', open)
    if (close === -1) {
      throw new Error(
        `Input 'name-template' has a '{' without its '}' at position ${open + 1}: '${template}'. Placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}.`
      )
    }
    const name = template.slice(open + 1, close)
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new Error(
        `Input 'name-template' has an unknown placeholder {${name}}: '${template}'. Placeholders: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}.`
      )
    }
    parts.push({ placeholder: name as Placeholder })
    at = close + 1
  }
  return (file) => {
    const values = placeholdersOf(file)
    return parts.map((part) => ('text' in part ? part.text : values[part.placeholder])).join('')
  }
}
