import { describe, expect, it } from '@jest/globals'
import {
  ApiError,
  CancelledError,
  ConflictError,
  isTransientStatus,
  NetworkError,
  ProtocolError
} from '../../src/errors.js'
import { mayHaveActed } from '../../src/rest.js'

describe('isTransientStatus', () => {
  it.each([408, 429, 500, 502, 503, 504])('%p may answer differently next time', (status) => {
    expect(isTransientStatus(status)).toBe(true)
  })

  it.each([200, 301, 400, 401, 403, 404, 409, 422])('%p will answer the same', (status) => {
    expect(isTransientStatus(status)).toBe(false)
  })
})

describe('mayHaveActed', () => {
  it.each<[string, Error]>([
    ['a dropped connection', new NetworkError('reset', undefined)],
    ['a cancel', new CancelledError()],
    ['an answer that is not the API’s', new ProtocolError('not JSON')],
    ['a gateway’s 502', new ApiError('bad gateway', 502)]
  ])('is true after %s', (_what, error) => {
    expect(mayHaveActed(error)).toBe(true)
  })

  it.each<[string, Error]>([
    ['a refusal', new ApiError('Validation Failed', 422)],
    ['a rate limit', new ApiError('rate limit', 403, { transient: true })],
    ['a conflict found in the answer', new ConflictError('gone')],
    ['a plain error', new Error('bug')]
  ])('is false after %s', (_what, error) => {
    expect(mayHaveActed(error)).toBe(false)
  })
})
