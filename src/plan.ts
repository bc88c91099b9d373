import type { Download } from './downloads-api.js'
import type { Artifact } from './files.js'

/** One file's fate: created afresh, or replacing a download of the same name. */
export interface PlanItem {
  artifact: Artifact
  replaces?: Download
}

/**
 * Matches the files against the existing downloads. Without `replaceExisting` any clash
 * stops the run here, before anything was changed, naming every clash at once so that one
 * fix suffices.
 */
export function makePlan(
  artifacts: Artifact[],
  existing: Download[],
  replaceExisting: boolean,
  repository: string
): PlanItem[] {
  const byName = new Map(existing.map((d) => [d.name, d]))
  const plan = artifacts.map((artifact) => ({ artifact, replaces: byName.get(artifact.name) }))
  const clashes = plan.filter((item) => item.replaces !== undefined)
  if (clashes.length > 0 && !replaceExisting) {
    const names = clashes.map((item) => item.artifact.name).join(', ')
    throw new Error(
      `${clashes.length} download${clashes.length === 1 ? '' : 's'} already exist${clashes.length === 1 ? 's' : ''} in ${repository} with the same name: ${names}. Nothing was changed. Set 'replace-existing: true' to replace them, or rename the files.`
    )
  }
  return plan
}
