// Test helpers for the job views: a router over just these views in memory
// history, a fresh QueryClient, and a fetch stub that answers by method and path.
import { configure, render } from '@testing-library/react'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { createMemoryHistory, createRootRoute, createRoute, createRouter, Outlet, RouterProvider } from '@tanstack/react-router'
import { vi } from 'vitest'
import { resetEtagCache } from '../../api/client'
import { PollProvider } from '../../poll/poll'
import { JobsView, jobsSearch } from './JobsView'
import { JobView } from './JobView'

// Waits are for the app to get somewhere, not deadlines: on a loaded machine (two
// cores, many agents) rendering a route can take seconds, so wait generously.
configure({ asyncUtilTimeout: 15_000 })
vi.setConfig({ testTimeout: 60_000 })

export function renderAt(path: string) {
  resetEtagCache()
  // The router restores scroll positions; jsdom has no scrolling.
  window.scrollTo = (() => {}) as typeof window.scrollTo
  const root = createRootRoute({ component: () => <Outlet /> })
  const jobs = createRoute({ getParentRoute: () => root, path: '/', validateSearch: jobsSearch, component: JobsView })
  const job = createRoute({ getParentRoute: () => root, path: '/jobs/$jobId', component: JobView })
  const submit = createRoute({ getParentRoute: () => root, path: '/submit', component: () => <p>submit page</p> })
  const dlq = createRoute({ getParentRoute: () => root, path: '/dlq/$dlqId', component: () => <p>dlq page</p> })
  const router = createRouter({
    routeTree: root.addChildren([jobs, job, submit, dlq]),
    history: createMemoryHistory({ initialEntries: [path] }),
  })
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false, placeholderData: (prev: unknown) => prev } },
  })
  const view = render(
    <QueryClientProvider client={client}>
      <PollProvider>
        <RouterProvider router={router as never} />
      </PollProvider>
    </QueryClientProvider>,
  )
  /** The current URL's search params. */
  const params = () => new URLSearchParams(router.state.location.searchStr)
  return { ...view, router, client, params }
}

export interface Call {
  method: string
  path: string
  query: URLSearchParams
  headers: Record<string, string>
}

type Answer = { status?: number; body?: unknown; headers?: Record<string, string> }
type Handler = (c: Call) => Answer | undefined

/** Stubs fetch; the first handler that answers wins; otherwise 404 API.NOT_FOUND. Returns the calls seen. */
export function stubApi(...handlers: Handler[]) {
  const calls: Call[] = []
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const u = new URL(String(input), 'http://console.test')
    const call: Call = {
      method: (init?.method ?? 'GET').toUpperCase(),
      path: u.pathname,
      query: u.searchParams,
      headers: { ...(init?.headers as Record<string, string>) },
    }
    calls.push(call)
    let a: Answer | undefined
    for (const h of handlers) {
      a = h(call)
      if (a) break
    }
    a ??= { status: 404, body: apiError(404, 'API.NOT_FOUND', `no route for ${call.method} ${call.path}`) }
    const status = a.status ?? 200
    return new Response(status === 304 || a.body === undefined ? null : JSON.stringify(a.body), {
      status,
      headers: { 'Content-Type': 'application/json', ...a.headers },
    })
  })
  vi.stubGlobal('fetch', fn)
  return { calls, fn }
}

export function route(method: string, path: string | RegExp, answer: Answer | ((c: Call) => Answer)): Handler {
  return (c) => {
    if (c.method !== method) return undefined
    if (typeof path === 'string' ? c.path !== path : !path.test(c.path)) return undefined
    return typeof answer === 'function' ? answer(c) : answer
  }
}

export function apiError(status: number, errorCode: string, message: string) {
  return { timestamp: '2026-12-04T21:00:00Z', status, errorCode, message, traceId: 'trace-err' }
}

export function page<T>(content: T[], extra: Record<string, unknown> = {}) {
  return { content, page: 0, size: 25, totalElements: content.length, totalPages: 1, ...extra }
}
