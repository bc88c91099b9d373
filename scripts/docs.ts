// Writes what repeats action.yml, so the copies cannot drift: the README's inputs and outputs
// tables, and the input lines of .env.example with their defaults. `--check` changes nothing
// and fails when either file is not what action.yml makes.
import { readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { format, resolveConfig } from 'prettier'
import { projectRoot, readAction } from './action-metadata.js'

const readmePath = path.join(projectRoot, 'README.md')
const envPath = path.join(projectRoot, '.env.example')
const action = readAction()

const cell = (text: string): string => text.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|')

const inputs = [
  '| Input | Required | Default | Description |',
  '| --- | --- | --- | --- |',
  ...Object.entries(action.inputs).map(
    ([name, input]) =>
      `| \`${name}\` | ${input.required ? 'yes' : 'no'} | ${input.default === undefined || input.default === '' ? '' : `\`${cell(String(input.default))}\``} | ${cell(input.description ?? '')} |`
  )
].join('\n')

const outputs = [
  '| Output | Description |',
  '| --- | --- |',
  ...Object.entries(action.outputs).map(
    ([name, output]) => `| \`${name}\` | ${cell(output.description ?? '')} |`
  )
].join('\n')

/** `text` with the lines between `begin` and `end` replaced by `body`. */
function replaceBetween(text: string, file: string, begin: string, end: string, body: string) {
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`${file} lacks the ${begin} … ${end} markers`)
  return `${text.slice(0, from)}${begin}\n${body}\n${text.slice(to)}`
}

function replaceBlock(text: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin (generated from action.yml by npm run docs) -->`
  return replaceBetween(text, 'README.md', begin, `<!-- ${name}:end -->`, `\n${body}\n`)
}

/**
 * The values a local trial against `npm run emulator` sets instead of action.yml's defaults:
 * the required glob, the `${{ github.* }}` expressions only a runner fills in (the emulator's
 * default token, repository and API port), and replace-existing, so a second trial replaces
 * the first instead of failing on it.
 */
const LOCAL_VALUES: Record<string, string> = {
  glob: 'README.md',
  description: 'A local trial',
  'replace-existing': 'true',
  token: 'emulator-token',
  repository: 'octocat/hello-world',
  'api-url': 'http://127.0.0.1:3000'
}

// The runner's names: INPUT_ and the input's name in upper case, hyphens kept.
const envInputs = Object.entries(action.inputs)
  .map(([name, input]) => {
    const value = LOCAL_VALUES[name] ?? input.default ?? ''
    if (value.includes('${{')) throw new Error(`.env.example needs a local value for ${name}`)
    return `INPUT_${name.toUpperCase()}=${value}`
  })
  .join('\n')

/** A file, and what action.yml makes of it. */
interface Generated {
  file: string
  what: string
  current: string
  wanted: string
}

const readme = await readFile(readmePath, 'utf8')
const env = await readFile(envPath, 'utf8')
const generated: Generated[] = [
  {
    file: readmePath,
    what: "README.md's inputs/outputs tables",
    current: readme,
    // Formatted as `npm run format` would, so that Prettier and this script agree on the tables.
    wanted: await format(replaceBlock(replaceBlock(readme, 'inputs', inputs), 'outputs', outputs), {
      ...(await resolveConfig(readmePath)),
      filepath: readmePath
    })
  },
  {
    file: envPath,
    what: ".env.example's input lines",
    current: env,
    wanted: replaceBetween(
      env,
      '.env.example',
      '# inputs:begin (generated from action.yml by npm run docs)',
      '# inputs:end',
      envInputs
    )
  }
]

const stale = generated.filter((g) => g.wanted !== g.current)
if (process.argv.includes('--check')) {
  for (const g of stale) console.error(`${g.what} differ from action.yml: run \`npm run docs\`.`)
  if (stale.length > 0) process.exit(1)
  console.log("README.md's inputs and outputs tables and .env.example's inputs match action.yml.")
} else {
  for (const g of stale) {
    await writeFile(g.file, g.wanted)
    console.log(`${g.what}: rewritten from action.yml.`)
  }
}
