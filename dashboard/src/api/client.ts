// A small fetch wrapper over the public API: JSON in and out, errors as ApiError
// (the API's structured error body), and conditional GETs: each URL's last ETag
// is sent as If-None-Match, so an idle poll costs one 304 with no body.
import type { ApiErrorBody } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly body: ApiErrorBody | null

  constructor(status: number, body: ApiErrorBody | null, fallback: string) {
    super(body?.message ?? fallback)
    this.name = 'ApiError'
    this.status = status
    this.body = body
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

async function failure(res: Response): Promise<ApiError> {
  let body: ApiErrorBody | null = null
  try {
    body = (await res.json()) as ApiErrorBody
  } catch {
    body = null
  }
  return new ApiError(res.status, body, `${res.status} ${res.statusText || 'request failed'}`)
}

export async function apiGet<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  const url = buildUrl(path, params)
  const cached = etags.get(url)
  const headers: Record<string, string> = { Accept: 'application/json' }
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
    headers: body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw await failure(res)
  const text = await res.text()
  return (text ? JSON.parse(text) : undefined) as T
}
