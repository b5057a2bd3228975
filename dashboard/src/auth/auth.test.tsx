// Signing in, the header, a later 401, role hiding and 429s, through the whole
// console (real router, real query client) over a stubbed API that checks the
// Authorization header as the api does.
import { act, configure, render, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { RouterProvider } from '@tanstack/react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { resetEtagCache } from '../api/client'
import type { Role, Whoami } from '../api/types'
import { PollProvider, usePollInterval } from '../poll/poll'
import { makeRouter } from '../router'
import { AuthGate, roleAllows } from './auth'
import { rateLimited, rateLimitedUntil, resetRateLimit } from './rateLimit'

configure({ asyncUtilTimeout: 5000 })
vi.setConfig({ testTimeout: 20_000 })

const VIEWER = 'jw_viewer'
const OPERATOR = 'jw_operator'
const ADMIN = 'jw_admin'
const DLQ_ID = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
const JOB_ID = '0193a1b2-1111-7e5f-8a9b-aaaabbbbcccc'

type Reply = { status: number; body?: unknown; headers?: Record<string, string> }

function err(status: number, errorCode: string, message: string): Reply {
  return { status, body: { timestamp: '2026-12-05T00:00:00Z', status, errorCode, message, traceId: 't' } }
}

interface Sent {
  method: string
  path: string
  query: URLSearchParams
  auth: string | null
}

/**
 * A stub API with auth on: keys maps each good bearer token to its caller;
 * override answers a route ("METHOD /path") before the key check's result.
 */
function stubAuthApi(keys: Record<string, Whoami | 'revoked'>, override: Record<string, (s: Sent) => Reply | undefined> = {}) {
  const sent: Sent[] = []
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const u = new URL(String(input), 'http://console.test')
    const headers = (init?.headers ?? {}) as Record<string, string>
    const s: Sent = { method: (init?.method ?? 'GET').toUpperCase(), path: u.pathname, query: u.searchParams, auth: headers.Authorization ?? null }
    sent.push(s)
    const r = answer(s)
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), {
      status: r.status,
      headers: { 'Content-Type': 'application/json', ...r.headers },
    })
  })
  function answer(s: Sent): Reply {
    const token = s.auth?.replace(/^Bearer /, '') ?? ''
    const o = override[`${s.method} ${s.path}`]?.(s)
    if (o) return o
    if (!token) return err(401, 'API.UNAUTHENTICATED', 'this route needs an API key: send Authorization: Bearer <key>')
    const me = keys[token]
    if (me === undefined) return err(401, 'API.UNAUTHENTICATED', 'unknown API key')
    if (me === 'revoked') return err(401, 'API.UNAUTHENTICATED', 'the API key is revoked')
    const need: Role = s.path === '/api/keys' || s.path === '/api/audit' ? 'admin' : s.method === 'GET' ? 'viewer' : 'operator'
    if (!roleAllows(me.role, need)) return err(403, 'API.FORBIDDEN', `this route needs the ${need} role or higher; the caller has ${me.role}`)
    return routeFor(s, me)
  }
  vi.stubGlobal('fetch', fn)
  return { sent, fn }
}

const emptyPage = { content: [], page: 0, size: 20, totalElements: 0, totalPages: 0 }

function routeFor(s: Sent, me: Whoami): Reply {
  const key = `${s.method} ${s.path}`
  switch (key) {
    case 'GET /api/whoami':
      return { status: 200, body: me }
    case 'GET /api/dlq':
      return {
        status: 200,
        body: {
          ...emptyPage,
          content: [{ id: DLQ_ID, jobId: JOB_ID, traceId: 'tr', jobType: 'SIMULATION', reason: 'RETRIES_EXHAUSTED', status: 'NEW', lastError: 'boom', attempts: [], failedAt: '2026-12-05T00:00:00Z' }],
          totalElements: 1,
          totalPages: 1,
        },
      }
    case `GET /api/dlq/${DLQ_ID}`:
      return { status: 200, body: { id: DLQ_ID, jobId: JOB_ID, traceId: 'tr', jobType: 'SIMULATION', reason: 'RETRIES_EXHAUSTED', status: 'NEW', lastError: 'boom', attempts: [], failedAt: '2026-12-05T00:00:00Z' } }
    case `GET /api/jobs/${JOB_ID}`:
      return { status: 200, body: { jobId: JOB_ID, status: 'RUNNING', jobType: 'SIMULATION', attempts: 1, maxRetryCount: 3, createdAt: '2026-12-05T00:00:00Z' } }
    case 'GET /api/keys':
      return { status: 200, body: { content: [] } }
    case 'POST /api/keys':
      return { status: 201, body: { id: 'k-new', key: 'jw_theNewKeyShownOnce', prefix: 'jw_theNewKe', name: 'ci', role: 'viewer', expiresAt: null } }
  }
  if (s.method === 'GET') return { status: 200, body: emptyPage }
  return err(404, 'API.NOT_FOUND', `no route for ${key}`)
}

