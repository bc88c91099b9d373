/**
 * `GET /:owner/:repo/downloads`: the Downloads page, as github.com showed it before 2013 —
 * each download's name (linked to its `html_url`), description, size, date and download
 * count, newest first. Plain server-rendered HTML: every value from a download is escaped
 * (names may hold `<`, `&`, quotes, `</script>`), and the page runs no script at all, which
 * its Content-Security-Policy enforces.
 */
import { createHash } from 'node:crypto'
import type { DownloadRecord } from './store.js'

const STYLE = `body{font:14px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem;font-weight:600}h1 small{color:#59636e;font-weight:400}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #d1d9e0;vertical-align:top}
td.num,th.num{text-align:right;white-space:nowrap}td.name{word-break:break-all}a{color:#0969da}`

/**
 * No script, no plugin, no frame, nothing loaded from anywhere: only the page's own style
 * sheet, allowed by its hash.
 */
const CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

/** The headers of every page answer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache'
}

/** Whether a path's decoded segments are `:owner/:repo/downloads` (not an API path). */
export function isDownloadsPage(segments: readonly string[]): boolean {
  const [owner, repo, page, ...rest] = segments
  return (
    owner !== undefined &&
    owner !== '' &&
    owner !== 'repos' &&
    owner !== 'downloads' &&
    repo !== undefined &&
    repo !== '' &&
    page === 'downloads' &&
    rest.length === 0
  )
}

/** Text for HTML content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

/** `1.5 MB`: the size as the page shows it (the exact byte count is its tooltip). */
export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let value = bytes / 1000
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`
}

/** A download as the page lists it. */
export type PageItem = DownloadRecord & { htmlUrl: string }

/**
 * The page for `repo`: its uploaded downloads (one without bytes yet cannot be downloaded),
 * newest first (by creation time, then id).
 */
/** A page shows the newest this many: anyone may load it, so its cost must stay bounded. */
export const PAGE_ROWS = 500

export function renderDownloadsPage(repo: string, downloads: readonly PageItem[]): string {
  const items = downloads
    .filter((d) => d.uploaded)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id)
  const rows = items.slice(0, PAGE_ROWS).map(
    (d) => `<tr>
<td class="name"><a href="${escapeHtml(d.htmlUrl)}">${escapeHtml(d.name)}</a></td>
<td>${escapeHtml(d.description)}</td>
<td class="num" title="${d.size} bytes">${humanSize(d.size)}</td>
<td class="num"><time datetime="${escapeHtml(d.createdAt)}">${escapeHtml(d.createdAt.slice(0, 10))}</time></td>
<td class="num">${d.downloadCount}</td>
</tr>`
  )
  const table =
    rows.length === 0
      ? '<p>No downloads yet.</p>'
      : `<table>
<thead><tr><th>Name</th><th>Description</th><th class="num">Size</th><th class="num">Uploaded</th><th class="num">Downloads</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>${
          items.length > PAGE_ROWS
            ? `\n<p>The newest ${PAGE_ROWS} of ${items.length} downloads; the API lists them all.</p>`
            : ''
        }`
  return page(
    `Downloads · ${repo}`,
    `<main>
<h1>Downloads <small>${escapeHtml(repo)}</small></h1>
${table}
</main>`
  )
}

/** The page for a repository the server does not serve. */
export function renderNotFoundPage(repo: string): string {
  return page(
    'Not Found',
    `<main>
<h1>Not Found</h1>
<p>There is no repository ${escapeHtml(repo)} here.</p>
</main>`
  )
}
