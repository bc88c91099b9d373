import type { Download } from './downloads-api.js'

/**
 * The existing downloads `prune` may remove, newest first (by `created_at`, then id): those
 * whose names match a pattern (`*` and `?` within a name), less the downloads this run
 * published or left unchanged. The caller keeps the newest `prune-keep` of those that hold
 * bytes: a nightly job with `prune: app-nightly-*` and `prune-keep: 4` keeps five
 * nightlies, today's and four before it.
 */
export function pruneMatches(
  existing: Download[],
  patterns: string[],
  ownNames: Set<string>
): Download[] {
  if (patterns.length === 0) return []
  const matchers = patterns.map(globToRegExp)
  return existing
    .filter((d) => !ownNames.has(d.name) && matchers.some((m) => m.test(d.name)))
    .sort(newestFirst)
}

function newestFirst(a: Download, b: Download): number {
  const [ta, tb] = [timeOf(a), timeOf(b)]
  if (ta !== tb) return tb - ta
  return b.id - a.id
}

/** The creation time in milliseconds; a download without a readable one counts as oldest. */
function timeOf(download: Download): number {
  const time = Date.parse(download.createdAt)
  return Number.isNaN(time) ? 0 : time
}

/** `*` any run of characters, `?` one character (a code point), everything else itself. */
export function globToRegExp(pattern: string): RegExp {
  const body = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('')
  return new RegExp(`^${body}$`, 'su')
}
