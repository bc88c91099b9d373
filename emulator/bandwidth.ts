/**
 * The upload bandwidth limit: the S3 server reads a POST body no faster than a set rate.
 *
 * The request stream is paused after every chunk and resumed only when the consumer wants more
 * and the schedule allows it, so at most the stream's highWaterMark (1 MiB on the S3 server)
 * waits in memory; beyond that the kernel's buffers fill and TCP flow control slows the client.
 */
import type { IncomingMessage } from 'node:http'
import { delay } from './context.js'

/** Slices per second: the bytes a paced read hands on at a time are this fine. */
const SLICES_PER_SECOND = 20

/** Throws unless `value` is a usable rate (bytes per second). */
export function checkBandwidth(value: number, what: string): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${what} must be a positive number of bytes per second, got ${value}`)
  }
}

/**
 * The body of `req`, `bytesPerSecond` at most: byte n is handed on no earlier than
 * n / bytesPerSecond seconds after the first. Stops waiting when `signal` aborts.
 */
export async function* pacedBody(
  req: IncomingMessage,
  bytesPerSecond: number,
  signal: AbortSignal
): AsyncGenerator<Buffer> {
  const slice = Math.max(1, Math.floor(bytesPerSecond / SLICES_PER_SECOND))
  const started = performance.now()
  let handedOn = 0
  let queued: Buffer | undefined
  let ended = false
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const onData = (chunk: Buffer): void => {
    queued = chunk
    // One chunk at a time: the rest stays in the stream's buffer, then in the kernel's.
    req.pause()
    wake?.()
  }
  const onEnd = (): void => {
    ended = true
    wake?.()
  }
  const onError = (err: Error): void => {
    failure = err
    wake?.()
  }
  const onClose = (): void => {
    // Closed before the end: the client went away.
    if (!ended) failure ??= new Error('the request closed before its body ended')
    wake?.()
  }
  req.pause()
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', onError)
  req.on('close', onClose)
  try {
    for (;;) {
      const chunk = queued
      queued = undefined
      if (chunk) {
        for (let offset = 0; offset < chunk.length; offset += slice) {
          const piece = chunk.subarray(offset, offset + slice)
          const due = started + ((handedOn + piece.length) * 1000) / bytesPerSecond
          const wait = due - performance.now()
          if (wait > 0) await delay(wait, signal)
          if (signal.aborted) throw new Error('the emulator closed')
          handedOn += piece.length
          yield piece
        }
        continue
      }
      if (failure) throw failure
      if (ended) return
      await new Promise<void>((resolve) => {
        wake = resolve
        req.resume()
      })
      wake = undefined
    }
  } finally {
    req.off('data', onData)
    req.off('end', onEnd)
    req.off('error', onError)
    req.off('close', onClose)
  }
}
