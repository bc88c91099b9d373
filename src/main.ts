import * as core from '@actions/core'
import { mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { Cancellation, holdSignals } from './cancellation.js'
import { describe } from './errors.js'
import { findArtifacts, type Artifact } from './files.js'
import { readInputs, type Inputs } from './inputs.js'
import { finishedCleanly, Journal, namesToSettle } from './journal.js'
import { digestsOf } from './local-file.js'
import * as log from './log.js'
import { writeChecksums } from './checksums.js'
import type { Download } from './downloads-api.js'
import { describeItem, makePlan, type ClashInspector, type Digests, type PlanItem } from './plan.js'
import {
  checkChecksumsClash,
  prune,
  pruneCandidates,
  publishChecksums,
  warnStaleChecksums,
  type ReleaseContext
} from './release-steps.js'
import { settleAll } from './pool.js'
import { ProgressLog } from './progress.js'
import { Publisher, type Published } from './publish.js'
import { settle } from './recovery.js'
import {
  humanSize,
  setOutputs,
  setPlannedOutputs,
  writeRecoverySummary,
  writeStoppedSummary,
  writeSummary,
  type Failure
} from './report.js'
import { createSession, JOURNAL_STATE, saveJournalPath, type Session } from './session.js'

/**
 * The action's main step: read the inputs, find the files, check them against the
 * repository's downloads, publish them, and report. The one place that fails the step.
 */
export async function run(): Promise<void> {
  const started = Date.now()
  let session: Session | undefined
  let work: Workspace | undefined
  // Installed only once changes start: until then a signal may end the process at once,
  // since there is nothing to undo.
  const cancellation = new Cancellation(log.info)
  try {
    const inputs = readInputs()
    const artifacts = await core.group('Files', () => matchFiles(inputs))
    if (artifacts.length === 0) {
      setOutputs([])
      return
    }

    session = createSession(inputs, cancellation.signal)
    const { plan, existing } = await core.group('Plan', () =>
      planUploads(session as Session, artifacts, inputs)
    )
    const release: ReleaseContext = {
      session,
      inputs,
      existing,
      inspector: clashInspector(session)
    }
    const digestsOfPlan = async () => {
      const files = []
      for (const item of plan) {
        files.push({ name: item.artifact.name, sha256: (await digestsFor(item)).sha256 })
      }
      return files
    }
    await checkChecksumsClash(release, digestsOfPlan)

    if (inputs.dryRun) {
      const planned = []
      for (const item of plan) planned.push({ item, sha256: (await digestsFor(item)).sha256 })
      if (inputs.checksumsFile !== undefined) {
        const checksums = await writeChecksums(
          inputs.checksumsFile,
          planned.map(({ item, sha256 }) => ({ name: item.artifact.name, sha256 }))
        )
        core.setOutput('checksums-path', checksums.path)
        const [item] = await makePlan(
          [checksums],
          existing,
          inputs.replaceExisting,
          session.api.slug,
          release.inspector
        )
        log.info(describeItem(item))
        planned.push({ item, sha256: (await digestsFor(item)).sha256 })
      }
      const ownNames = new Set(planned.map(({ item }) => item.artifact.name))
      const wouldPrune = await pruneCandidates(release, ownNames)
      for (const d of wouldPrune) log.info(`prune ${d.name} (download ${d.id}, ${d.createdAt})`)
      setPlannedOutputs(planned)
      core.setOutput('pruned', '[]')
      await writeSummary({
        published: [],
        failed: [],
        planned: planned.map(({ item }) => item),
        dryRun: true,
        repository: session.api.slug,
        elapsedMs: Date.now() - started,
        pruned: wouldPrune
      })
      log.info('Dry run: nothing was changed.')
      return
    }

    cancellation.listen()
    work = await openWorkspace(session.api.slug)
    const progress = new ProgressLog()
    const publisher = new Publisher({
      ...session,
      journal: work.journal,
      cancellation,
      description: inputs.description,
      tempDir: work.dir,
      onProgress: (artifact, sent) => progress.update(artifact, sent)
    })
    const { published, failed } = await core.group('Upload', () =>
      publishAll(plan, session as Session, publisher)
    )
    await checkStillListed(session, published, failed)

    if (failed.length === 0 && !cancellation.cancelled) {
      await publishChecksums(release, published, publisher, failed)
    } else {
      warnStaleChecksums(release, published)
    }
    let pruned: Download[] = []
    let notPruned: Failure[] = []
    if (inputs.prune.length > 0) {
      if (failed.length > 0 || cancellation.cancelled) {
        log.info('Nothing is pruned: not every file landed.')
      } else {
        ;({ pruned, notPruned } = await prune(release, published, cancellation))
      }
    }
    core.setOutput('pruned', JSON.stringify(pruned.map((d) => ({ id: d.id, name: d.name }))))

    setOutputs(published)
    const unsettled = work.journal.unsettled().map((state) => state.name)
    await writeSummary({
      published,
      failed,
      planned: plan,
      dryRun: false,
      repository: session.api.slug,
      elapsedMs: Date.now() - started,
      cancelled: cancellation.cancelled ? cancellation.reason : undefined,
      unsettled,
      pruned,
      notPruned
    })
    if (unsettled.length > 0) {
      log.warning(
        `Left half-done, for the post step to settle: ${unsettled.join(', ')}. Its saved copies are in ${work.dir}.`
      )
    }
    // One annotation per failed file, naming it and the cause; the last one fails the step.
    const messages = failed.map((failure) => `${failure.name}: ${failure.message}`)
    if (cancellation.cancelled) {
      messages.push(
        `Cancelled (${cancellation.reason}): ${published.length} of ${plan.length} files are published; the others were undone or never started.`
      )
    }
    messages.forEach((message, i) => {
      if (i < messages.length - 1) log.error(message)
      else core.setFailed(message)
    })
  } catch (error) {
    await writeStoppedSummary(describe(error))
    core.setFailed(describe(error))
  } finally {
    await work?.close()
    await session?.close()
    cancellation.dispose()
  }
}

/**
 * The post step (`post-if: always()`): the runner runs it after the main step however that
 * ended, a kill included. When the main step's journal shows names left half-done, it
 * settles them: records without bytes are deleted, replaced downloads put back from their
 * saved copies. After a clean run it says so in one line.
 */
export async function runPost(): Promise<void> {
  const journalPath = core.getState(JOURNAL_STATE)
  let session: Session | undefined
  let journal: Journal | undefined
  const releaseSignals = holdSignals(log.info)
  try {
    // A clean main step removes its folder, journal and all.
    const exists = journalPath !== '' && (await stat(journalPath).catch(() => null)) !== null
    if (exists && !(await isOwnJournal(journalPath))) {
      log.warning(
        `The saved journal path ${journalPath} is not a journal this action writes (RUNNER_TEMP/upload-downloads-*/journal.jsonl); nothing was done.`
      )
      return
    }
    const read = exists ? await Journal.read(journalPath).catch(() => null) : null
    if (read === null || finishedCleanly(read.entries)) {
      log.info('Post step: the main step left nothing half-done.')
      return
    }
    if (read.skipped > 0) {
      log.info(
        `The journal has ${read.skipped} unreadable line(s) (a write cut short); passed over.`
      )
    }
    if (namesToSettle(read.entries).length === 0) {
      log.info('Post step: the main step left nothing half-done.')
      await rm(path.dirname(journalPath), { recursive: true, force: true })
      return
    }

    const inputs = readInputs()
    session = createSession(inputs)
    journal = Journal.open(journalPath)
    const publisher = new Publisher({
      ...session,
      journal,
      // The post step is itself the undo: nothing in it is cut short.
      cancellation: new Cancellation(),
      description: inputs.description,
      tempDir: path.dirname(journalPath)
    })
    const tools = {
      api: session.undo.api,
      storedBytes: session.undo.storedBytes,
      publisher,
      folder: path.dirname(journalPath)
    }
    const results = await core.group('Settle what the main step left half-done', async () => {
      const settled = await settle(read.entries, tools)
      for (const result of settled) log.info(`${result.name}: ${result.what}`)
      return settled
    })
    await writeRecoverySummary(session.api.slug, results)
    const failed = results.filter((r) => !r.ok)
    if (failed.length === 0) {
      await journal.record({ op: 'done' })
      journal.close()
      await rm(path.dirname(journalPath), { recursive: true, force: true })
      return
    }
    const messages = failed.map((r) => `${r.name}: ${r.what}`)
    messages.forEach((message, i) => {
      if (i < messages.length - 1) log.error(message)
      else core.setFailed(message)
    })
  } catch (error) {
    core.setFailed(`The post step could not settle what the main step left: ${describe(error)}`)
  } finally {
    journal?.close()
    await session?.close()
    releaseSignals()
  }
}

/**
 * Whether a path is a journal this action writes: `journal.jsonl` in an `upload-downloads-*`
 * folder right under RUNNER_TEMP. The post step deletes that folder when done and uploads
 * copies from it, so it must never act on another path.
 */
async function isOwnJournal(journalPath: string): Promise<boolean> {
  const temp = process.env.RUNNER_TEMP || tmpdir()
  const real = await realpath(journalPath).catch(() => null)
  const root = await realpath(temp).catch(() => null)
  if (real === null || root === null) return false
  const folder = path.dirname(real)
  return (
    path.basename(real) === 'journal.jsonl' &&
    path.dirname(folder) === root &&
    /^upload-downloads-[^/]+$/.test(path.basename(folder))
  )
}

/** The run's folder under RUNNER_TEMP: its journal and the copies of replaced downloads. */
interface Workspace {
  dir: string
  journal: Journal
  close(): Promise<void>
}

async function openWorkspace(repository: string): Promise<Workspace> {
  const temp = process.env.RUNNER_TEMP || tmpdir()
  await mkdir(temp, { recursive: true })
  const dir = await mkdtemp(path.join(temp, 'upload-downloads-'))
  const journal = Journal.open(path.join(dir, 'journal.jsonl'))
  // Before the first change: the post step finds the journal through this.
  saveJournalPath(journal.path)
  await journal.record({ op: 'run', repository, at: new Date().toISOString() })
  return {
    dir,
    journal,
    async close() {
      if (journal.unsettled().length > 0) {
        // The post step needs the journal and the copies.
        journal.close()
        return
      }
      await journal.record({ op: 'done' })
      journal.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function matchFiles(inputs: Inputs): Promise<Artifact[]> {
  const artifacts = await findArtifacts(inputs.patterns, inputs.workspace, {
    includeHiddenFiles: inputs.includeHiddenFiles,
    nameOf: inputs.nameOf
  })
  const taken = artifacts.find((a) => a.name === inputs.checksumsFile)
  if (taken !== undefined) {
    throw new Error(
      `Input 'checksums-file' is ${taken.name}, the download name of ${taken.path} too: leave that file out with a '!' pattern, or name the checksums file otherwise.`
    )
  }
  for (const artifact of artifacts) {
    log.info(`${artifact.name} (${humanSize(artifact.size)}) ← ${artifact.path}`)
    await log.drained()
  }
  if (artifacts.length > 0) return artifacts

  const message = `No files matched ${inputs.patterns.map((p) => `'${p}'`).join(', ')} in ${inputs.workspace}. Check the 'glob' input and that the build step wrote its files there.`
  if (inputs.ifNoFilesFound === 'error') throw new Error(message)
  if (inputs.ifNoFilesFound === 'warn') log.warning(message)
  else log.info(message)
  return artifacts
}

/** Digests computed for the plan, reused by the dry run. */
const digestCache = new Map<string, Promise<Digests>>()

function digestsFor(item: PlanItem | { artifact: Artifact }): Promise<Digests> {
  if ('action' in item && item.action === 'unchanged') return Promise.resolve(item.digests)
  let digests = digestCache.get(item.artifact.path)
  if (digests === undefined) {
    digests = digestsOf(item.artifact)
    digestCache.set(item.artifact.path, digests)
  }
  return digests
}

async function planUploads(
  session: Session,
  artifacts: Artifact[],
  inputs: Inputs
): Promise<{ plan: PlanItem[]; existing: Download[] }> {
  const { api } = session
  const existing = await api.list()
  log.info(`${api.slug} has ${existing.length} download${existing.length === 1 ? '' : 's'}.`)
  const plan = await makePlan(
    artifacts,
    existing,
    inputs.replaceExisting,
    api.slug,
    clashInspector(session)
  )
  for (const item of plan) {
    log.info(describeItem(item))
    await log.drained()
  }
  return { plan, existing }
}

/** How the plan looks at what a download holds: through its html_url, without the token. */
function clashInspector(session: Session): ClashInspector {
  const { storedBytes } = session
  return {
    stored: (download) => storedBytes.probe(download),
    storedMd5: async (download) => (await storedBytes.save(download, null))?.md5 ?? null,
    digestsOf: (artifact) => digestsFor({ artifact }),
    // By the server's own clock, which made created_at: the runner's may be off.
    ageSeconds: (download) => {
      const created = Date.parse(download.createdAt)
      if (Number.isNaN(created)) return undefined
      return ((session.api.serverDate ?? Date.now()) - created) / 1000
    }
  }
}

/**
 * One listing after the uploads: every download this run made must still be there. Another
 * writer (a second run, a person) may have deleted one after its bytes landed; such a file
 * is not published, and the run must not say it is.
 */
async function checkStillListed(
  session: Session,
  published: Published[],
  failed: Failure[]
): Promise<void> {
  const made = published.filter((p) => p.status !== 'unchanged')
  if (made.length === 0) return
  let listed: Set<number>
  try {
    listed = new Set((await session.undo.api.list()).map((d) => d.id))
  } catch (error) {
    log.warning(`Could not list the downloads again to check them: ${describe(error)}`)
    return
  }
  for (const p of made) {
    if (listed.has(p.download.id)) continue
    published.splice(published.indexOf(p), 1)
    failed.push({
      name: p.artifact.name,
      message: `its bytes landed, but download ${p.download.id} was deleted since by somebody else (another run of this workflow, or a person): it is not published.`
    })
  }
}

async function publishAll(
  plan: PlanItem[],
  session: Session,
  publisher: Publisher
): Promise<{ published: Published[]; failed: Failure[] }> {
  const results = await settleAll(plan, session.limit, async (item) => {
    await log.drained()
    const published = await publisher.publish(item)
    if (published.status !== 'unchanged') {
      log.info(`${item.artifact.name} → ${published.download.htmlUrl} (${published.status})`)
    }
    return published
  })
  const published: Published[] = []
  const failed: Failure[] = []
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') published.push(result.value)
    else {
      failed.push({ name: plan[i].artifact.name, message: describe(result.reason) })
    }
  })
  return { published, failed }
}
