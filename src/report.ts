import * as core from '@actions/core'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { ChunkedFile } from './chunked-file.js'
import * as log from './log.js'
import { listSome } from './listing.js'
import type { Download } from './downloads-api.js'
import type { PlanItem } from './plan.js'
import type { Published } from './publish.js'
import type { Settled } from './recovery.js'
import { StepOutput } from './step-output.js'

/** One file that did not land, and why. */
export interface Failure {
  name: string
  message: string
}

export interface RunReport {
  published: Published[]
  failed: Failure[]
  /** Files never tried (a dry run). */
  planned: PlanItem[]
  dryRun: boolean
  repository: string
  elapsedMs: number
  /** The signal that cancelled the run, if one did. */
  cancelled?: string
  /** Names left half-done for the post step. */
  unsettled?: string[]
  /** Old downloads `prune` deleted (in a dry run: would delete). */
  pruned?: Download[]
  /** Old downloads `prune` could not delete, and why. */
  notPruned?: Failure[]
}

/**
 * GitHub caps one output at 1 MB and a step's summary at 1 MiB; past that the step fails or
 * the summary is dropped. Both stay under these budgets, with room for the rest.
 */
export const OUTPUT_BUDGET = 900_000
export const SUMMARY_BUDGET = 900 * 1024

/**
 * Sets the outputs, in file-name order: every file that is now published, whether this run
 * uploaded it or found it already there. `downloads-file` names a JSON file (under
 * RUNNER_TEMP, so later steps of the job can read it) with the whole list; `downloads` holds
 * as much of it as fits in an output, and the log says when it was cut.
 */
export function setOutputs(published: Published[]): void {
  const sorted = [...published].sort((a, b) => compareNames(a.source.name, b.source.name))
  setListOutputs(
    sorted.length,
    (i) => {
      const p = sorted[i]
      return {
        id: p.download.id,
        name: p.download.name,
        size: p.source.size,
        content_type: p.mimeType,
        url: p.download.url,
        html_url: p.download.htmlUrl,
        sha256: p.sha256,
        status: p.status
      }
    },
    (i) => sorted[i].download.htmlUrl
  )
}

/**
 * `downloads`, `urls`, `count` and `downloads-file`: the whole list in a JSON file under
 * RUNNER_TEMP, and as much of it as fits in the outputs, with a warning when it was cut. The
 * entries are made one at a time as they are written, never all at once: 10,000 of them, and
 * the file's text, would otherwise be held together at the end of the run.
 */
function setListOutputs(
  count: number,
  entry: (i: number) => object,
  /** Each entry's html_url; none in a dry run, whose `count` is 0. */
  url: ((i: number) => string) | undefined
): void {
  const temp = process.env.RUNNER_TEMP || tmpdir()
  mkdirSync(temp, { recursive: true })
  const file = path.join(temp, `upload-downloads-${process.pid}-${Date.now()}.json`)
  writeJsonArray(file, count, entry)
  core.setOutput('downloads-file', file)
  core.setOutput('count', String(url === undefined ? 0 : count))

  const urls = writeJoined('urls', url === undefined ? 0 : count, url ?? (() => ''), '\n', {
    budget: OUTPUT_BUDGET
  })
  const downloads = writeJsonOutput('downloads', count, entry)
  const kept = Math.min(urls, downloads)
  if (kept < count) {
    log.warning(
      `The 'downloads' and 'urls' outputs hold the first ${kept} of ${count} files (GitHub caps an output at 1 MB); the whole list is in ${file}, the 'downloads-file' output.`
    )
  }
}

/** Writes what `JSON.stringify(items, null, 2)` would, an item at a time. */
function writeJsonArray(path: string, count: number, item: (i: number) => object): void {
  const file = new ChunkedFile(path, 'w')
  try {
    file.write(count === 0 ? '[]' : '[\n')
    for (let i = 0; i < count; i++) {
      // An item's own lines, indented one level more as the array's members.
      file.write(
        `${i > 0 ? ',\n' : ''}  ${JSON.stringify(item(i), null, 2).replace(/\n/g, '\n  ')}`
      )
    }
    if (count > 0) file.write('\n]')
  } finally {
    file.close()
  }
}

/**
 * Writes the output `name` as a JSON array of as many leading items as fit in an output
 * (the brackets count too). Returns how many it holds.
 */
