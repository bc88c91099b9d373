import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { SourceFile } from './files.js'
import { contentTypeOf } from './files.js'
import { compareNames } from './report.js'

/** A published (or planned) file as the checksums file lists it. */
export interface Checksummed {
  name: string
  sha256: string
}

/**
 * The checksums file's text, exactly what `sha256sum -c` reads (and what
 * actions/attest-build-provenance takes as `subject-checksums`): `<64 hex>  <name>` a line,
 * in byte order of the names.
 */
export function checksumsText(files: Checksummed[]): string {
  return [...files]
    .sort((a, b) => compareNames(a.name, b.name))
    .map((f) => `${f.sha256}  ${f.name}\n`)
    .join('')
}

/**
 * Writes the checksums file under the runner's temp folder, where a later step of the job
 * can read it (`checksums-path`), and describes it as a file to publish.
 */
export async function writeChecksums(name: string, files: Checksummed[]): Promise<SourceFile> {
  const dir = path.join(
    process.env.RUNNER_TEMP || tmpdir(),
    `upload-downloads-checksums-${process.pid}`
  )
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, name)
  const text = checksumsText(files)
  await writeFile(file, text)
  return { path: file, name, size: Buffer.byteLength(text), contentType: contentTypeOf(name) }
}
