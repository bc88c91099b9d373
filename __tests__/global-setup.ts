/**
 * Jest's globalSetup: the tests run what the project builds, so a bare `npx jest` after an edit
 * would otherwise test an old build and pass or fail for the wrong reason.
 *
 * - `dist/`: the end-to-end tests run `dist/index.js` and `dist/post/index.js` as a runner does.
 * - `build/`: the tools as `npm run build:tools` compiles them, which some tests run as a user
 *   does (`build/emulator/server-cli.js`, `npm run server`'s program; `npm test` does not
 *   build them).
 *
 * Each is rebuilt with its npm script when one of its outputs is missing or older than a file
 * it is built from (about 10 s for `dist/`, 4 s for `build/`); when they are newer, nothing.
 */
import { execSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import * as path from 'node:path'

// What the compilers read besides the sources: the dependencies' versions and the options.
const CONFIG = ['package.json', 'package-lock.json', 'tsconfig.json']
const TOOL_FOLDERS = ['src', 'emulator', 'scripts']

interface Build {
  folder: string
  script: string
  /** The files it makes, under the project's root. */
  outputs: (root: string) => string[]
  /** The files it is made from, under the project's root. */
  inputs: (root: string) => string[]
}

const BUILDS: Build[] = [
  {
    folder: 'dist/',
    script: 'bundle',
    outputs: (root) => ['dist/index.js', 'dist/post/index.js'].map((f) => path.join(root, f)),
    // The ASCII rewrite after ncc is part of the bundle too.
    inputs: (root) => [
      ...[...CONFIG, 'scripts/ascii-dist.js'].map((f) => path.join(root, f)),
      ...filesUnder(root, 'src')
    ]
  },
  {
    folder: 'build/',
    script: 'build:tools',
    // tsc writes every file it compiles: one .js for each .ts under the folders it includes.
    outputs: (root) =>
      TOOL_FOLDERS.flatMap((folder) => filesUnder(root, folder))
        .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
        .map((file) => path.join(root, 'build', path.relative(root, file)).replace(/\.ts$/, '.js')),
    inputs: (root) => [
      ...[...CONFIG, 'tsconfig.tools.json'].map((f) => path.join(root, f)),
      ...TOOL_FOLDERS.flatMap((folder) => filesUnder(root, folder))
    ]
  }
]

export default function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }) {
  const root = projectConfig.rootDir
  for (const build of BUILDS) {
    const newestInput = Math.max(...build.inputs(root).map((file) => mtimeOf(file) ?? 0))
    const stale = build.outputs(root).some((file) => (mtimeOf(file) ?? -Infinity) < newestInput)
    if (stale) rebuild(root, build)
  }
}

function rebuild(root: string, { folder, script }: Build): void {
  process.stderr.write(
    `${folder} is missing or older than its sources: rebuilding it (npm run ${script})\n`
  )
  try {
    // Through a shell, so that npm is found as npm.cmd on Windows too.
    execSync(`npm run -s ${script}`, { cwd: root, stdio: 'pipe' })
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer }
    const output = `${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`
    throw new Error(
      `Rebuilding ${folder} with 'npm run ${script}' failed, so the tests that run it cannot:\n${output}`,
      { cause: error }
    )
  }
}

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs
  } catch {
    return undefined
  }
}

function filesUnder(root: string, folder: string): string[] {
  return readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
}
