import * as core from '@actions/core'
import { mkdir, mkdtemp, realpath, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { Cancellation, holdSignals } from './cancellation.js'
import { describe } from './errors.js'
import { findSourceFiles, type SourceFile } from './files.js'
import { favourSmallHeap } from './heap.js'
import { readInputs, type Inputs } from './inputs.js'
import { finishedCleanly, Journal, JOURNAL_STATE, namesToSettle } from './journal.js'
import { listSome } from './listing.js'
import { digestsOf } from './local-file.js'
import * as log from './log.js'
import type { Checksummed } from './checksums.js'
import type { Download } from './downloads-api.js'
import { describeItem, makePlan, type ClashInspector, type Digests, type PlanItem } from './plan.js'
import {
  checkChecksumsClash,
  planChecksums,
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
  setReleaseOutputs,
  writeRecoverySummary,
  writeStoppedSummary,
  writeSummary,
  type Failure
} from './report.js'
import { createSession, type Session } from './session.js'

/**
 * The action's main step: read the inputs, find the files, check them against the
 * repository's downloads, publish them, and report. With {@link runPost}, the one place that
 * fails the step (through {@link fail}).
 */
export async function run(): Promise<void> {
  const started = Date.now()
  favourSmallHeap()
  // Listening only once changes start: until then a signal may end the process at once,
  // since there is nothing to undo.
  const cancellation = new Cancellation(log.info)
  let session: Session | undefined
  try {
    const inputs = readInputs()
    const sources = await core.group('Files', () => matchFiles(inputs))
    if (sources.length === 0) {
      setOutputs([])
      return
    }
    session = createSession(inputs, cancellation.signal)
    const planned = await core.group('Plan', () => planRun(inputs, session as Session, sources))
    if (inputs.dryRun) {
      await reportDryRun(planned, started)
      return
    }
    cancellation.listen()
    fail(await publishRun(planned, cancellation, started))
  } catch (error) {
    await writeStoppedSummary(describe(error))
    fail([describe(error)])
  } finally {
    await session?.close()
    cancellation.dispose()
  }
}

/**
 * Fails the step: one annotation per message, naming the file and the cause, the last one
 * through `setFailed`. Nothing to say, nothing failed.
 */
function fail(messages: string[]): void {
  messages.forEach((message, i) => {
    if (i < messages.length - 1) log.error(message)
    else core.setFailed(message)
  })
}

/** What the run will do, and what it needs to do it. */
interface PlannedRun {
  inputs: Inputs
  session: Session
  plan: PlanItem[]
  release: ReleaseContext
  digests: DigestCache
}

/**
 * Lists the repository's downloads, plans each file against them, and checks, before any
 * change, that the checksums file would not clash either.
 */
async function planRun(
  inputs: Inputs,
  session: Session,
  sources: SourceFile[]
): Promise<PlannedRun> {
  const { api } = session
  const digests = new DigestCache()
  const inspector = clashInspector(session, digests)
  const existing = await api.list()
  log.info(`${api.slug} has ${existing.length} download${existing.length === 1 ? '' : 's'}.`)
  const plan = await makePlan(sources, existing, inputs.replaceExisting, api.slug, inspector)
  for (const item of plan) {
    log.info(describeItem(item))
    await log.drained()
  }
  const release: ReleaseContext = { session, inputs, existing, inspector }
  await checkChecksumsClash(release, () => digests.checksummed(plan))
  return { inputs, session, plan, release, digests }
}

/**
 * A dry run: the plan in the log, the outputs and the summary, with what `checksums-file`
 * and `prune` would do; nothing is changed.
 */
async function reportDryRun(run: PlannedRun, started: number): Promise<void> {
  const { inputs, session, plan, release, digests } = run
  const planned = []
  for (const item of plan) planned.push({ item, sha256: (await digests.of(item)).sha256 })
  let checksumsPath: string | undefined
  if (inputs.checksumsFile !== undefined) {
    const item = await planChecksums(release, await digests.checksummed(plan))
    log.info(describeItem(item))
    checksumsPath = item.source.path
    planned.push({ item, sha256: (await digests.of(item)).sha256 })
  }
  const ownNames = new Set(planned.map(({ item }) => item.source.name))
  const wouldPrune = await pruneCandidates(release, ownNames)
  for (const d of wouldPrune) log.info(`prune ${d.name} (download ${d.id}, ${d.createdAt})`)
  setPlannedOutputs(planned)
  setReleaseOutputs({ checksumsPath, pruned: [] })
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
}

/**
 * Publishes the plan, then the checksums file and the pruning, and reports. Resolves to the
 * messages that fail the step (none when everything landed).
 */
async function publishRun(
  run: PlannedRun,
  cancellation: Cancellation,
  started: number
): Promise<string[]> {
  const { inputs, session, plan, release } = run
  const work = await openWorkspace(session.api.slug)
  try {
    const progress = new ProgressLog()
    const publisher = new Publisher({
      ...session,
      journal: work.journal,
      cancellation,
      description: inputs.description,
      tempDir: work.dir,
      onProgress: (source, sent) => progress.update(source, sent)
    })
    const uploaded = await core.group('Upload', () =>
      publishAll(plan, session, publisher, cancellation.signal)
    )
    const checked = await checkStillListed(session, uploaded.published)
    const published = checked.published
    const failed = [...uploaded.failed, ...checked.failed]

    let checksumsPath: string | undefined
    let pruned: Download[] = []
    let notPruned: Failure[] = []
    if (failed.length > 0 || cancellation.cancelled) {
      warnStaleChecksums(release, published)
      if (inputs.prune.length > 0) log.info('Nothing is pruned: not every file landed.')
    } else {
      const checksums = await publishChecksums(release, published, publisher)
      if (checksums.published !== undefined) published.push(checksums.published)
      if (checksums.failure !== undefined) failed.push(checksums.failure)
      checksumsPath = checksums.path
      if (inputs.prune.length > 0 && failed.length === 0) {
        ;({ pruned, notPruned } = await prune(release, published, cancellation))
      }
    }

    setOutputs(published)
    setReleaseOutputs({ checksumsPath, pruned })
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
        `Left half-done, for the post step to settle: ${listSome(unsettled, ', ', 'Left half-done')}. Its saved copies are in ${work.dir}.`
      )
    }
    const messages = failed.map((failure) => `${failure.name}: ${failure.message}`)
    if (cancellation.cancelled) {
      messages.push(
        `Cancelled (${cancellation.reason}): ${published.length} of ${plan.length} files are published; the others were undone or never started.`
      )
    }
    return messages
  } finally {
    await work.close()
  }
}

