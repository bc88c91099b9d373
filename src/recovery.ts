import { stat } from 'node:fs/promises'
import * as path from 'node:path'
import type { DownloadsApi, Download } from './downloads-api.js'
import { describe } from './errors.js'
import { namesToSettle, type NameState } from './journal.js'
import type { JournalEntry } from './journal.js'
import * as log from './log.js'
import type { Publisher } from './publish.js'
import type { StoredBytes } from './stored-bytes.js'

/** What the post step found and did for one name. */
export interface Settled {
  name: string
  /** Whether the name is now as the user would want it: whole, or back as it was. */
  ok: boolean
  what: string
}

export interface RecoveryTools {
  api: DownloadsApi
  storedBytes: StoredBytes
  publisher: Publisher
  /** The journal's folder: the only place a saved copy may be read from. */
  folder: string
}

/**
 * Finishes what a killed or cancelled main step left half-done, from its journal and the
 * server's state, which has the last word (an entry may announce a change that never
 * happened, or miss one that did). For each name the journal leaves open: records without
 * bytes that the run may have made are deleted; a replaced download that is gone with no
 * successor holding bytes is uploaded again from its saved copy. A name that is whole (the
 * new bytes landed after all) is left as it is.
 */
export async function settle(entries: JournalEntry[], tools: RecoveryTools): Promise<Settled[]> {
  const open = namesToSettle(entries)
  if (open.length === 0) return []
  const listed = await tools.api.list()
  const results: Settled[] = []
  for (const state of open) {
    try {
      results.push(await settleName(state, listed, tools))
    } catch (error) {
      results.push({ name: state.name, ok: false, what: describe(error) })
    }
  }
  return results
}

async function settleName(
  state: NameState,
  listed: Download[],
  tools: RecoveryTools
): Promise<Settled> {
  const { name, replaced } = state
  let whole: Download | undefined
  let removed = 0
  for (const download of listed.filter((d) => d.name === name)) {
    // The download being replaced, never deleted: it stands as it was.
    if (replaced !== undefined && download.id === replaced.id) {
      whole = download
      continue
    }
    if ((await tools.storedBytes.probe(download)) !== null) {
      whole = download
      continue
    }
    await tools.api.delete(download.id)
    removed++
    log.info(`${name}: deleted download ${download.id}, a record whose upload never finished.`)
  }
  const cleared =
    removed > 0 ? `deleted ${removed} record${removed === 1 ? '' : 's'} without bytes` : ''
  const and = (text: string): string => [cleared, text].filter(Boolean).join('; ')

  if (replaced === undefined) {
    return whole !== undefined
      ? { name, ok: true, what: and(`whole: download ${whole.id} holds its bytes`) }
      : { name, ok: true, what: and('not published; nothing was left behind') }
  }
  if (whole !== undefined && whole.id === replaced.id) {
    return { name, ok: true, what: and(`download ${whole.id} was never deleted; left as it was`) }
  }
  if (whole !== undefined) {
    return { name, ok: true, what: and(`replaced: download ${whole.id} holds the new bytes`) }
  }
  if (replaced.copy === null || replaced.md5 === null) {
    return {
      name,
      ok: true,
      what: and(`the replaced download ${replaced.id} held no bytes; nothing to put back`)
    }
  }
  const copy = { path: replaced.copy, size: replaced.size, md5: replaced.md5 }
  // The journal is data, not orders: a copy is only ever this run's own, in its own folder.
  if (copy.path !== path.join(tools.folder, `previous-${replaced.id}`)) {
    return {
      name,
      ok: false,
      what: and(
        `the journal names a copy outside this run's folder (${copy.path}); it was not read`
      )
    }
  }
  const onDisk = await stat(copy.path).catch(() => null)
  if (onDisk === null || onDisk.size !== copy.size) {
    return {
      name,
      ok: false,
      what: and(
        `download ${replaced.id} was deleted and its saved copy at ${copy.path} is ${onDisk === null ? 'gone' : 'not whole'}: it cannot be put back`
      )
    }
  }
  const id = await tools.publisher.putBack(replaced, copy)
  return {
    name,
    ok: true,
    what: and(`put back the previous version from its saved copy (download ${id})`)
  }
}