const who = (role: Role, name: string): Whoami => ({ caller: `id-${role}`, role, auth: 'keys', name })

function renderApp(url: string) {
  localStorage.setItem('jobweaver.poll', JSON.stringify({ intervalMs: 2000, paused: true }))
  resetEtagCache()
  window.history.replaceState(null, '', url)
  window.scrollTo = (() => {}) as typeof window.scrollTo
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  return render(
    <QueryClientProvider client={qc}>
      <PollProvider>
        <AuthGate>
          <RouterProvider router={makeRouter()} />
        </AuthGate>
      </PollProvider>
    </QueryClientProvider>,
  )
}

async function signIn(key: string, remember = false) {
  const user = userEvent.setup()
  await user.type(await screen.findByLabelText('API key or token'), key)
  if (remember) await user.click(screen.getByLabelText(/Remember on this device/))
  await user.click(screen.getByRole('button', { name: 'Sign in' }))
  return user
}

beforeEach(() => {
  sessionStorage.clear()
  resetRateLimit()
})
afterEach(() => {
  vi.unstubAllGlobals()
  sessionStorage.clear()
})

describe('signing in', () => {
  it('with API_AUTH=none shows no sign-in, a quiet "auth off" and every action, sending no credential', async () => {
    const api = stubAuthApi({}, { 'GET /api/whoami': () => ({ status: 200, body: { caller: 'anonymous', role: 'admin', auth: 'none' } }), 'GET /api/dlq': (s) => routeFor(s, who('admin', '')) })
    renderApp('/dlq')
    expect(await screen.findByText('auth off')).toBeInTheDocument()
    expect(screen.queryByRole('button', { name: 'Sign out' })).not.toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Submit' })).toBeInTheDocument()
    expect(await screen.findByRole('button', { name: 'Retry selected' })).toBeInTheDocument()
    // Nothing to manage keys with when auth is off.
    expect(screen.queryByRole('link', { name: 'API keys' })).not.toBeInTheDocument()
    expect(api.sent.every((s) => s.auth === null)).toBe(true)
  })

  it('on a 401 asks for a key; a bad one says why, a good one signs in and goes out as Bearer on every request', async () => {
    const api = stubAuthApi({ [VIEWER]: who('viewer', 'wall screen') })
    renderApp('/dlq')
    expect(await screen.findByRole('heading', { name: 'Sign in to JobWeaver' })).toBeInTheDocument()
    // No credential yet: no "signed out" reason.
    expect(screen.queryByText(/You were signed out/)).not.toBeInTheDocument()
    // What this API takes, in its own words.
    expect(screen.getByText('The API says: this route needs an API key: send Authorization: Bearer <key>.')).toBeInTheDocument()

    const user = await signIn('jw_wrong')
    expect(await screen.findByRole('alert')).toHaveTextContent('unknown API key (API.UNAUTHENTICATED)')
    expect(sessionStorage.getItem('jobweaver.credential')).toBeNull()

    await user.clear(screen.getByLabelText('API key or token'))
    await user.type(screen.getByLabelText('API key or token'), `Bearer ${VIEWER}`)
    await user.click(screen.getByRole('button', { name: 'Sign in' }))
    const header = await screen.findByRole('banner')
    expect(await within(header).findByText('wall screen')).toBeInTheDocument()
    expect(within(header).getByText('(viewer)')).toBeInTheDocument()
    expect(within(header).getByRole('button', { name: 'Sign out' })).toBeInTheDocument()
    expect(await screen.findByRole('link', { name: /Open entry/ })).toBeInTheDocument()

    // Kept for this tab only, and sent on every request after sign-in.
    expect(sessionStorage.getItem('jobweaver.credential')).toBe(VIEWER)
    expect(localStorage.getItem('jobweaver.credential')).toBeNull()
    const afterSignIn = api.sent.slice(api.sent.findIndex((s) => s.auth === `Bearer ${VIEWER}`))
    expect(afterSignIn.length).toBeGreaterThan(1)
    expect(afterSignIn.every((s) => s.auth === `Bearer ${VIEWER}`)).toBe(true)
  })

  it('"remember on this device" keeps the key in localStorage, and a reload signs in with it', async () => {
    stubAuthApi({ [OPERATOR]: who('operator', 'on call') })
    const first = renderApp('/')
    await signIn(OPERATOR, true)
    expect(await screen.findByText('on call')).toBeInTheDocument()
    expect(localStorage.getItem('jobweaver.credential')).toBe(OPERATOR)
    expect(sessionStorage.getItem('jobweaver.credential')).toBeNull()
    first.unmount()

    renderApp('/')
    expect(await screen.findByText('on call')).toBeInTheDocument()
    expect(screen.queryByLabelText('API key or token')).not.toBeInTheDocument()
  })

  it('signs out: the key is forgotten and the sign-in page is back', async () => {
    stubAuthApi({ [VIEWER]: who('viewer', 'wall screen') })
    sessionStorage.setItem('jobweaver.credential', VIEWER)
    renderApp('/')
    const user = userEvent.setup()
    await user.click(await screen.findByRole('button', { name: 'Sign out' }))
    expect(await screen.findByRole('heading', { name: 'Sign in to JobWeaver' })).toBeInTheDocument()
    expect(sessionStorage.getItem('jobweaver.credential')).toBeNull()
  })

  it('a later 401 (the key revoked) returns to sign-in with the API’s reason', async () => {
    const keys: Record<string, Whoami | 'revoked'> = { [OPERATOR]: who('operator', 'on call') }
    stubAuthApi(keys)
    sessionStorage.setItem('jobweaver.credential', OPERATOR)
    renderApp('/dlq')
    expect(await screen.findByText('on call')).toBeInTheDocument()
    keys[OPERATOR] = 'revoked'
    const user = userEvent.setup()
    // Any request will do: open the entry.
    await user.click(await screen.findByRole('link', { name: /Open entry/ }))
    expect(await screen.findByRole('heading', { name: 'Sign in to JobWeaver' })).toBeInTheDocument()
    expect(screen.getByRole('alert')).toHaveTextContent('You were signed out: the API key is revoked (API.UNAUTHENTICATED)')
    expect(sessionStorage.getItem('jobweaver.credential')).toBeNull()
  })

  it('a 403 at sign-in (a token naming no role) shows the API’s message', async () => {
    stubAuthApi({}, { 'GET /api/whoami': (s) => (s.auth ? err(403, 'API.FORBIDDEN', 'this route needs the viewer role or higher; the token names no role') : undefined) })
    renderApp('/')
    await signIn('eyJhbGciOiJSUzI1NiJ9.e30.sig')
    expect(await screen.findByRole('alert')).toHaveTextContent('the token names no role (API.FORBIDDEN)')
  })
})

