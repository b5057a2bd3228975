// Words for an API failure: a route this server does not have yet (404 with
// API.NOT_FOUND, 405, 501) reads differently from a real error.
import { ApiError } from '../api/client'

/** True when the server has no such route (an older backend). */
export function isMissingRoute(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false
  if (err.status === 501 || err.status === 405) return true
  return err.status === 404 && (err.code === undefined || err.code === 'API.NOT_FOUND')
}

/** One line for a failed request: the API's message and code, or a clear word for a missing route. */
export function describeProblem(err: unknown, what?: string): string {
  if (isMissingRoute(err)) {
    return `${what ?? 'This action'} is not available on this server yet (the API answered ${(err as ApiError).status}).`
  }
  if (err instanceof ApiError) {
    return err.code ? `${err.message} (${err.code})` : err.message
  }
  return err instanceof Error ? err.message : String(err)
}
