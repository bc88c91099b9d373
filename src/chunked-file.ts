import { closeSync, openSync, writeSync } from 'node:fs'

/** How much text waits in memory before it is written. */
const CHUNK_CHARS = 64 * 1024

/**
 * A file written a piece at a time, 64 KiB at once: the long outputs and `downloads-file`,
 * made as they are written rather than whole and then copied.
 */
export class ChunkedFile {
  private readonly fd: number
  private pending = ''

  /** `flags` as for `fs.openSync`: 'w' to start afresh, 'a' to append. */
  constructor(file: string, flags: 'w' | 'a') {
    this.fd = openSync(file, flags)
  }

  write(text: string): void {
    this.pending += text
    if (this.pending.length >= CHUNK_CHARS) this.flush()
  }

  /** Writes what waits and closes the file, even when the write fails. */
  close(): void {
    try {
      this.flush()
    } finally {
      closeSync(this.fd)
    }
  }

  private flush(): void {
    // writeSync may take less than it was given (a disk nearly full): write the rest.
    const bytes = Buffer.from(this.pending, 'utf8')
    this.pending = ''
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at)
  }
}