describe('what each role sees', () => {
  const keys = { [VIEWER]: who('viewer', 'v'), [OPERATOR]: who('operator', 'o'), [ADMIN]: who('admin', 'a') }

  it.each([
    [VIEWER, false, false],
    [OPERATOR, true, false],
    [ADMIN, true, true],
  ])('%s: actions %s, admin views %s', async (key, actions, admin) => {
    stubAuthApi(keys)
    sessionStorage.setItem('jobweaver.credential', key)
    const view = renderApp('/dlq')
    expect(await screen.findByRole('link', { name: /Open entry/ })).toBeInTheDocument()
    const shown = (name: string | RegExp, role: 'button' | 'link' | 'checkbox' = 'button') => screen.queryByRole(role, { name }) !== null
    expect(shown('Submit', 'link')).toBe(actions)
    expect(shown('Retry selected')).toBe(actions)
    expect(shown('Dismiss selected')).toBe(actions)
    expect(shown(/Select entry/, 'checkbox')).toBe(actions)
    expect(shown('API keys', 'link')).toBe(admin)
    expect(shown('Audit', 'link')).toBe(admin)
    view.unmount()

    const entry = renderApp(`/dlq/${DLQ_ID}`)
    expect(await screen.findByText('boom')).toBeInTheDocument()
    expect(shown('Retry')).toBe(actions)
    expect(shown('Dismiss')).toBe(actions)
    entry.unmount()

    renderApp(`/jobs/${JOB_ID}`)
    expect(await screen.findByTestId('job-id')).toBeInTheDocument()
    expect(shown('Cancel job…')).toBe(actions)
  })

  it('a viewer who opens /submit is told the role it needs, with no form', async () => {
    stubAuthApi(keys)
    sessionStorage.setItem('jobweaver.credential', VIEWER)
    renderApp('/submit')
    expect(await screen.findByText(/To submit jobs you need the operator role or higher; you are signed in as viewer/)).toBeInTheDocument()
    expect(screen.queryByRole('button', { name: /Submit/ })).not.toBeInTheDocument()
  })

  it('an admin creates a key and sees it once, with a copy button', async () => {
    const api = stubAuthApi(keys)
    sessionStorage.setItem('jobweaver.credential', ADMIN)
    renderApp('/keys')
    const user = userEvent.setup()
    await user.type(await screen.findByLabelText('Name'), 'ci')
    await user.click(screen.getByRole('button', { name: 'Create key' }))
    expect(await screen.findByTestId('new-key')).toHaveTextContent('jw_theNewKeyShownOnce')
    expect(screen.getByRole('button', { name: 'Copy API key' })).toBeInTheDocument()
    const post = api.sent.find((s) => s.method === 'POST' && s.path === '/api/keys')
    expect(post?.auth).toBe(`Bearer ${ADMIN}`)
  })
})

