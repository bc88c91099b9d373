import * as glob from '@actions/glob'
import { createHash } from 'node:crypto'
import { constants, createReadStream } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import * as path from 'node:path'
import { lookup } from 'mime-types'

/** One file to publish. Its download name is its base name. */
export interface Artifact {
  path: string
  name: string
  size: number
  /** Looked up from the name; the server has the last word (it answers `mime_type`). */
  contentType: string
}

/** S3 takes at most 5 GiB in one POST (AWS: "One POST carries at most 5 GiB"). */
export const MAX_FILE_SIZE = 5 * 1024 ** 3

/**
 * Expands the patterns (rooted at the workspace), keeps regular files only and checks that
 * every one can be published: readable, within S3's size limit, and no two with the same
 * name. Sorted by name, which is also the order of the outputs.
 */
export async function findArtifacts(patterns: string[], workspace: string): Promise<Artifact[]> {
  const globber = await glob.create(patterns.map((p) => rootPattern(p, workspace)).join('\n'), {
    matchDirectories: false,
    implicitDescendants: false
  })
  const paths = await globber.glob()

  const artifacts: Artifact[] = []
  for (const file of paths) {
    const info = await stat(file)
    // With matchDirectories off only files come back, but a symlink to a socket or a FIFO
    // is no artifact either.
    if (!info.isFile()) continue
    await access(file, constants.R_OK).catch(() => {
      throw new Error(`Cannot read ${file}: check the file's permissions.`)
    })
    if (info.size > MAX_FILE_SIZE) {
      throw new Error(
        `${file} is ${info.size} bytes; one upload to S3 carries at most 5 GiB (${MAX_FILE_SIZE} bytes). Split or compress it.`
      )
    }
    const name = path.basename(file)
    artifacts.push({ path: file, name, size: info.size, contentType: contentTypeOf(name) })
  }

  artifacts.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const clashes = artifacts.filter((a, i) => i > 0 && artifacts[i - 1].name === a.name)
  if (clashes.length > 0) {
    const names = [...new Set(clashes.map((a) => a.name))]
    const listing = names
      .map(
        (n) =>
          `${n}: ${artifacts
            .filter((a) => a.name === n)
            .map((a) => a.path)
            .join(', ')}`
      )
      .join('; ')
    throw new Error(
      `Several files have the same download name (${listing}). A repository's downloads are keyed by file name: narrow the glob or rename the files.`
    )
  }
  return artifacts
}

/** The content type to declare for a file name; octet-stream when nothing is known. */
export function contentTypeOf(name: string): string {
  return lookup(name) || 'application/octet-stream'
}

/**
 * Roots a relative pattern at the workspace. @actions/glob roots relative patterns at the
 * process's working directory, which need not be the workspace. Glob characters in the
 * workspace path itself are escaped so that they match only themselves.
 */
export function rootPattern(pattern: string, workspace: string): string {
  const negated = pattern.startsWith('!')
  const body = negated ? pattern.slice(1).trimStart() : pattern
  if (path.isAbsolute(body) || body.startsWith('~')) return pattern
  // As @actions/glob's own escaping: a bracketed `[`, `*` or `?`, and a doubled backslash
  // (its escape character on POSIX); a lone `]` is literal already.
  const base =
    process.platform === 'win32'
      ? workspace.replace(/[[*?]/g, (c) => `[${c}]`)
      : workspace.replace(/[[*?\\]/g, (c) => (c === '\\' ? '\\\\' : `[${c}]`))
  return `${negated ? '!' : ''}${path.join(base, body)}`
}

/** The SHA-256 of a file's bytes (a dry run reports it; an upload hashes as it sends). */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer)
  }
  return hash.digest('hex')
}
