/**
 * `npm run test:ceph`: starts one Ceph cluster with a RADOS Gateway for the whole run and
 * tells the test workers where it is (`UPLOAD_DOWNLOADS_CEPH`, read by the harness). When Ceph
 * cannot be installed or started this throws, and jest fails the run: a Ceph run without Ceph
 * must never look green.
 *
 * A cluster started by hand (`npm run ceph -- start`) is used instead when its JSON line is in
 * `UPLOAD_DOWNLOADS_CEPH` already; it must answer, and it is left running afterwards.
 */
import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { CephInfo } from '../../../scripts/ceph.js'

/**
 * `scripts/ceph.ts` as `npm run build:tools` compiled it (test:ceph builds it first): jest runs
 * a globalSetup through node's own module loader, which cannot follow the sources' `.js`
 * imports to `.ts` files.
 */
async function cephScript(): Promise<typeof import('../../../scripts/ceph.js')> {
  const built = pathToFileURL(path.resolve('build', 'scripts', 'ceph.js')).href
  return (await import(built)) as typeof import('../../../scripts/ceph.js')
}

export default async function globalSetup(
  globalConfig: unknown,
  projectConfig: { rootDir: string }
): Promise<void> {
  // Jest takes one globalSetup: the stale dist/ and build/ checks come first here too (so
  // build/scripts/ceph.js is fresh). Loaded by path, as node's loader (no ts-jest here) runs
  // it: Node 24 strips the types itself.
  const staleBuilds = pathToFileURL(
    path.resolve(projectConfig.rootDir, '__tests__', 'global-setup.ts')
  )
  const { default: rebuildStale } = (await import(staleBuilds.href)) as {
    default: (globalConfig: unknown, projectConfig: { rootDir: string }) => void
  }
  rebuildStale(globalConfig, projectConfig)
  const given = process.env.UPLOAD_DOWNLOADS_CEPH
  if (given !== undefined && given !== '') {
    const info = JSON.parse(given) as CephInfo
    const res = await fetch(`${info.endpoint}/`, { signal: AbortSignal.timeout(10_000) })
    await res.arrayBuffer()
    if (res.status !== 200) {
      throw new Error(`the Ceph gateway in UPLOAD_DOWNLOADS_CEPH answered ${res.status}`)
    }
    process.stderr.write(`\nceph: using the running gateway ${info.endpoint}\n`)
    return
  }
  const { startCeph } = await cephScript()
  const started = Date.now()
  const log = (line: string): void => {
    process.stderr.write(`\nceph: ${line}`)
  }
  let info: CephInfo
  try {
    info = await startCeph({ log })
  } catch (error) {
    // A daemon that dies while the cluster forms (seen once when another cluster was forming
    // on the same machine) gets one more try on a fresh cluster; startCeph stopped this one.
    log(
      `the first start failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); starting a fresh cluster once more`
    )
    info = await startCeph({ log })
  }
  process.stderr.write(
    `\nceph: gateway ${info.endpoint} ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${info.dir})\n`
  )
  // Workers start after this and inherit the environment.
  process.env.UPLOAD_DOWNLOADS_CEPH = JSON.stringify(info)
  process.env.UPLOAD_DOWNLOADS_CEPH_STARTED = '1'
}