function writeJsonOutput(name: string, count: number, item: (i: number) => object): number {
  return writeJoined(name, count, (i) => JSON.stringify(item(i)), ',', {
    budget: OUTPUT_BUDGET - 2,
    before: '[',
    after: ']'
  })
}

/**
 * Writes the output `name`: as many leading parts as fit in `budget` bytes once joined by
 * `separator`, between `before` and `after`. The `urls` output joins lines with newlines,
 * `downloads` joins JSON items with commas inside its brackets. Parts are made one at a time,
 * only while they fit, and go to the output file as they are made, like the summary's rows.
 * Returns how many parts it holds.
 */
function writeJoined(
  name: string,
  count: number,
  part: (i: number) => string,
  separator: string,
  options: { budget: number; before?: string; after?: string }
): number {
  const output = new StepOutput(name)
  const separatorSize = Buffer.byteLength(separator)
  let size = 0
  let kept = 0
  try {
    output.write(options.before ?? '')
    for (; kept < count; kept++) {
      const text = part(kept)
      const next = size + Buffer.byteLength(text) + (kept > 0 ? separatorSize : 0)
      if (next > options.budget) break
      size = next
      output.write(kept > 0 ? separator + text : text)
    }
    output.write(options.after ?? '')
  } finally {
    output.end()
  }
  return kept
}

/**
 * `checksums-path` (set only when the checksums file is published, or planned in a dry run,
 * so that a later step never attests a list the server does not hold) and `pruned`, as much
 * of it as fits in an output: the log names every download pruned.
 */
export function setReleaseOutputs(outputs: { checksumsPath?: string; pruned: Download[] }): void {
  if (outputs.checksumsPath !== undefined) core.setOutput('checksums-path', outputs.checksumsPath)
  const { pruned } = outputs
  const kept = writeJsonOutput('pruned', pruned.length, (i) => ({
    id: pruned[i].id,
    name: pruned[i].name
  }))
  if (kept < pruned.length) {
    log.warning(
      `The 'pruned' output holds the first ${kept} of ${pruned.length} pruned downloads (GitHub caps an output at 1 MB); the log names every one.`
    )
  }
}

/**
 * The outputs of a dry run: nothing was uploaded (`count` 0, no URLs), and `downloads`
 * lists what would be, with what is known before the server is asked: name, size, the
 * content type we would declare, SHA-256, and whether it would create or replace.
 */
export function setPlannedOutputs(plan: { item: PlanItem; sha256: string }[]): void {
  setListOutputs(
    plan.length,
    (i) => {
      const { item, sha256 } = plan[i]
      return {
        id: null,
        name: item.source.name,
        size: item.source.size,
        content_type: item.source.contentType,
        url: null,
        html_url: null,
        sha256,
        planned: item.action
      }
    },
    undefined
  )
}

