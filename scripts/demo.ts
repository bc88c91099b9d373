// `npm run demo`: runs the bundled action on sample files against the bundled emulator, as a
// runner would, and shows what a user sees: the log, the outputs and the job summary.
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { startEmulator } from '../emulator/index.js'
import { makeWorkspace, runAction } from './local-runner.js'

const token = 'demo-token'
const repository = 'octocat/hello-world'
const emulator = await startEmulator({ tokens: [token], repos: [repository] })
const workspace = await makeWorkspace()
try {
  // A build's output: an installer big enough to show progress lines, a few small files,
  // and a log the glob excludes. One name already exists upstream, to show a replace.
  await mkdir(path.join(workspace, 'build'), { recursive: true })
  await writeFile(
    path.join(workspace, 'build', 'hello-1.0.0-linux-x64.tar.gz'),
    randomBytes(48 * 1024 * 1024)
  )
  await writeFile(path.join(workspace, 'build', 'hello-1.0.0-windows.zip'), randomBytes(300 * 1024))
  await writeFile(path.join(workspace, 'build', 'SHA256SUMS.txt'), 'see the downloads output\n')
  await writeFile(path.join(workspace, 'build', 'build.log'), 'not published\n')
  emulator.seed(repository, {
    name: 'SHA256SUMS.txt',
    content: 'an older list\n',
    description: 'v0.9.0'
  })

  console.log(`Emulator: API ${emulator.apiUrl}, S3 ${emulator.s3Url}`)
  console.log(
    `Running dist/index.js with glob 'build/*' and '!build/*.log', replace-existing: true\n`
  )
  const result = await runAction({
    workspace,
    inputs: {
      glob: 'build/*\n!build/*.log',
      description: 'Hello 1.0.0',
      'replace-existing': 'true'
    },
    github: { token, repository, apiUrl: emulator.apiUrl },
    onLine: (line) => {
      const shown = asRunnerShows(line)
      if (shown !== undefined) console.log(shown)
    }
  })

  console.log(`\n--- exit code ${result.code}`)
  console.log('\n--- outputs')
  console.log(`count: ${result.outputs.count}`)
  console.log(`urls:\n${(result.outputs.urls ?? '').replace(/^/gm, '  ')}`)
  console.log(`downloads: ${JSON.stringify(JSON.parse(result.outputs.downloads ?? '[]'), null, 2)}`)
  console.log('\n--- job summary (as text)')
  console.log(htmlToText(result.summary))
  // The runner then runs the post step: after a clean run it has nothing to settle.
  console.log(`\n--- post step: exit code ${result.post.code}`)
  console.log(result.post.stdout.trim())
  process.exitCode = result.code || result.post.code
} finally {
  await emulator.close()
  await rm(workspace, { recursive: true, force: true })
}

/**
 * A log line as the Actions log shows it: masks and debug lines hidden, groups as headings,
 * annotations labelled.
 */
function asRunnerShows(line: string): string | undefined {
  const command = /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(line)
  if (command === null) return `  ${line}`
  const [, name, text] = command
  if (name === 'group') return `▸ ${text}`
  if (name === 'error') return `  Error: ${text}`
  if (name === 'warning') return `  Warning: ${text}`
  if (name === 'notice') return `  Notice: ${text}`
  return undefined
}

/** A rough rendering of the summary's HTML for a terminal. */
function htmlToText(html: string): string {
  return html
    .replace(/<\/t[hd]>\s*<t[hd][^>]*>/g, ' | ')
    .replace(/<\/tr>/g, '\n')
    .replace(/<h\d>(.*?)<\/h\d>/g, '\n$1\n')
    .replace(/<li>/g, '- ')
    .replace(/<br\s*\/?>/g, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}
