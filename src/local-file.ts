import { createHash } from 'node:crypto'
import { fstatSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { LocalFileError } from './errors.js'
import type { SourceFile } from './files.js'

/**
 * A file to upload, held open from before the first change made for it until its upload
 * ended. Opening first means a file that vanished or became unreadable after the glob ran
 * fails the file at once, naming its path, before an old download is deleted for it; holding
 * the handle means every retry reads the very file that was checked.
 */
export class LocalFile {
  private constructor(
    readonly source: SourceFile,
    private readonly handle: FileHandle
  ) {}

  static async open(source: SourceFile): Promise<LocalFile> {
    let handle: FileHandle
    try {
      handle = await open(source.path, 'r')
    } catch (error) {
      throw localFileError(source, error)
    }
    const file = new LocalFile(source, handle)
    try {
      file.checkSize()
    } catch (error) {
      await handle.close()
      throw error
    }
    return file
  }

  /** Reads `length` bytes at `position` into `buffer`; a short read means the file shrank. */
  async read(buffer: Buffer, length: number, position: number): Promise<Buffer> {
    let bytesRead: number
    try {
      ;({ bytesRead } = await this.handle.read(buffer, 0, length, position))
    } catch (error) {
      throw localFileError(this.source, error)
    }
    if (bytesRead < length) throw fileChanged(this.source)
    return buffer.subarray(0, bytesRead)
  }

  /**
   * Throws when the file's size is no longer the one measured when the run began. An fstat of
   * an open file reads no disk, so it is made in place rather than through libuv's pool:
   * handing it there cost the main thread about 45 µs a call (twice a file), more than the
   * call itself.
   */
  checkSize(): void {
    let size: number
    try {
      size = fstatSync(this.handle.fd).size
    } catch (error) {
      throw localFileError(this.source, error)
    }
    if (size !== this.source.size) throw fileChanged(this.source)
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined)
  }
}

function localFileError(source: SourceFile, error: unknown): LocalFileError {
  const code = (error as { code?: unknown })?.code
  const why =
    code === 'ENOENT'
      ? 'it no longer exists'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : error instanceof Error
          ? error.message
          : String(error)
  return new LocalFileError(
    `Cannot read ${source.path} (${why}): make sure no later step removes or locks it before this one.`,
    { cause: error }
  )
}

function fileChanged(source: SourceFile): LocalFileError {
  return new LocalFileError(
    `${source.path} changed while it was uploaded (it was ${source.size} bytes when the run began): make sure no other step writes it.`
  )
}

/** MD5 and SHA-256 of a file, in one pass. */
export async function digestsOf(source: SourceFile): Promise<{ md5: string; sha256: string }> {
  const file = await LocalFile.open(source)
  const md5 = createHash('md5')
  const sha256 = createHash('sha256')
  const buffer = Buffer.allocUnsafe(Math.max(1, Math.min(1024 * 1024, source.size)))
  try {
    for (let at = 0; at < source.size;) {
      const chunk = await file.read(buffer, Math.min(buffer.length, source.size - at), at)
      md5.update(chunk)
      sha256.update(chunk)
      at += chunk.length
    }
  } finally {
    await file.close()
  }
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex') }
}