/** Writes the job summary: what landed, what replaced what, what failed, and the totals. */
export async function writeSummary(report: RunReport): Promise<void> {
  const summary = new SummaryFile()
  const { published, failed } = report
  if (report.dryRun) {
    core.summary.addHeading(`Downloads for ${report.repository}: dry run, nothing changed`, 2)
    await summary.table(
      ['File', 'Size', 'Action'],
      report.planned.length,
      (i) => {
        const item = report.planned[i]
        return [
          escapeHtml(item.source.name),
          humanSize(item.source.size),
          item.action === 'create'
            ? 'create'
            : item.action === 'replace'
              ? `replace download ${item.replaces.id}${item.reason === 'no-bytes' ? ' (holds no bytes)' : ''}`
              : `unchanged (download ${item.existing.id} holds these bytes)`
        ]
      },
      SUMMARY_BUDGET * 0.8,
      'the log has the whole plan'
    )
    await addPruned(summary, report.pruned, 'Would prune')
    await summary.flush()
    return
  }

  const status =
    report.cancelled !== undefined
      ? `cancelled (${report.cancelled})`
      : failed.length === 0
        ? 'published'
        : `${failed.length} failed`
  core.summary.addHeading(`Downloads for ${report.repository}: ${status}`, 2)
  if (published.length > 0) {
    const sorted = [...published].sort((a, b) => compareNames(a.source.name, b.source.name))
    await summary.table(
      ['File', 'Size', 'SHA-256', 'Download', 'Status'],
      sorted.length,
      (i) => {
        const p = sorted[i]
        return [
          escapeHtml(p.source.name),
          humanSize(p.source.size),
          `<code>${p.sha256.slice(0, 12)}</code>`,
          `<a href="${escapeHtml(p.download.htmlUrl)}">${escapeHtml(p.download.htmlUrl)}</a>`,
          p.status === 'replaced' && p.replaced
            ? `replaced download ${p.replaced.id}`
            : p.status === 'unchanged'
              ? 'unchanged'
              : 'created'
        ]
      },
      // Room for what follows: the failures' list, or what was pruned and what was not.
      failed.length > 0 ? SUMMARY_BUDGET * 0.6 : SUMMARY_BUDGET * 0.85,
      "the 'downloads-file' output has the whole list"
    )
  }
  if (failed.length > 0) {
    core.summary.addHeading(
      report.cancelled !== undefined ? 'Stopped and undone' : 'Not published',
      3
    )
    await summary.list(
      failed.length,
      (i) => `${escapeHtml(failed[i].name)}: ${escapeHtml(failed[i].message)}`,
      SUMMARY_BUDGET * 0.3,
      'the log has one error per file'
    )
  }
  await addPruned(summary, report.pruned, 'Pruned')
  const notPruned = report.notPruned ?? []
  if (notPruned.length > 0) {
    core.summary.addHeading('Not pruned', 3)
    await summary.list(
      notPruned.length,
      (i) => `${escapeHtml(notPruned[i].name)}: ${escapeHtml(notPruned[i].message)}`,
      SUMMARY_BUDGET * 0.05,
      'the log names every one'
    )
  }
  if (report.unsettled !== undefined && report.unsettled.length > 0) {
    core.summary.addRaw(
      `<p>Left half-done, for the post step to settle: ${listSome(report.unsettled.map(escapeHtml), ', ')}.</p>`,
      true
    )
  }
  const uploaded = published.filter((p) => p.status !== 'unchanged')
  const unchanged = published.length - uploaded.length
  const bytes = uploaded.reduce((sum, p) => sum + p.source.size, 0)
  const seconds = report.elapsedMs / 1000
  core.summary.addRaw(
    `${uploaded.length} file${uploaded.length === 1 ? '' : 's'} uploaded, ${humanSize(bytes)} in ${seconds.toFixed(1)} s` +
      (seconds > 0 ? ` (${humanSize(bytes / seconds)}/s)` : '') +
      (unchanged > 0 ? `; ${unchanged} unchanged` : ''),
    true
  )
  await summary.flush()
}

/** The post step's summary: what it found half-done, and what it did about each name. */
export async function writeRecoverySummary(repository: string, results: Settled[]): Promise<void> {
  const summary = new SummaryFile()
  const failed = results.filter((r) => !r.ok).length
  core.summary.addHeading(
    `Downloads for ${repository}: the post step settled what the main step left half-done` +
      (failed > 0 ? ` (${failed} could not be settled)` : ''),
    3
  )
  await summary.table(
    ['File', 'Outcome'],
    results.length,
    (i) => [escapeHtml(results[i].name), (results[i].ok ? '' : '⚠ ') + escapeHtml(results[i].what)],
    SUMMARY_BUDGET,
    'the log has every one'
  )
  await summary.flush()
}

/**
 * The summary of a run that stopped before uploading anything: bad input, a clash, a
 * repository that cannot be listed. Nothing was published, and the reader learns why.
 */
export async function writeStoppedSummary(message: string): Promise<void> {
  core.summary.addHeading('Downloads: nothing published', 2)
  // In an HTML block, so that GitHub renders no Markdown (links, emphasis) from the text.
  core.summary.addRaw(`<p>${escapeHtml(message)}</p>`, true)
  await new SummaryFile().flush()
}

/** The old downloads that `prune` deleted, or would delete. */
async function addPruned(
  summary: SummaryFile,
  pruned: Download[] | undefined,
  heading: string
): Promise<void> {
  if (pruned === undefined || pruned.length === 0) return
  core.summary.addHeading(`${heading} (${pruned.length})`, 3)
  await summary.list(
    pruned.length,
    (i) =>
      `${escapeHtml(pruned[i].name)} (download ${pruned[i].id}, ${escapeHtml(pruned[i].createdAt)})`,
    SUMMARY_BUDGET * 0.1,
    'the log names every one'
  )
}

