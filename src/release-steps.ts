import * as core from '@actions/core'
import type { Cancellation } from './cancellation.js'
import { writeChecksums, type Checksummed } from './checksums.js'
import type { Download } from './downloads-api.js'
import { describe } from './errors.js'
import type { Inputs } from './inputs.js'
import * as log from './log.js'
import { describeItem, makePlan, type ClashInspector, type PlanItem } from './plan.js'
import { pruneMatches } from './prune.js'
import type { Published, Publisher } from './publish.js'
import type { Failure } from './report.js'
import type { Session } from './session.js'

/**
 * The steps after the files: the checksums file and the pruning. Both come last and only
 * after a run in which every file landed: a checksums file must list exactly what is
 * published, and pruning must never leave fewer good builds than there were.
 */
export interface ReleaseContext {
  session: Session
  inputs: Inputs
  /** The downloads as listed before this run changed anything. */
  existing: Download[]
  inspector: ClashInspector
}

/**
 * Before any change: a checksums download that exists with other bytes is a clash like any
 * other when `replace-existing` is false, so it must stop the run now, not after every file
 * was uploaded. Its text is known already: the digests of the files, which land byte-exact
 * or not at all.
 */
export async function checkChecksumsClash(
  context: ReleaseContext,
  files: () => Promise<Checksummed[]>
): Promise<void> {
  const { inputs, existing } = context
  const name = inputs.checksumsFile
  if (name === undefined || inputs.replaceExisting) return
  if (!existing.some((d) => d.name === name)) return
  await planChecksums(context, await files())
}

/**
 * Writes the checksums file of `files` under the runner's temp folder and plans it against
 * the downloads as any file is (create, replace, unchanged, or a clash that throws).
 */
export async function planChecksums(
  context: ReleaseContext,
  files: Checksummed[]
): Promise<PlanItem> {
  const { inputs, existing, session, inspector } = context
  const checksums = await writeChecksums(inputs.checksumsFile ?? 'SHA256SUMS', files)
  const [item] = await makePlan(
    [checksums],
    existing,
    inputs.replaceExisting,
    session.api.slug,
    inspector
  )
  return item
}

/**
 * Publishes the checksums file of the files that landed (created, replaced or unchanged).
 * Resolves to what became of it: published (with its local path, for `checksums-path`), or
 * a failure, which is the run's failure; nothing when no checksums file is asked for.
 */
export async function publishChecksums(
  context: ReleaseContext,
  published: Published[],
  publisher: Publisher
): Promise<{ published?: Published; failure?: Failure; path?: string }> {
  const name = context.inputs.checksumsFile
  if (name === undefined) return {}
  return core.group('Checksums', async () => {
    try {
      const item = await planChecksums(
        context,
        published.map((p) => ({ name: p.download.name, sha256: p.sha256 }))
      )
      log.info(describeItem(item))
      const done = await publisher.publish(item)
      log.info(`${name} → ${done.download.htmlUrl} (${done.status})`)
      return { published: done, path: item.source.path }
    } catch (error) {
      return { failure: { name, message: describe(error) } }
    }
  })
}

/**
 * After a run that did not complete: no checksums file is published, and one from an
 * earlier run that lists files this run replaced no longer verifies them. Said loudly, so
 * that nobody trusts it until a re-run publishes a fresh one.
 */
export function warnStaleChecksums(context: ReleaseContext, published: Published[]): void {
  const name = context.inputs.checksumsFile
  if (name === undefined) return
  log.info(`${name} is not published: not every file landed.`)
  const old = context.existing.find((d) => d.name === name)
  const replaced = published.filter((p) => p.status === 'replaced').map((p) => p.download.name)
  if (old === undefined || replaced.length === 0) return
  log.warning(
    `${name} (download ${old.id}) is from before this run, which replaced ${replaced.join(', ')}: it no longer verifies ${replaced.length === 1 ? 'that file' : 'those files'}. Re-run the job once the failure is fixed; it publishes a fresh ${name}.`
  )
}

/**
 * The downloads `prune` would delete: matches from the listing made before this run changed
 * anything (so a concurrent run's fresh upload is never among them), less this run's own,
 * less records without bytes (an upload in progress, or one cut short: not a build to count
 * or to delete), less the newest `prune-keep`.
 */
export async function pruneCandidates(
  context: ReleaseContext,
  ownNames: Set<string>
): Promise<Download[]> {
  const { inputs, existing, session } = context
  const matching = pruneMatches(existing, inputs.prune, ownNames)
  const builds: Download[] = []
  for (const download of matching) {
    let holdsBytes: boolean
    try {
      holdsBytes = (await session.storedBytes.probe(download)) !== null
    } catch (error) {
      // Gone meanwhile (another run pruned it), or unreadable: nothing to count or delete.
      log.info(`Not pruned: ${download.name} (download ${download.id}): ${describe(error)}`)
      continue
    }
    if (holdsBytes) builds.push(download)
    else log.info(`Not pruned: ${download.name} (download ${download.id}) holds no bytes.`)
  }
  return builds.slice(inputs.pruneKeep)
}

/**
 * Deletes what `prune` names. Stops at a cancellation; a delete that fails is a warning (the
 * files were published all the same) and is listed under "Not pruned".
 */
export async function prune(
  context: ReleaseContext,
  published: Published[],
  cancellation: Cancellation
): Promise<{ pruned: Download[]; notPruned: Failure[] }> {
  return core.group('Prune', async () => {
    const { session, inputs } = context
    const own = new Set(published.map((p) => p.download.name))
    const doomed = await pruneCandidates(context, own)
    if (doomed.length === 0) {
      log.info(`No download matches 'prune' beyond the ${inputs.pruneKeep} kept.`)
    }
    const pruned: Download[] = []
    const notPruned: Failure[] = []
    for (const download of doomed) {
      if (cancellation.cancelled) {
        log.info(
          `Pruning stopped (${cancellation.reason}): ${doomed.length - pruned.length - notPruned.length} left as they are.`
        )
        break
      }
      try {
        await session.api.delete(download.id)
        pruned.push(download)
        log.info(`Pruned ${download.name} (download ${download.id}, ${download.createdAt}).`)
      } catch (error) {
        notPruned.push({ name: download.name, message: describe(error) })
        log.warning(
          `Could not prune ${download.name} (download ${download.id}): ${describe(error)}`
        )
      }
    }
    return { pruned, notPruned }
  })
}
