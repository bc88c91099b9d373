import * as core from '@actions/core'
import * as glob from '@actions/glob'
import { isUtf8 } from 'node:buffer'
import { accessSync, constants, realpathSync, statSync } from 'node:fs'
import type { Dirent } from 'node:fs'
import { opendir, realpath, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import * as path from 'node:path'
import { lookup } from 'mime-types'
import { Minimatch } from 'minimatch'
import { listSome } from './listing.js'
import {
  badNamesError,
  lookalikes,
  lookalikesWarning,
  nameProblem,
  showName,
  type BadName
} from './names.js'

/** One file to publish, under its download name (its base name, or `name-template`'s). */
export interface SourceFile {
  path: string
  name: string
  size: number
  /** Looked up from the name; the server has the last word (it answers `mime_type`). */
  contentType: string
}

/** S3 takes at most 5 GiB in one POST (AWS: "One POST carries at most 5 GiB"). */
export const MAX_FILE_SIZE = 5 * 1024 ** 3

export interface FindOptions {
  /** Publish hidden files and files in hidden folders too (input `include-hidden-files`). */
  includeHiddenFiles?: boolean
  /** The download name of a file (input `name-template`); its base name by default. */
  nameOf?: (file: string) => string
}

/**
 * Expands the patterns (rooted at the workspace), keeps regular files only, leaves out hidden
 * ones unless asked, and checks that every one can be published: a name a download can take
 * (all refused names in one error), readable, within S3's size limit, and no two with the same
 * name. Warns about names that differ only by normalization or case, and about files that lie
 * outside the workspace once symlinks are resolved. Sorted by name, the order of the outputs.
 */
export async function findSourceFiles(
  patterns: string[],
  workspace: string,
  options: FindOptions = {}
): Promise<SourceFile[]> {
  const rooted = patterns.map((p) => rootPattern(p, workspace))
  const globber = await glob.create(rooted.join('\n'), {
    matchDirectories: false,
    implicitDescendants: false
  })
  const searchPaths = globber.getSearchPaths()
  const matched = await globber.glob()
  // A symlink to a hidden file (`dist/npmrc.txt -> ../.npmrc`) is hidden too: what would be
  // published is the target. Judged by the resolved path as well, below the real workspace.
  const realWorkspace = await realpath(workspace).catch(() => workspace)
  const hiddenTargets = new Set<string>()
  if (!options.includeHiddenFiles) {
    for (const file of matched) {
      const target = realpathOf(file) ?? file
      if (target !== file && isHidden(target, realWorkspace, [])) hiddenTargets.add(file)
    }
  }
  const excluded = (file: string): boolean =>
    !options.includeHiddenFiles &&
    (isHidden(file, workspace, searchPaths) || hiddenTargets.has(file))

  const hidden = matched.filter(excluded)
  if (hidden.length > 0) {
    core.info(
      `Excluded ${hidden.length} hidden file${hidden.length === 1 ? '' : 's'} (a name or folder starting with '.'); set 'include-hidden-files: true' to publish hidden files.`
    )
    for (const file of hidden) core.debug(`Hidden, excluded: ${showName(file)}`)
  }

  const bad: BadName[] = await findUndecodable(searchPaths, new GlobMatcher(rooted), excluded)
  const found: { path: string; name: string; size: number }[] = []
  for (const file of matched.filter((f) => !excluded(f))) {
    const info = statSync(file)
    // With matchDirectories off only files come back, but a symlink to a socket or a FIFO
    // is no file to publish either.
    if (!info.isFile()) continue
    const name = options.nameOf ? options.nameOf(file) : path.basename(file)
    const problem = nameProblem(name)
    if (problem !== undefined) {
      bad.push({
        path: file,
        problem: options.nameOf ? `'name-template' makes it ${showName(name)}: ${problem}` : problem
      })
    }
    found.push({ path: file, name, size: info.size })
  }
  if (bad.length > 0) throw badNamesError(bad)

  const sources: SourceFile[] = []
  for (const { path: file, name, size } of found) {
    try {
      accessSync(file, constants.R_OK)
    } catch {
      throw new Error(`Cannot read ${file}: check the file's permissions.`)
    }
    if (size > MAX_FILE_SIZE) {
      throw new Error(
        `${file} is ${size} bytes; one upload to S3 carries at most 5 GiB (${MAX_FILE_SIZE} bytes). Split or compress it.`
      )
    }
    sources.push({ path: file, name, size, contentType: contentTypeOf(name) })
  }

  sources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const clashes = sources.filter((a, i) => i > 0 && sources[i - 1].name === a.name)
  if (clashes.length > 0) {
    const clashing = new Set(clashes.map((a) => a.name))
    const groups = new Map<string, string[]>()
    for (const source of sources) {
      if (!clashing.has(source.name)) continue
      const paths = groups.get(source.name) ?? []
      paths.push(source.path)
      groups.set(source.name, paths)
    }
    const listing = listSome(
      [...groups].map(([name, paths]) => `${name}: ${listSome(paths, ', ')}`),
      '; ',
      'Download names that several files have'
    )
    throw new Error(
      `Several files have the same download name (${listing}). A repository's downloads are keyed by name: narrow the glob, rename the files${options.nameOf ? ", or change 'name-template'" : ', or name them with a name-template'}.`
    )
  }

  const pairs = lookalikes(sources.map((a) => a.name))
  if (pairs.length > 0) core.warning(lookalikesWarning(pairs))
  await warnOutsideWorkspace(sources, workspace)
  return sources
}

/*
 * The checks of each matched file (its real path, its type and size, whether it is readable)
 * are made synchronously: nothing else runs while the files are found, and handing each of
 * these metadata calls to libuv's pool and back, one file after another, cost 60-70 ms over
 * 200 files on this project's CI machine, several seconds over 10,000.
 */

/** A file's real path (symlinks resolved, as `fs.promises.realpath`); undefined if it has none. */
function realpathOf(file: string): string | undefined {
  try {
    return realpathSync.native(file)
  } catch {
    return undefined
  }
}

/**
 * Whether a path has a segment starting with `.` below where the user's patterns start: the
 * workspace for a file in it, else the search path it was found under (`~/*` finds
 * `~/.bashrc` hidden; folders above the workspace never count). As actions/upload-artifact
 * since v4.4 (actions/upload-artifact#598: "This reduces the risk that credentials are
 * accidentally uploaded"), hidden files are left out unless `include-hidden-files` says
 * otherwise: a `dist/*` would otherwise publish `dist/.npmrc` with its registry token.
 * Counted here rather than with @actions/glob's `excludeHiddenFiles`, so that the log can say
 * how many were left out.
 */
export function isHidden(file: string, workspace: string, searchPaths: string[]): boolean {
  const root = [workspace, ...searchPaths].find((dir) => isBelow(file, dir))
  const below = root === undefined ? path.basename(file) : path.relative(root, file)
  return below.split(path.sep).some((segment) => segment.startsWith('.'))
}

/** Whether `file` lies strictly below `dir` (by path: symlinks are not resolved). */
function isBelow(file: string, dir: string): boolean {
  const relative = path.relative(dir, file)
  return (
    relative !== '' &&
    relative !== '..' &&
    !relative.startsWith(`..${path.sep}`) &&
    !path.isAbsolute(relative)
  )
}

/**
 * Warns, naming each, about files that lie outside the workspace once symlinks are resolved:
 * a `**` that follows a folder symlink out of the checkout, or `../`, `/…` and `~/` patterns.
 * They are published all the same, as actions/upload-artifact does, but whoever reads the log
 * should see that the glob reached beyond the checkout.
 */
async function warnOutsideWorkspace(sources: SourceFile[], workspace: string): Promise<void> {
  const realWorkspace = await realpath(workspace).catch(() => path.resolve(workspace))
  const outside: string[] = []
  for (const source of sources) {
    const real = realpathSync.native(source.path)
    if (!isBelow(real, realWorkspace)) outside.push(real)
  }
  if (outside.length === 0) return
  const one = outside.length === 1
  core.warning(
    `${one ? '1 file lies' : `${outside.length} files lie`} outside the workspace (${showName(realWorkspace)}) once symlinks are resolved: ${listSome(
      outside.map((f) => showName(f)),
      ', ',
      'Files outside the workspace'
    )}. ${one ? 'It is' : 'They are'} published all the same; narrow the glob if ${one ? 'it was' : 'they were'} not meant to be.`
  )
}

/**
 * The files the patterns select whose path is not valid UTF-8, with the reason. On Linux a
 * name is bytes; Node reads one that is not UTF-8 with U+FFFD in place of the bad bytes, a
 * path that names no file, so @actions/glob fails to stat it and drops it as a "broken
 * symlink" with only a debug line: the run succeeded without the file and said nothing. So
 * the folders the glob searched are read again with byte names to find such files. Windows
 * and macOS keep names as Unicode, so there is never one to find there; Windows is skipped,
 * as its byte names are Node's own rendering of UTF-16.
 */
async function findUndecodable(
  searchPaths: string[],
  matcher: GlobMatcher,
  excluded: (file: string) => boolean
): Promise<BadName[]> {
  if (process.platform === 'win32') return []
  const found: BadName[] = []
  // Folders already read, by device and inode: a symlink cycle is read once.
  const seen = new Set<string>()
  const visit = async (dir: Buffer, shown: string, badFolder: boolean): Promise<void> => {
    const info = await stat(dir).catch(() => undefined)
    if (!info?.isDirectory() || seen.has(`${info.dev}:${info.ino}`)) return
    seen.add(`${info.dev}:${info.ino}`)
    // Read a few entries at a time, not as one array: a folder of 10,000 files read whole
    // keeps every entry alive for the length of the walk. Names as bytes: Node takes
    // 'buffer' here as readdir does, though @types/node lists only text encodings.
    const folder = await opendir(dir, { encoding: 'buffer' as BufferEncoding }).catch(
      () => undefined
    )
    if (folder === undefined) return
    try {
      for (;;) {
        // An error while reading counts as the end of the folder, as it did for readdir.
        const entry = (await folder.read().catch(() => null)) as Dirent<Buffer> | null
        if (entry === null) break
        await visitEntry(dir, shown, badFolder, entry)
      }
    } finally {
      await folder.close().catch(() => undefined)
    }
  }
  const visitEntry = async (
    dir: Buffer,
    shown: string,
    badFolder: boolean,
    entry: Dirent<Buffer>
  ): Promise<void> => {
    const bytes = Buffer.concat([dir, Buffer.from(path.sep), entry.name])
    // How the glob saw it: the bytes decoded with U+FFFD for each bad one.
    const child = path.join(shown, entry.name.toString('utf8'))
    const badName = !isUtf8(entry.name)
    if (excluded(child)) return
    if (entry.isDirectory() || entry.isSymbolicLink()) {
      if (matcher.mayContain(child)) await visit(bytes, child, badFolder || badName)
      if (entry.isDirectory()) return
    }
    if (!(badFolder || badName) || !matcher.selects(child)) return
    // The glob follows symlinks; only regular files are published.
    if (!(await stat(bytes).catch(() => undefined))?.isFile()) return
    const problem = badName ? 'name not valid UTF-8' : 'a folder name in its path not valid UTF-8'
    found.push({ path: bytes, problem })
  }
  for (const searchPath of searchPaths) await visit(Buffer.from(searchPath), searchPath, false)
  return found
}

/**
 * @actions/glob's test of a path against the patterns (its `Pattern` class, which the package
 * does not export), for the paths it cannot test itself because it cannot stat them: the same
 * minimatch, options and reading of `!`, `~`, a trailing `/` and a final `**`.
 */
class GlobMatcher {
  private readonly patterns: {
    negate: boolean
    /** A trailing `/`: matches folders only, so never a file. */
    foldersOnly: boolean
    /** A final `**`, which @actions/glob tests against the path with a `/` appended. */
    globstar: boolean
    minimatch: Minimatch
  }[]

  constructor(rootedPatterns: string[]) {
    this.patterns = rootedPatterns.map((line) => {
      let pattern = line.trim()
      let negate = false
      while (pattern.startsWith('!')) {
        negate = !negate
        pattern = pattern.slice(1).trim()
      }
      if (pattern === '~' || pattern.startsWith('~/')) {
        pattern = globEscape(homedir()) + pattern.slice(1)
      }
      pattern = pattern.replace(/\/+/g, '/')
      const foldersOnly = pattern.length > 1 && pattern.endsWith('/')
      if (foldersOnly) pattern = pattern.slice(0, -1)
      return {
        negate,
        foldersOnly,
        globstar: pattern.endsWith('/**'),
        minimatch: new Minimatch(pattern, {
          dot: true,
          nobrace: true,
          nocomment: true,
          noext: true,
          nonegate: true
        })
      }
    })
  }

  /** Whether the patterns select the file: the last pattern that matches it decides. */
  selects(file: string): boolean {
    let selected = false
    for (const p of this.patterns) {
      if (!p.foldersOnly && p.minimatch.match(p.globstar ? `${file}/` : file)) {
        selected = !p.negate
      }
    }
    return selected
  }

  /** Whether the glob would look inside the folder: some pattern may match below it. */
  mayContain(folder: string): boolean {
    return this.patterns.some((p) => !p.negate && p.minimatch.match(folder, true))
  }
}

/** @actions/glob's escaping of a literal path (its `Pattern.globEscape`, on POSIX). */
function globEscape(literal: string): string {
  return literal
    .replace(/\\/g, '\\\\')
    .replace(/(\[)(?=[^/]+\])/g, '[[]')
    .replace(/\?/g, '[?]')
    .replace(/\*/g, '[*]')
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