/** How much summary HTML waits in memory before it is appended to the summary file. */
const SUMMARY_CHUNK_CHARS = 64 * 1024

/**
 * The job summary, built with `core.summary` and appended to the summary file a chunk at a
 * time. Tables and lists are written as they are made, the HTML `core.summary.addTable` and
 * `addList` would make: a summary near GitHub's 1 MiB cap, made whole and then copied into
 * one string to write, raised a run's peak memory at its very end.
 */
class SummaryFile {
  /** Set once a write failed: the rest of the summary is dropped, and said so once. */
  private unwritable = false

  /**
   * The leading rows whose HTML fits in `budget` bytes; when some do not, a last row says
   * how many were left out and where to find them. Rows are made one at a time and only
   * while they fit: a summary of 10,000 files would otherwise make every row to keep a few
   * thousand.
   */
  async table(
    headers: string[],
    count: number,
    row: (i: number) => string[],
    budget: number,
    whereElse: string
  ): Promise<void> {
    await this.rows(
      `<table><tr>${headers.map((header) => `<th>${header}</th>`).join('')}</tr>`,
      count,
      (i) => row(i).map((cell) => `<td>${cell}</td>`),
      (more) => `<td>${more}</td>${'<td></td>'.repeat(headers.length - 1)}`,
      { open: '<tr>', close: '</tr>', end: '</table>' },
      budget,
      whereElse
    )
  }

  /** A list, cut as {@link table} cuts its rows. */
  async list(
    count: number,
    item: (i: number) => string,
    budget: number,
    whereElse: string
  ): Promise<void> {
    await this.rows(
      '<ul>',
      count,
      (i) => [item(i)],
      (more) => more,
      { open: '<li>', close: '</li>', end: '</ul>' },
      budget,
      whereElse
    )
  }

  /** Appends what `core.summary` holds to the summary file, and empties it. */
  async flush(): Promise<void> {
    if (this.unwritable) {
      core.summary.emptyBuffer()
      return
    }
    // A run outside a runner (no GITHUB_STEP_SUMMARY) has no summary to write.
    await core.summary.write().then(
      () => undefined,
      (error: unknown) => {
        this.unwritable = true
        core.summary.emptyBuffer()
        log.info(
          `No job summary written: ${error instanceof Error ? error.message : String(error)}`
        )
      }
    )
  }

  private async rows(
    start: string,
    count: number,
    cells: (i: number) => string[],
    moreCells: (more: string) => string,
    tags: { open: string; close: string; end: string },
    budget: number,
    whereElse: string
  ): Promise<void> {
    let html = start
    let size = 0
    for (let i = 0; i < count; i++) {
      const row = cells(i)
      size += row.reduce((sum, cell) => sum + Buffer.byteLength(cell), 9)
      if (size > budget) {
        const more = `… and ${count - i} more (GitHub caps a job summary at 1 MiB): ${whereElse}.`
        html += `${tags.open}${moreCells(more)}${tags.close}`
        break
      }
      html += `${tags.open}${row.join('')}${tags.close}`
      if (html.length >= SUMMARY_CHUNK_CHARS) {
        core.summary.addRaw(html)
        html = ''
        await this.flush()
      }
    }
    core.summary.addRaw(`${html}${tags.end}`, true)
  }
}

/** Sizes as people read them: 1023 B, 1.5 KiB, 20.0 MiB. */
export function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`
}

/** Byte order of the names, so that output order does not depend on the runner's locale. */
export function compareNames(a: string, b: string): number {
  // UTF-8 byte order, which is also code point order (`LC_ALL=C sort`). JavaScript's `<`
  // compares UTF-16 code units, which puts U+1F600 (a surrogate pair, 0xD83D…) before U+FF21;
  // moving the surrogates above the rest of the BMP gives code point order, with no copy of
  // either name (10,000 names are compared some 130,000 times).
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

/** A UTF-16 code unit's place in code point order: surrogates after U+E000-U+FFFF. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000
  return unit >= 0xe000 ? unit - 0x800 : unit
}

function escapeHtml(text: string): string {
  // Line breaks and other control characters as visible escapes: the summary is Markdown,
  // where a line break could start a heading or a list of the sender's choosing.
  return log
    .printable(text)
    .replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c)
}
