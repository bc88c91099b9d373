import type { Download } from './downloads-api.js'
import { describe } from './errors.js'
import { listSome } from './listing.js'
import type { SourceFile } from './files.js'
import type { StoredObject } from './stored-bytes.js'

/**
 * One file's fate: created afresh; replacing a download of the same name; or left alone
 * because the download already holds exactly these bytes (a re-run of the same job).
 */
export type PlanItem =
  | { action: 'create'; source: SourceFile }
  | {
      action: 'replace'
      source: SourceFile
      replaces: Download
      /** Why: the user asked for it, or the old record holds no bytes (an unfinished upload). */
      reason: 'replace-existing' | 'no-bytes'
    }
  | { action: 'unchanged'; source: SourceFile; existing: Download; digests: Digests }

/** A file's digests: MD5 (what S3's ETag is) and SHA-256 (what the outputs report). */
export interface Digests {
  md5: string
  sha256: string
}

/** What the plan needs to know about a clash: what S3 holds, and the file's own MD5. */
export interface ClashInspector {
  /** What S3 holds for the download, null when it has no bytes; throws when it cannot tell. */
  stored(download: Download): Promise<StoredObject | null>
  /** The MD5 of the bytes S3 holds, read in full: for stores whose ETag is not an MD5. */
  storedMd5(download: Download): Promise<string | null>
  /** The digests of a local file. */
  digestsOf(source: SourceFile): Promise<Digests>
  /** How long ago the download was created, by the server's clock; undefined if unknown. */
  ageSeconds(download: Download): number | undefined
}

/**
 * A record without bytes younger than this may be another run's upload in progress rather
 * than one cut short: it is left alone, and the run says so.
 */
export const IN_PROGRESS_SECONDS = 15 * 60

/**
 * Without a usable ETag the bytes themselves are compared, but only for files this small:
 * reading a large download back just to compare it would cost more than replacing it.
 */
export const COMPARE_BYTES_LIMIT = 8 * 1024 * 1024

/**
 * Matches the files against the existing downloads. A download without bytes holds no user
 * data, so it is replaced whatever `replace-existing` says; one that holds exactly the file's
 * bytes is left as it is (`unchanged`), so that re-running a finished job changes nothing.
 * Any other clash without `replaceExisting` stops the run here, before anything was changed,
 * naming every clash at once so that one fix suffices.
 */
export async function makePlan(
  sources: SourceFile[],
  existing: Download[],
  replaceExisting: boolean,
  repository: string,
  inspect: ClashInspector
): Promise<PlanItem[]> {
  const byName = new Map(existing.map((d) => [d.name, d]))
  const plan: PlanItem[] = []
  const clashes: string[] = []
  for (const source of sources) {
    const download = byName.get(source.name)
    if (download === undefined) {
      plan.push({ action: 'create', source })
      continue
    }
    const verdict = await compare(source, download, inspect)
    if (verdict.kind === 'no-bytes') {
      plan.push({ action: 'replace', source, replaces: download, reason: 'no-bytes' })
    } else if (verdict.kind === 'same') {
      plan.push({ action: 'unchanged', source, existing: download, digests: verdict.digests })
    } else if (verdict.kind === 'busy') {
      clashes.push(`${source.name} (${verdict.note})`)
    } else if (replaceExisting) {
      plan.push({ action: 'replace', source, replaces: download, reason: 'replace-existing' })
    } else {
      clashes.push(verdict.note ? `${source.name} (${verdict.note})` : source.name)
    }
  }
  if (clashes.length > 0) {
    throw new Error(
      `${clashes.length} download${clashes.length === 1 ? '' : 's'} already exist${clashes.length === 1 ? 's' : ''} in ${repository} with the same name and other bytes: ${listSome(clashes, ', ', 'Downloads that exist with other bytes')}. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files.`
    )
  }
  return plan
}

type Verdict =
  | { kind: 'no-bytes' }
  | { kind: 'same'; digests: Digests }
  | { kind: 'differs'; note?: string }
  /** Another writer's upload may be under way: never replaced, whatever the inputs say. */
  | { kind: 'busy'; note: string }

async function compare(
  source: SourceFile,
  download: Download,
  inspect: ClashInspector
): Promise<Verdict> {
  let stored: StoredObject | null
  try {
    stored = await inspect.stored(download)
  } catch (error) {
    // Unknown is treated as "holds the user's bytes": never replaced unasked.
    return { kind: 'differs', note: `its bytes could not be read: ${describe(error)}` }
  }
  if (stored === null) {
    // A record whose listed size is not 0 says it has bytes: S3's 404 may be a glitch.
    if (download.size > 0) {
      return {
        kind: 'differs',
        note: `S3 has no object for it, but the server lists ${download.size} bytes`
      }
    }
    const age = inspect.ageSeconds(download)
    if (age !== undefined && age < IN_PROGRESS_SECONDS) {
      return {
        kind: 'busy',
        note: `created ${Math.max(0, Math.round(age))} s ago and without bytes yet: another run may be uploading it`
      }
    }
    return { kind: 'no-bytes' }
  }
  if (stored.size !== source.size) return { kind: 'differs' }
  const digests = await inspect.digestsOf(source)
  if (stored.md5 !== null) {
    return stored.md5 === digests.md5 ? { kind: 'same', digests } : { kind: 'differs' }
  }
  if (source.size > COMPARE_BYTES_LIMIT) {
    return { kind: 'differs', note: 'the server gives no MD5 to compare with' }
  }
  const storedMd5 = await inspect.storedMd5(download).catch(() => null)
  return storedMd5 === digests.md5 ? { kind: 'same', digests } : { kind: 'differs' }
}

/** The plan's line for one file, for the log and the dry run. */
export function describeItem(item: PlanItem): string {
  switch (item.action) {
    case 'create':
      return `create ${item.source.name}`
    case 'replace':
      return item.reason === 'no-bytes'
        ? `replace ${item.source.name} (download ${item.replaces.id} holds no bytes: an unfinished upload)`
        : `replace ${item.source.name} (download ${item.replaces.id})`
    case 'unchanged':
      return `unchanged ${item.source.name} (download ${item.existing.id} already holds these bytes)`
  }
}
