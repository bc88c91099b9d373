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
import { writeChecksums } from './checksums.js'
import type { Download } from './downloads-api.js'
import { describeItem, makePlan, type ClashInspector, type Digests, type PlanItem } from './plan.js'
import { downloadsToPrune } from './prune.js'
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
    const { plan, existing } = await core.group('Plan', () =>
      planUploads(session as Session, artifacts, inputs)
    )
    const inspector = clashInspector(session)

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
          inspector
        )
        log.info(describeItem(item))
        planned.push({ item, sha256: (await digestsFor(item)).sha256 })
      }
      const ownNames = new Set(planned.map(({ item }) => item.artifact.name))
      const wouldPrune = downloadsToPrune(existing, inputs.prune, inputs.pruneKeep, ownNames)
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

    // The checksums file and the pruning come last, and only after a run in which every file
    // landed: a checksums file must list exactly what is published, and pruning must never
    // leave fewer good builds than there were.
    const complete = failed.length === 0 && !cancellation.cancelled
    if (inputs.checksumsFile !== undefined) {
      const name = inputs.checksumsFile
      if (!complete) {
        log.info(`${name} is not published: not every file landed.`)
      } else {
        await core.group('Checksums', async () => {
          const checksums = await writeChecksums(
            name,
            published.map((p) => ({ name: p.download.name, sha256: p.sha256 }))
          )
          core.setOutput('checksums-path', checksums.path)
          try {
            const [item] = await makePlan(
              [checksums],
              existing,
              inputs.replaceExisting,
              (session as Session).api.slug,
              inspector
            )
            log.info(describeItem(item))
            const done = await publisher.publish(item)
            log.info(`${name} → ${done.download.htmlUrl} (${done.status})`)
            published.push(done)
          } catch (error) {
            failed.push({ name, message: describe(error) })
          }
        })
      }
    }
    let pruned: Download[] = []
    if (inputs.prune.length > 0) {
      if (failed.length > 0 || cancellation.cancelled) {
        log.info('Nothing is pruned: not every file landed.')
      } else {
        pruned = await core.group('Prune', () =>
          prune(session as Session, inputs, published, failed)
        )
      }
    }
    core.setOutput('pruned', JSON.stringify(pruned.map((d) => ({ id: d.id, name: d.name }))))

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
      unsettled,
      pruned
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
    includeHiddenFiles: inputs.includeHiddenFiles,
    nameOf: inputs.nameOf
  })
  const taken = artifacts.find((a) => a.name === inputs.checksumsFile)
  if (taken !== undefined) {
    throw new Error(
      `Input 'checksums-file' is ${taken.name}, the download name of ${taken.path} too: leave that file out with a '!' pattern, or name the checksums file otherwise.`
    )
  }
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
  for (const item of plan) log.info(describeItem(item))
  return { plan, existing }
}

/** How the plan looks at what a download holds: through its html_url, without the token. */
function clashInspector(session: Session): ClashInspector {
  const { storedBytes } = session
  return {
    stored: (download) => storedBytes.probe(download),
    storedMd5: async (download) => (await storedBytes.save(download, null))?.md5 ?? null,
    digestsOf: (artifact) => digestsFor({ artifact })
  }
}

/**
 * Deletes the old downloads that `prune` names, keeping the newest `prune-keep` and never one
 * this run published. Listed afresh: the run itself changed the list.
 */
async function prune(
  session: Session,
  inputs: Inputs,
  published: Published[],
  failed: Failure[]
): Promise<Download[]> {
  const own = new Set(published.map((p) => p.download.name))
  const doomed = downloadsToPrune(await session.api.list(), inputs.prune, inputs.pruneKeep, own)
  if (doomed.length === 0)
    log.info(`No download matches 'prune' beyond the ${inputs.pruneKeep} kept.`)
  const pruned: Download[] = []
  for (const download of doomed) {
    try {
      await session.api.delete(download.id)
      pruned.push(download)
      log.info(`Pruned ${download.name} (download ${download.id}, ${download.createdAt}).`)
    } catch (error) {
      failed.push({ name: download.name, message: `pruning it failed: ${describe(error)}` })
    }
  }
  return pruned
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
