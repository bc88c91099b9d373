/**
 * The value a promise rejects with, typed for the assertions that follow; fails the test when
 * the promise resolves instead.
 */
export async function rejectionOf<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise
  } catch (error) {
    return error as E
  }
  throw new Error('Expected a rejection, but the promise resolved.')
}
