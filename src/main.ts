import * as core from '@actions/core'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { Cancellation } from './cancellation.js'
import { describe } from './errors.js'
import { findArtifacts, type Artifact } from './files.js'
import { readInputs, type Inputs } from './inputs.js'
import { finishedCleanly, Journal, namesToSettle } from './journal.js'
import { digestsOf } from './local-file.js'
import * as log from './log.js'
import { describeItem, makePlan, type Digests, type PlanItem } from './plan.js'
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

    session = createSession(inputs)
    const plan = await core.group('Plan', () => planUploads(session as Session, artifacts, inputs))

    if (inputs.dryRun) {
      const planned = []
      for (const item of plan) planned.push({ item, sha256: (await digestsFor(item)).sha256 })
      setPlannedOutputs(planned)
      await writeSummary({
        published: [],
        failed: [],
        planned: plan,
        dryRun: true,
        repository: session.api.slug,
        elapsedMs: Date.now() - started
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

    setOutputs(published)
    const unsettled = namesToSettle(work.journal.entries).map((state) => state.name)
    await writeSummary({
      published,
      failed,
      planned: plan,
      dryRun: false,
      repository: session.api.slug,
      elapsedMs: Date.now() - started,
      cancelled: cancellation.cancelled ? cancellation.reason : undefined,
      unsettled
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
  try {
    const read = journalPath === '' ? null : await Journal.read(journalPath).catch(() => null)
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
    const tools = { api: session.undo.api, storedBytes: session.undo.storedBytes, publisher }
    const results = await core.group('Settle what the main step left half-done', async () => {
      const settled = await settle(read.entries, tools)
      for (const result of settled) log.info(`${result.name}: ${result.what}`)
      return settled
    })
    await writeRecoverySummary(session.api.slug, results)
    const failed = results.filter((r) => !r.ok)
    if (failed.length === 0) {
      journal.record({ op: 'done' })
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
  }
}

/** The run's folder under RUNNER_TEMP: its journal and the copies of replaced downloads. */
interface Workspace {
  dir: string
  journal: Journal
  close(): Promise<void>
}

async function openWorkspace(repository: string): Promise<Workspace> {
  const dir = await mkdtemp(path.join(process.env.RUNNER_TEMP || tmpdir(), 'upload-downloads-'))
  const journal = Journal.open(path.join(dir, 'journal.jsonl'))
  // Before the first change: the post step finds the journal through this.
  saveJournalPath(journal.path)
  journal.record({ op: 'run', repository, at: new Date().toISOString() })
  return {
    dir,
    journal,
    async close() {
      if (namesToSettle(journal.entries).length > 0) {
        // The post step needs the journal and the copies.
        journal.close()
        return
      }
      journal.record({ op: 'done' })
      journal.close()
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function matchFiles(inputs: Inputs): Promise<Artifact[]> {
  const artifacts = await findArtifacts(inputs.patterns, inputs.workspace, {
    includeHiddenFiles: inputs.includeHiddenFiles
  })
  for (const artifact of artifacts)
    log.info(`${artifact.name} (${humanSize(artifact.size)}) ← ${artifact.path}`)
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
): Promise<PlanItem[]> {
  const { api, storedBytes } = session
  const existing = await api.list()
  log.info(`${api.slug} has ${existing.length} download${existing.length === 1 ? '' : 's'}.`)
  const plan = await makePlan(artifacts, existing, inputs.replaceExisting, api.slug, {
    stored: (download) => storedBytes.probe(download),
    storedMd5: async (download) => (await storedBytes.save(download, null))?.md5 ?? null,
    digestsOf: (artifact) => digestsFor({ artifact })
  })
  for (const item of plan) log.info(describeItem(item))
  return plan
}

async function publishAll(
  plan: PlanItem[],
  session: Session,
  publisher: Publisher
): Promise<{ published: Published[]; failed: Failure[] }> {
  const results = await settleAll(plan, session.limit, async (item) => {
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
