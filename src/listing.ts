import * as log from './log.js'

/** How many items an error or warning names before it only counts the rest. */
export const LISTED = 20

/**
 * The first {@link LISTED} items joined, and a count of the rest: a glob that matched
 * 10,000 badly named files should fail with one readable error, not a megabyte of names
 * (GitHub cuts an annotation long before that). With `heading`, a list that is cut is also
 * written to the log in full, one item a line under that heading, and the text says so: a
 * user who must rename every one of them should not need a run per 20.
 */
export function listSome(items: readonly string[], separator: string, heading?: string): string {
  if (items.length <= LISTED) return items.join(separator)
  const rest = items.length - LISTED
  const all = items.length.toLocaleString('en-US')
  if (heading !== undefined) {
    log.info(`${heading} (${all}):`)
    for (const item of items) log.info(`  ${item}`)
  }
  return `${items.slice(0, LISTED).join(separator)}${separator}… and ${rest.toLocaleString('en-US')} more${heading !== undefined ? ` (all ${all} in the log)` : ''}`
}
