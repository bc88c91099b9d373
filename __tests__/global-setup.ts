/**
 * Jest's globalSetup. The end-to-end tests run `dist/index.js` and `dist/post/index.js` as a
 * runner does, so a bare `npx jest` after an edit in `src/` would test the old bundles and
 * pass or fail for the wrong reason. When a bundle is older than a file it is built from,
 * this rebuilds both with `npm run bundle` (about 10 s); when they are newer, it does nothing.
 */
import { execSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import * as path from 'node:path'

const BUNDLES = ['dist/index.js', 'dist/post/index.js']
// What the bundles are made from besides src/: the dependencies' versions, the compiler
// options, and the ASCII rewrite after ncc.
const INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'scripts/ascii-dist.js']

export default function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }) {
  const root = projectConfig.rootDir
  const newestInput = Math.max(
    ...INPUTS.map((file) => mtimeOf(path.join(root, file)) ?? 0),
    ...sourceFiles(path.join(root, 'src')).map((file) => mtimeOf(file) ?? 0)
  )
  const bundles = BUNDLES.map((file) => mtimeOf(path.join(root, file)))
  const stale = bundles.some((mtime) => mtime === undefined || mtime < newestInput)
  if (!stale) return

  process.stderr.write(
    'dist/ is older than src/: rebuilding it (npm run bundle) for the e2e tests\n'
  )
  try {
    // Through a shell, so that npm is found as npm.cmd on Windows too.
    execSync('npm run -s bundle', { cwd: root, stdio: 'pipe' })
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer }
    const output = `${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`
    throw new Error(
      `Rebuilding dist/ with 'npm run bundle' failed, so the end-to-end tests cannot run:\n${output}`,
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

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
}