/**
 * The post step (`post-if: always()`): the runner runs it after the main step however that
 * ended, a kill included. When the main step's journal shows names left half-done, it
 * settles them: records without bytes are deleted, replaced downloads put back from their
 * saved copies. After a clean run it says so in one line.
 */
export async function runPost(): Promise<void> {
  favourSmallHeap()
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
    fail(failed.map((r) => `${r.name}: ${r.what}`))
  } catch (error) {
    fail([`The post step could not settle what the main step left: ${describe(error)}`])
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
  core.saveState(JOURNAL_STATE, journal.path)
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

async function matchFiles(inputs: Inputs): Promise<SourceFile[]> {
  const sources = await findSourceFiles(inputs.patterns, inputs.workspace, {
    includeHiddenFiles: inputs.includeHiddenFiles,
    nameOf: inputs.nameOf
  })
  const taken = sources.find((a) => a.name === inputs.checksumsFile)
  if (taken !== undefined) {
    throw new Error(
      `Input 'checksums-file' is ${taken.name}, the download name of ${taken.path} too: leave that file out with a '!' pattern, or name the checksums file otherwise.`
    )
  }
  for (const source of sources) {
    log.info(`${source.name} (${humanSize(source.size)}) ← ${source.path}`)
    await log.drained()
  }
  if (sources.length > 0) return sources

  const message = `No files matched ${inputs.patterns.map((p) => `'${p}'`).join(', ')} in ${inputs.workspace}. Check the 'glob' input and that the build step wrote its files there.`
  if (inputs.ifNoFilesFound === 'error') throw new Error(message)
  if (inputs.ifNoFilesFound === 'warn') log.warning(message)
  else log.info(message)
  return sources
}

/**
 * The digests of the run's files, each computed once: the plan needs the MD5 of a file that
 * clashes, the dry run and the checksums file the SHA-256 of every file.
 */
class DigestCache {
  private readonly cache = new Map<string, Promise<Digests>>()

  of(item: PlanItem | { source: SourceFile }): Promise<Digests> {
    if ('action' in item && item.action === 'unchanged') return Promise.resolve(item.digests)
    let digests = this.cache.get(item.source.path)
    if (digests === undefined) {
      digests = digestsOf(item.source)
      this.cache.set(item.source.path, digests)
    }
    return digests
  }

  /** Every planned file's name and SHA-256, for a checksums file. */
  async checksummed(plan: PlanItem[]): Promise<Checksummed[]> {
    const files: Checksummed[] = []
    for (const item of plan) {
      files.push({ name: item.source.name, sha256: (await this.of(item)).sha256 })
    }
    return files
  }
}

/** How the plan looks at what a download holds: through its html_url, without the token. */
function clashInspector(session: Session, digests: DigestCache): ClashInspector {
  const { storedBytes } = session
  return {
    stored: (download) => storedBytes.probe(download),
    storedMd5: async (download) => (await storedBytes.save(download, null))?.md5 ?? null,
    digestsOf: (source) => digests.of({ source }),
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
  published: Published[]
): Promise<{ published: Published[]; failed: Failure[] }> {
  // The ids not seen yet: a page at a time, so that a run of 10,000 files does not hold
  // 10,000 listed downloads besides its own results.
  const unseen = new Set(
    published.filter((p) => p.status !== 'unchanged').map((p) => p.download.id)
  )
  if (unseen.size === 0) return { published, failed: [] }
  try {
    for await (const page of session.undo.api.pages()) {
      for (const download of page) unseen.delete(download.id)
    }
  } catch (error) {
    log.warning(`Could not list the downloads again to check them: ${describe(error)}`)
    return { published, failed: [] }
  }
  // Not listed is not yet gone: a download moves up onto a page already read when another
  // writer deletes one listed before it meanwhile. Each one missing is asked for by itself;
  // a server that cannot answer that leaves the listing's word standing.
  for (const id of [...unseen]) {
    if (await session.undo.api.exists(id).catch(() => false)) unseen.delete(id)
  }
  const gone = (p: Published): boolean => unseen.has(p.download.id)
  return {
    published: published.filter((p) => !gone(p)),
    failed: published.filter(gone).map((p) => ({
      name: p.source.name,
      message: `its bytes landed, but download ${p.download.id} was deleted since by somebody else (another run of this workflow, or a person): it is not published.`
    }))
  }
}

async function publishAll(
  plan: PlanItem[],
  session: Session,
  publisher: Publisher,
  signal: AbortSignal
): Promise<{ published: Published[]; failed: Failure[] }> {
  const results = await settleAll(plan, session.limit, async (item) => {
    await log.drained(signal)
    const published = await publisher.publish(item)
    if (published.status !== 'unchanged') {
      log.info(`${item.source.name} → ${published.download.htmlUrl} (${published.status})`)
    }
    return published
  })
  const published: Published[] = []
  const failed: Failure[] = []
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') published.push(result.value)
    else {
      failed.push({ name: plan[i].source.name, message: describe(result.reason) })
    }
  })
  return { published, failed }
}