describe('the audit view', () => {
  it('sends the filter in the URL to GET /api/audit, and a new filter goes into the URL', async () => {
    const entry = { id: 'a1', at: '2026-12-05T00:00:00Z', caller: 'id-admin', action: 'key.create', target: 'k-1', detail: { name: 'ci', role: 'viewer' } }
    const api = stubAuthApi(
      { [ADMIN]: who('admin', 'a') },
      { 'GET /api/audit': (s) => (s.auth === `Bearer ${ADMIN}` ? { status: 200, body: { ...emptyPage, content: [entry], totalElements: 1, totalPages: 1 } } : undefined) },
    )
    sessionStorage.setItem('jobweaver.credential', ADMIN)
    renderApp('/audit?action=key.create')
    expect(await screen.findByText('{"name":"ci","role":"viewer"}')).toBeInTheDocument()
    const first = api.sent.find((s) => s.path === '/api/audit')!
    expect(first.query.get('action')).toBe('key.create')
    expect(first.query.get('caller')).toBeNull()

    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Caller'), 'id-admin')
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    await waitFor(() => expect(api.sent.some((s) => s.path === '/api/audit' && s.query.get('caller') === 'id-admin' && s.query.get('action') === 'key.create')).toBe(true))
    expect(window.location.search).toContain('caller=id-admin')
  })

  it('tells an operator who opens /audit that it is an admin’s', async () => {
    stubAuthApi({ [OPERATOR]: who('operator', 'o') })
    sessionStorage.setItem('jobweaver.credential', OPERATOR)
    renderApp('/audit')
    expect(await screen.findByText(/To read the audit you need the admin role or higher; you are signed in as operator/)).toBeInTheDocument()
  })
})

describe('rate limits', () => {
  it('reads Retry-After, at least 1 s, 5 s without one', () => {
    expect(rateLimited('3', 1000)).toBe(3)
    resetRateLimit()
    expect(rateLimited('0', 1000)).toBe(5)
    expect(rateLimited(null, 1000)).toBe(5)
    expect(rateLimited('soon', 1000)).toBe(5)
  })

  it('the live refresh interval is off while a Retry-After lasts, and back after', async () => {
    localStorage.setItem('jobweaver.poll', JSON.stringify({ intervalMs: 2000, paused: false }))
    function Show() {
      return <p data-testid="interval">{String(usePollInterval())}</p>
    }
    render(
      <PollProvider>
        <Show />
      </PollProvider>,
    )
    expect(screen.getByTestId('interval')).toHaveTextContent('2000')
    act(() => {
      rateLimited('1')
    })
    expect(screen.getByTestId('interval')).toHaveTextContent('false')
    await waitFor(() => expect(screen.getByTestId('interval')).toHaveTextContent('2000'), { timeout: 4000 })
  })

  it('a 429 shows a notice and stops the live refresh until Retry-After has passed', async () => {
    let limited = true
    stubAuthApi(
      { [VIEWER]: who('viewer', 'v') },
      {
        'GET /api/dlq': () =>
          limited ? { ...err(429, 'API.RATE_LIMITED', 'too many requests from this caller; retry after 2 s'), headers: { 'Retry-After': '2' } } : undefined,
      },
    )
    sessionStorage.setItem('jobweaver.credential', VIEWER)
    renderApp('/dlq')
    expect(await screen.findByText(/rate limit was reached \(429 API.RATE_LIMITED\): live refresh waits until/)).toBeInTheDocument()
    expect(rateLimitedUntil()).toBeGreaterThan(Date.now())
    expect(screen.getByText(/retry after 2 s/)).toBeInTheDocument()
    limited = false
    await waitFor(() => expect(screen.queryByText(/rate limit was reached/)).not.toBeInTheDocument(), { timeout: 5000 })
  })
})
