// action.yml, read in one place: the local runner fills in its input defaults as a runner
// does, `npm run docs` writes the README's tables and .env.example from it, and the unit
// tests' @actions/core fake takes its defaults from it, so that no default is written twice.
import { readFileSync } from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

/** The repository's top folder (this file lives in scripts/ or build/scripts/). */
export const projectRoot = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  fileURLToPath(import.meta.url).includes(`${path.sep}build${path.sep}`) ? '../..' : '..'
)

export interface ActionEntry {
  description?: string
  required?: boolean
  default?: string
}

export interface ActionMetadata {
  inputs: Record<string, ActionEntry>
  outputs: Record<string, ActionEntry>
}

/** action.yml's inputs and outputs, with their descriptions and defaults. */
export function readAction(): ActionMetadata {
  return parse(readFileSync(path.join(projectRoot, 'action.yml'), 'utf8')) as ActionMetadata
}

/** What `${{ github.token }}`, `${{ github.repository }}` and `${{ github.api_url }}` expand to. */
export interface GithubContext {
  token: string
  repository: string
  apiUrl: string
}

/**
 * Every input's value when a workflow step sets only `given`: the rest take action.yml's
 * defaults, with the `github` context's expressions expanded as the runner expands them.
 */
export function inputValues(
  given: Record<string, string>,
  github: GithubContext
): Record<string, string> {
  const context: Record<string, string> = {
    token: github.token,
    repository: github.repository,
    api_url: github.apiUrl
  }
  const values: Record<string, string> = {}
  for (const [name, input] of Object.entries(readAction().inputs)) {
    values[name] =
      given[name] ??
      String(input.default ?? '').replace(
        /\$\{\{\s*github\.(\w+)\s*\}\}/g,
        (_, key: string) => context[key] ?? ''
      )
  }
  return values
}
