import {
  MalformedMultipartError,
  MultipartParser,
  multipartBoundary,
  type MultipartEvent
} from '../../emulator/multipart.js'
import { BOUNDARY, multipartBody } from './helpers.js'

interface ParsedPart {
  name: string | undefined
  filename: string | undefined
  value: string
}

function parse(body: Buffer, chunkSize: number): { parts: ParsedPart[]; offsets: number[] } {
  const parser = new MultipartParser(BOUNDARY)
  const events: MultipartEvent[] = []
  for (let i = 0; i < body.length; i += chunkSize) {
    events.push(...parser.write(body.subarray(i, i + chunkSize)))
  }
  parser.finish()
  const parts: ParsedPart[] = []
  const offsets: number[] = []
  const chunks: Buffer[] = []
  for (const event of events) {
    if (event.type === 'part') {
      parts.push({ name: event.name, filename: event.filename, value: '' })
      offsets.push(event.bodyOffset)
      chunks.length = 0
    } else if (event.type === 'data') {
      chunks.push(Buffer.from(event.data))
    } else if (event.type === 'partEnd') {
      const last = parts.at(-1)
      if (last) last.value = Buffer.concat(chunks).toString('latin1')
    }
  }
  return { parts, offsets }
}

describe('the multipart parser', () => {
  // Content that almost contains the delimiter, to catch partial matches across chunks.
  const tricky = `a\r\n--${BOUNDARY.slice(0, -1)}x\r\n\r\n--\r\r\n-`
  const body = multipartBody([
    { name: 'key', value: 'downloads/o/r/n' },
    { name: 'Policy', value: '' },
    { name: 'file', value: tricky, filename: 'n "q".bin', contentType: 'text/plain' },
    { name: 'after', value: 'x' }
  ])

  it.each([1, 2, 7, 64, 1000, body.length])('gives the same parts in chunks of %i', (size) => {
    const { parts, offsets } = parse(body, size)
    expect(parts).toEqual([
      { name: 'key', filename: undefined, value: 'downloads/o/r/n' },
      { name: 'Policy', filename: undefined, value: '' },
      { name: 'file', filename: 'n "q".bin', value: tricky },
      { name: 'after', filename: undefined, value: 'x' }
    ])
    expect(body.subarray(offsets[2], (offsets[2] ?? 0) + tricky.length).toString('latin1')).toBe(
      tricky
    )
  })

  it('refuses a body that ends early or is not multipart', () => {
    const parser = new MultipartParser(BOUNDARY)
    parser.write(body.subarray(0, body.length - 10))
    expect(() => parser.finish()).toThrow(MalformedMultipartError)
    const garbage = new MultipartParser(BOUNDARY)
    expect(() => garbage.write(Buffer.from(`--${BOUNDARY}XX`))).toThrow(MalformedMultipartError)
  })

  it('reads the boundary from the Content-Type', () => {
    expect(multipartBoundary('multipart/form-data; boundary=abc')).toBe('abc')
    expect(multipartBoundary('Multipart/Form-Data;boundary="a b"')).toBe('a b')
    expect(multipartBoundary('multipart/form-data')).toBeUndefined()
    expect(multipartBoundary('text/plain; boundary=abc')).toBeUndefined()
  })
})
