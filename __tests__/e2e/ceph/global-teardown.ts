/** Stops the cluster the globalSetup started, by its PIDs, and removes its folder. */
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

export default async function globalTeardown(): Promise<void> {
  const raw = process.env.UPLOAD_DOWNLOADS_CEPH
  // A cluster started by hand stays for its owner to stop.
  if (raw === undefined || raw === '' || process.env.UPLOAD_DOWNLOADS_CEPH_STARTED !== '1') return
  const { stopCeph } = await cephScript()
  await stopCeph(JSON.parse(raw) as CephInfo)
}
