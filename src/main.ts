import * as core from '@actions/core'
import { mkdtemp, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { DownloadsApi } from './downloads-api.js'
import { describe } from './errors.js'
import { findArtifacts, sha256Of, type Artifact } from './files.js'
import { createHttpClient, type HttpClient } from './http.js'
import { readInputs, type Inputs } from './inputs.js'
import { makePlan, type PlanItem } from './plan.js'
import { AdaptiveLimit, settleAll } from './pool.js'
import { ProgressLog } from './progress.js'
import { Publisher, type Published } from './publish.js'
import { RateLimitGate } from './rate-limits.js'
import {
  humanSize,
  setOutputs,
  setPlannedOutputs,
  writeStoppedSummary,
  writeSummary,
  type Failure
} from './report.js'
import type { RetryOptions } from './retry.js'

/**
 * The action: read the inputs, find the files, check them against the repository's
 * downloads, publish them, and report. The one place that fails the step.
 */
export async function run(): Promise<void> {
  const started = Date.now()
  let http: HttpClient | undefined
  let tempDir: string | undefined
  try {
    const inputs = readInputs()
    const artifacts = await core.group('Files', () => matchFiles(inputs))
    if (artifacts.length === 0) {
      setOutputs([])
      return
    }

    http = createHttpClient()
    const limit = new AdaptiveLimit(inputs.concurrency)
    const gate = new RateLimitGate({
      maxWaitMs: inputs.rateLimitWait * 1000,
      onSecondary: () => {
        if (limit.lower()) {
          core.warning(
            `GitHub's secondary rate limit hit: uploading ${limit.current} at a time from now on.`
          )
        }
      },
      onWait: (kind, ms) =>
        core.info(
          `GitHub's ${kind} rate limit: holding every request for ${Math.ceil(ms / 1000)} s.`
        )
    })
    const retry: RetryOptions = {
      maxAttempts: inputs.maxAttempts,
      baseDelayMs: Number(process.env.UPLOAD_DOWNLOADS_RETRY_DELAY_MS ?? 1000),
      maxDelayMs: 30_000,
      onRetry: ({ what, attempt, delayMs, error }) =>
        core.info(
          `${what}: attempt ${attempt} failed (${describe(error)}); trying again in ${(delayMs / 1000).toFixed(1)} s.`
        )
    }
    const api = new DownloadsApi(
      http,
      { apiUrl: inputs.apiUrl, token: inputs.token, owner: inputs.owner, repo: inputs.repo },
      retry,
      gate
    )

    const plan = await core.group('Plan', async () => {
      const existing = await api.list()
      core.info(`${api.slug} has ${existing.length} download${existing.length === 1 ? '' : 's'}.`)
      const items = makePlan(artifacts, existing, inputs.replaceExisting, api.slug)
      for (const item of items) {
        core.info(
          item.replaces
            ? `replace ${item.artifact.name} (download ${item.replaces.id})`
            : `create ${item.artifact.name}`
        )
      }
      return items
    })

    if (inputs.dryRun) {
      const planned = []
      for (const item of plan) planned.push({ item, sha256: await sha256Of(item.artifact.path) })
      setPlannedOutputs(planned)
      await writeSummary({
        published: [],
        failed: [],
        planned: plan,
        dryRun: true,
        repository: api.slug,
        elapsedMs: Date.now() - started
      })
      core.info('Dry run: nothing was changed.')
      return
    }

    tempDir = await mkdtemp(path.join(process.env.RUNNER_TEMP || tmpdir(), 'upload-downloads-'))
    const progress = new ProgressLog()
    const publisher = new Publisher({
      api,
      http,
      retry,
      description: inputs.description,
      tempDir,
      onProgress: (artifact, sent) => progress.update(artifact, sent)
    })
    const { published, failed } = await core.group('Upload', () =>
      publishAll(plan, limit, publisher)
    )

    setOutputs(published)
    await writeSummary({
      published,
      failed,
      planned: plan,
      dryRun: false,
      repository: api.slug,
      elapsedMs: Date.now() - started
    })
    // One annotation per failed file, naming it and the cause; the last one fails the step.
    failed.forEach((failure, i) => {
      const message = `${failure.name}: ${failure.message}`
      if (i < failed.length - 1) core.error(message)
      else core.setFailed(message)
    })
  } catch (error) {
    await writeStoppedSummary(describe(error))
    core.setFailed(describe(error))
  } finally {
    await http?.close()
    // Only if empty: a copy that a failed restore left is the user's last copy of that file.
    if (tempDir !== undefined) await rmdir(tempDir).catch(() => undefined)
  }
}

async function matchFiles(inputs: Inputs): Promise<Artifact[]> {
  const artifacts = await findArtifacts(inputs.patterns, inputs.workspace, {
    includeHiddenFiles: inputs.includeHiddenFiles
  })
  for (const artifact of artifacts)
    core.info(`${artifact.name} (${humanSize(artifact.size)}) ← ${artifact.path}`)
  if (artifacts.length > 0) return artifacts

  const message = `No files matched ${inputs.patterns.map((p) => `'${p}'`).join(', ')} in ${inputs.workspace}. Check the 'glob' input and that the build step wrote its files there.`
  if (inputs.ifNoFilesFound === 'error') throw new Error(message)
  if (inputs.ifNoFilesFound === 'warn') core.warning(message)
  else core.info(message)
  return artifacts
}

async function publishAll(
  plan: PlanItem[],
  limit: AdaptiveLimit,
  publisher: Publisher
): Promise<{ published: Published[]; failed: Failure[] }> {
  const results = await settleAll(plan, limit, async (item) => {
    const published = await publisher.publish(item)
    core.info(
      `${item.artifact.name} → ${published.download.htmlUrl}${published.replaced ? ' (replaced)' : ''}`
    )
    return published
  })
  const published: Published[] = []
  const failed: Failure[] = []
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') published.push(result.value)
    else failed.push({ name: plan[i].artifact.name, message: describe(result.reason) })
  })
  return { published, failed }
}
