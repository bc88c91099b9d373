/**
 * What keeps a stranger from tying the server up (the server turns these on): connections
 * that go silent are closed, each server holds a bounded number of connections, and a create
 * without a valid token is refused before its body is read.
 */
import { describe, expect, it } from '@jest/globals'
import { connect, type Socket } from 'node:net'
import { api, REPO, startEmulator } from './helpers.js'

/** A raw connection to `url`'s port on loopback. */
function open(url: string): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1')
  socket.on('error', () => undefined)
  return new Promise((resolve) => socket.once('connect', () => resolve(socket)))
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve()
    else socket.once('close', () => resolve())
  })
}

/** Everything the server sent until it closed the connection. */
function received(socket: Socket): Promise<string> {
  let text = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
  return closed(socket).then(() => text)
}

const SLOW_UPLOAD =
  'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n' +
  'Content-Length: 1000000\r\n\r\n--b\r\n'

describe('limits', () => {
  it('refuses a create without a valid token before reading its body', async () => {
    const emulator = await startEmulator()
    for (const authorization of ['', 'Authorization: token wrong\r\n']) {
      const socket = await open(emulator.apiUrl)
      const answer = received(socket)
      // 50 MiB announced, 1 KiB sent: the answer may not wait for the rest.
      socket.write(
        `POST /repos/${REPO}/downloads HTTP/1.1\r\nHost: x\r\n${authorization}` +
          `Content-Type: application/json\r\nContent-Length: ${50 * 1024 * 1024}\r\n\r\n` +
          `{"name":"big.bin","size":1,"description":"${'x'.repeat(1000)}`
      )
      expect(await answer).toMatch(/^HTTP\/1\.1 401 /)
    }
    await emulator.close()
  }, 10_000)

  it('closes a connection that stays silent past the idle timeout', async () => {
    const emulator = await startEmulator({ idleTimeoutMs: 200 })
    const socket = await open(emulator.s3Url)
    socket.write(SLOW_UPLOAD)
    // Then nothing more: the server lets go of it.
    await closed(socket)
    expect((await api(emulator, `/repos/${REPO}/downloads`)).status).toBe(200)
    await emulator.close()
  }, 10_000)

  it('holds at most maxConnections connections on each server, the API answering still', async () => {
    const emulator = await startEmulator({ maxConnections: 2 })
    const held = [await open(emulator.s3Url), await open(emulator.s3Url)]
    for (const socket of held) socket.write(SLOW_UPLOAD)
    const third = await open(emulator.s3Url)
    await closed(third)
    // The uploads' connections do not count against the API's.
    expect((await api(emulator, `/repos/${REPO}/downloads`)).status).toBe(200)
    for (const socket of held) socket.destroy()
    await emulator.close()
  }, 10_000)
})
