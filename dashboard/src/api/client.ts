// A small fetch wrapper over the public API: JSON in and out, errors as ApiError
// (the API's structured error body), and conditional GETs: each URL's last ETag
// is sent as If-None-Match, so an idle poll costs one 304 with no body.
// The signed-in credential goes out as Authorization: Bearer on every request;
// a 401 sends the console back to sign-in (auth/session.ts), a 429 makes the
// live refresh wait out its Retry-After (auth/rateLimit.ts).
import { rateLimited } from '../auth/rateLimit'
import { getCredential, notifyUnauthenticated } from '../auth/session'
import type { ApiErrorBody, Whoami } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly body: ApiErrorBody | null
  /** A 429's Retry-After, in seconds. */
  readonly retryAfter?: number

  constructor(status: number, body: ApiErrorBody | null, fallback: string, retryAfter?: number) {
    super(body?.message ?? fallback)
    this.name = 'ApiError'
    this.status = status
    this.body = body
    this.retryAfter = retryAfter
  }

  get code(): string | undefined {
    return this.body?.errorCode
  }

  /** Field-level problems ("field: problem") keyed by field path. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const d of this.body?.details ?? []) {
      const i = d.indexOf(': ')
      if (i > 0) out[d.slice(0, i)] = d.slice(i + 2)
      else out[''] = out[''] ? `${out['']}; ${d}` : d
    }
    return out
  }
}

type Params = Record<string, string | number | boolean | undefined | null>

export function buildUrl(path: string, params?: Params): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  }
  const s = q.toString()
  return s ? `${path}?${s}` : path
}

const etags = new Map<string, { etag: string; data: unknown }>()

/** Forget cached ETags (tests). */
export function resetEtagCache(): void {
  etags.clear()
}

async function readFailure(res: Response): Promise<ApiError> {
  let body: ApiErrorBody | null = null
  try {
    body = (await res.json()) as ApiErrorBody
  } catch {
    body = null
  }
  const retryAfter = res.status === 429 ? rateLimited(res.headers.get('Retry-After')) : undefined
  return new ApiError(res.status, body, `${res.status} ${res.statusText || 'request failed'}`, retryAfter)
}

/** The failure of a request made with the signed-in credential: a 401 also signs the console out. */
async function failure(res: Response): Promise<ApiError> {
  const err = await readFailure(res)
  if (err.status === 401) notifyUnauthenticated(err)
  return err
}

/** Headers for a request: Accept, plus the credential when signed in. */
function withAuth(headers: Record<string, string>, credential: string | null = getCredential()): Record<string, string> {
  return credential ? { ...headers, Authorization: `Bearer ${credential}` } : headers
}

/**
 * GET /api/whoami with credential (the stored one by default), never from the
 * ETag cache. A 401 here is the caller's to handle (the sign-in page shows it).
 */
export async function fetchWhoami(credential: string | null = getCredential()): Promise<Whoami> {
  const res = await fetch('/api/whoami', { headers: withAuth({ Accept: 'application/json' }, credential), cache: 'no-store' })
  if (!res.ok) throw await readFailure(res)
  return (await res.json()) as Whoami
}

export async function apiGet<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  const url = buildUrl(path, params)
  const cached = etags.get(url)
  const headers = withAuth({ Accept: 'application/json' })
  if (cached) headers['If-None-Match'] = cached.etag
  const res = await fetch(url, { headers, signal })
  if (res.status === 304 && cached) return cached.data as T
  if (!res.ok) throw await failure(res)
  const data = (await res.json()) as T
  const etag = res.headers.get('ETag')
  if (etag) etags.set(url, { etag, data })
  return data
}

export async function apiSend<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: withAuth(body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw await failure(res)
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}
