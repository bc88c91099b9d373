// Writes the README's inputs and outputs tables from action.yml, so the two cannot drift.
// `--check` changes nothing and fails when the README is not what action.yml makes.
import { readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { format, resolveConfig } from 'prettier'
import { parse } from 'yaml'
import { projectRoot } from './local-runner.js'

interface Entry {
  description?: string
  required?: boolean
  default?: string
}

const readmePath = path.join(projectRoot, 'README.md')
const action = parse(await readFile(path.join(projectRoot, 'action.yml'), 'utf8')) as {
  inputs: Record<string, Entry>
  outputs: Record<string, Entry>
}

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

function replaceBlock(text: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin (generated from action.yml by npm run docs) -->`
  const end = `<!-- ${name}:end -->`
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`README.md lacks the ${name} markers`)
  return `${text.slice(0, from)}${begin}\n\n${body}\n\n${text.slice(to)}`
}

const readme = await readFile(readmePath, 'utf8')
// Formatted as `npm run format` would, so that Prettier and this script agree on the tables.
const wanted = await format(
  replaceBlock(replaceBlock(readme, 'inputs', inputs), 'outputs', outputs),
  {
    ...(await resolveConfig(readmePath)),
    filepath: readmePath
  }
)
if (process.argv.includes('--check')) {
  if (wanted !== readme) {
    console.error("README.md's inputs/outputs tables differ from action.yml: run `npm run docs`.")
    process.exit(1)
  }
  console.log("README.md's inputs and outputs tables match action.yml.")
} else if (wanted !== readme) {
  await writeFile(readmePath, wanted)
  console.log('README.md: inputs and outputs tables rewritten from action.yml.')
}
