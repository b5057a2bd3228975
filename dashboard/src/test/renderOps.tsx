// Test helpers for the ops views: render the whole console at a URL (real
// router, real query client, live refresh paused), and a fetch stub that
// answers by method and path and records what was sent.
import { configure, render } from '@testing-library/react'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { RouterProvider } from '@tanstack/react-router'
import { vi } from 'vitest'
import { resetEtagCache } from '../api/client'
import { PollProvider } from '../poll/poll'
import { makeRouter } from '../router'

// The machine is shared and slow: give async queries room.
configure({ asyncUtilTimeout: 5000 })
vi.setConfig({ testTimeout: 20_000 })

export function renderAt(url: string) {
  localStorage.setItem('jobweaver.poll', JSON.stringify({ intervalMs: 2000, paused: true }))
  resetEtagCache()
  window.history.replaceState(null, '', url)
  const router = makeRouter()
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  const utils = render(
    <QueryClientProvider client={qc}>
      <PollProvider>
        <RouterProvider router={router} />
      </PollProvider>
    </QueryClientProvider>,
  )
  return { router, qc, ...utils }
}

export interface Call {
  method: string
  path: string
  query: URLSearchParams
  body: unknown
}

type Reply = { status?: number; body?: unknown } | ((call: Call) => { status?: number; body?: unknown })

/**
 * Stubs fetch: routes are "METHOD /path" (exact path, query ignored); a value
 * that is an array is answered in turn (the last one repeats). Unknown routes
 * answer 404 API.NOT_FOUND, as the API does.
 */
export function stubApi(routes: Record<string, Reply | Reply[]>) {
  const calls: Call[] = []
  const seen = new Map<string, number>()
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const u = new URL(String(input), 'http://localhost')
    const method = (init?.method ?? 'GET').toUpperCase()
    const call: Call = {
      method,
      path: u.pathname,
      query: u.searchParams,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    }
    calls.push(call)
    const key = `${method} ${u.pathname}`
    let r = routes[key]
    if (Array.isArray(r)) {
      const n = seen.get(key) ?? 0
      seen.set(key, n + 1)
      r = r[Math.min(n, r.length - 1)]
    }
    if (r === undefined) {
      return json(404, { status: 404, errorCode: 'API.NOT_FOUND', message: `no route for ${key}`, traceId: 't', timestamp: '' })
    }
    const reply = typeof r === 'function' ? r(call) : r
    return json(reply.status ?? 200, reply.body)
  })
  vi.stubGlobal('fetch', fn)
  return { calls, fn, sent: (key: string) => calls.filter((c) => `${c.method} ${c.path}` === key) }
}

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

export function apiError(status: number, errorCode: string, message: string, details?: string[]) {
  return { status, body: { timestamp: '2026-12-04T00:00:00Z', status, errorCode, message, traceId: 'trace', details } }
}
