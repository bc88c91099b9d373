import * as core from '@actions/core'
import type { PlanItem } from './plan.js'
import type { Published } from './publish.js'

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
}

/** Sets the `urls`, `downloads` and `count` outputs, in file-name order. */
export function setOutputs(published: Published[]): void {
  const sorted = [...published].sort((a, b) => compareNames(a.artifact.name, b.artifact.name))
  core.setOutput('urls', sorted.map((p) => p.download.htmlUrl).join('\n'))
  core.setOutput(
    'downloads',
    JSON.stringify(
      sorted.map((p) => ({
        id: p.download.id,
        name: p.download.name,
        size: p.artifact.size,
        content_type: p.mimeType,
        url: p.download.url,
        html_url: p.download.htmlUrl,
        sha256: p.sha256
      }))
    )
  )
  core.setOutput('count', String(sorted.length))
}

/**
 * The outputs of a dry run: nothing was uploaded (`count` 0, no URLs), and `downloads`
 * lists what would be, with what is known before the server is asked: name, size, the
 * content type we would declare, SHA-256, and whether it would create or replace.
 */
export function setPlannedOutputs(plan: { item: PlanItem; sha256: string }[]): void {
  core.setOutput('urls', '')
  core.setOutput(
    'downloads',
    JSON.stringify(
      plan.map(({ item, sha256 }) => ({
        id: null,
        name: item.artifact.name,
        size: item.artifact.size,
        content_type: item.artifact.contentType,
        url: null,
        html_url: null,
        sha256,
        planned: item.replaces ? 'replace' : 'create'
      }))
    )
  )
  core.setOutput('count', '0')
}

/** Writes the job summary: what landed, what replaced what, what failed, and the totals. */
export async function writeSummary(report: RunReport): Promise<void> {
  const summary = core.summary
  const { published, failed } = report
  if (report.dryRun) {
    summary.addHeading(`Downloads for ${report.repository}: dry run, nothing changed`, 2)
    summary.addTable([
      [
        { data: 'File', header: true },
        { data: 'Size', header: true },
        { data: 'Action', header: true }
      ],
      ...report.planned.map((item) => [
        escapeHtml(item.artifact.name),
        humanSize(item.artifact.size),
        item.replaces ? `replace download ${item.replaces.id}` : 'create'
      ])
    ])
    await flush()
    return
  }

  const status = failed.length === 0 ? 'published' : `${failed.length} failed`
  summary.addHeading(`Downloads for ${report.repository}: ${status}`, 2)
  if (published.length > 0) {
    const sorted = [...published].sort((a, b) => compareNames(a.artifact.name, b.artifact.name))
    summary.addTable([
      [
        { data: 'File', header: true },
        { data: 'Size', header: true },
        { data: 'SHA-256', header: true },
        { data: 'Download', header: true }
      ],
      ...sorted.map((p) => [
        escapeHtml(p.artifact.name) + (p.replaced ? ' (replaced)' : ''),
        humanSize(p.artifact.size),
        `<code>${p.sha256.slice(0, 12)}</code>`,
        `<a href="${escapeHtml(p.download.htmlUrl)}">${escapeHtml(p.download.htmlUrl)}</a>`
      ])
    ])
  }
  if (failed.length > 0) {
    summary.addHeading('Not published', 3)
    summary.addList(failed.map((f) => `${escapeHtml(f.name)}: ${escapeHtml(f.message)}`))
  }
  const bytes = published.reduce((sum, p) => sum + p.artifact.size, 0)
  const seconds = report.elapsedMs / 1000
  summary.addRaw(
    `${published.length} file${published.length === 1 ? '' : 's'}, ${humanSize(bytes)} in ${seconds.toFixed(1)} s` +
      (seconds > 0 ? ` (${humanSize(bytes / seconds)}/s)` : ''),
    true
  )
  await flush()
}

/**
 * The summary of a run that stopped before uploading anything: bad input, a clash, a
 * repository that cannot be listed. Nothing was published, and the reader learns why.
 */
export async function writeStoppedSummary(message: string): Promise<void> {
  core.summary.addHeading('Downloads: nothing published', 2)
  core.summary.addRaw(escapeHtml(message), true)
  await flush()
}

/** Writes the summary; a run outside a runner (no GITHUB_STEP_SUMMARY) just skips it. */
async function flush(): Promise<void> {
  await core.summary.write().then(
    () => undefined,
    (error: unknown) => {
      core.summary.emptyBuffer()
      core.info(`No job summary written: ${error instanceof Error ? error.message : String(error)}`)
    }
  )
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
  return a < b ? -1 : a > b ? 1 : 0
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c
  )
}
