import * as core from '@actions/core'
import { parseNameTemplate } from './name-template.js'
import { nameProblem, showName } from './names.js'
import { isSecureOrLocal } from './urls.js'

export type IfNoFilesFound = 'error' | 'warn' | 'ignore'

/** The action's inputs, typed and validated: one field per input in action.yml. */
export interface Inputs {
  /** Glob lines (`!` excludes, `#` comments), relative to the workspace. */
  patterns: string[]
  description: string
  replaceExisting: boolean
  token: string
  owner: string
  repo: string
  /** The API base without a trailing slash, e.g. `https://api.github.com`. */
  apiUrl: string
  ifNoFilesFound: IfNoFilesFound
  /** Publish files and folders whose name starts with `.`; left out by default. */
  includeHiddenFiles: boolean
  dryRun: boolean
  concurrency: number
  maxAttempts: number
  /** Longest wait for a primary rate limit to reset, in seconds. */
  rateLimitWait: number
  /** Names each file's download (`name-template`); the identity for `{name}`. */
  nameOf: ((file: string) => string) | undefined
  /** The download name of the checksums file to publish, or undefined for none. */
  checksumsFile: string | undefined
  /** Name patterns of old downloads to delete once everything landed (`prune`). */
  prune: string[]
  /** How many of the newest pruned-pattern downloads to keep. */
  pruneKeep: number
  /** Where relative patterns are rooted: the runner's checkout. */
  workspace: string
}

/** Reads every input and fails on the first bad one, naming it and what it accepts. */
export function readInputs(): Inputs {
  const patterns = core
    .getMultilineInput('glob', { required: true })
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  if (patterns.length === 0) {
    throw new Error("Input 'glob' has no pattern: give one or more file patterns, one per line.")
  }
  if (patterns.every((line) => line.startsWith('!'))) {
    throw new Error(
      "Input 'glob' only excludes (every line starts with '!'): add a pattern that selects files."
    )
  }

  const token = core.getInput('token')
  if (token === '') {
    throw new Error(
      "Input 'token' is empty: pass a token that can write the repository, e.g. `token: ${{ github.token }}`."
    )
  }
  // Masked before anything can print it: the runner masks github.token and secrets, but not
  // a token that reached the input some other way (a step output, a file).
  core.setSecret(token)

  const { owner, repo } = parseRepository(core.getInput('repository'))

  return {
    patterns,
    description: core.getInput('description'),
    replaceExisting: readBoolean('replace-existing'),
    token,
    owner,
    repo,
    apiUrl: parseApiUrl(core.getInput('api-url') || process.env.GITHUB_API_URL || ''),
    ifNoFilesFound: readChoice('if-no-files-found', ['error', 'warn', 'ignore'] as const),
    includeHiddenFiles: readBoolean('include-hidden-files'),
    dryRun: readBoolean('dry-run'),
    concurrency: readInteger('concurrency', 1, 32),
    maxAttempts: readInteger('max-attempts', 1, 20),
    rateLimitWait: readInteger('rate-limit-wait', 0, 3600),
    nameOf: readNameTemplate(),
    checksumsFile: readChecksumsFile(),
    prune: core
      .getMultilineInput('prune')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
    pruneKeep: readInteger('prune-keep', 0, 10_000),
    workspace: process.env.GITHUB_WORKSPACE || process.cwd()
  }
}

/**
 * `name-template`, or undefined when every file keeps its base name: action.yml's `{name}`, or
 * an empty input (a run outside a runner sets no defaults). Undefined rather than an identity
 * function, so that a bad file name is not blamed on a template nobody wrote.
 */
function readNameTemplate(): ((file: string) => string) | undefined {
  const template = core.getInput('name-template')
  return template === '' || template === '{name}' ? undefined : parseNameTemplate(template)
}

function readChecksumsFile(): string | undefined {
  const name = core.getInput('checksums-file')
  if (name === '') return undefined
  const problem = nameProblem(name)
  if (problem !== undefined) {
    throw new Error(
      `Input 'checksums-file' must be a download name; got ${showName(name)} (${problem}).`
    )
  }
  return name
}

function readBoolean(name: string): boolean {
  const raw = core.getInput(name)
  // getBooleanInput throws a message that does not say which values it takes in our words;
  // keep the YAML 1.2 core schema it implements, with our wording.
  if (/^(true|True|TRUE)$/.test(raw)) return true
  if (/^(false|False|FALSE)$/.test(raw)) return false
  throw new Error(`Input '${name}' must be true or false, got '${raw}'.`)
}

function readChoice<T extends string>(name: string, choices: readonly T[]): T {
  const raw = core.getInput(name).toLowerCase()
  const found = choices.find((choice) => choice === raw)
  if (found === undefined) {
    throw new Error(`Input '${name}' must be one of ${choices.join(', ')}; got '${raw}'.`)
  }
  return found
}

function readInteger(name: string, min: number, max: number): number {
  const raw = core.getInput(name)
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new Error(`Input '${name}' must be a whole number from ${min} to ${max}; got '${raw}'.`)
  }
  return value
}

/** `owner/name` as GitHub allows them: letters, digits, `-`, `_`, `.`. */
function parseRepository(raw: string): { owner: string; repo: string } {
  const match = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})$/.exec(raw.trim())
  if (!match || match[2] === '.' || match[2] === '..') {
    throw new Error(
      `Input 'repository' must be 'owner/name' (e.g. octocat/hello-world); got '${raw}'.`
    )
  }
  return { owner: match[1], repo: match[2] }
}

/**
 * The API base. The token travels to it, so plain `http` is refused unless the host is this
 * machine (the bundled emulator).
 */
function parseApiUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new Error(
      `Input 'api-url' must be the REST API's base URL (e.g. https://api.github.com); got '${raw}'.`
    )
  }
  if (!isSecureOrLocal(url)) {
    throw new Error(
      `Input 'api-url' must use https (plain http is accepted only for localhost); got '${raw}'.`
    )
  }
  // A bare `?` or `#` leaves search and hash empty but would still swallow every path we append.
  if (/[?#]/.test(raw) || url.username !== '' || url.password !== '') {
    throw new Error(
      `Input 'api-url' must be a plain base URL without query, fragment or credentials; got '${raw}'.`
    )
  }
  return url.href.replace(/\/+$/, '')
}
