import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { summary } from './fixtures'
import { jobsSearch } from './search'
import { apiError, page, renderAt, route, stubApi } from './testing'

afterEach(() => vi.unstubAllGlobals())

const ROWS = [
  summary(1, { status: 'FAILED', attempts: 4, lastErrorCode: 'WORKER.STEP_FAILED', lastError: 'boom' }),
  summary(2, { status: 'RUNNING', attempts: 1, finishedAt: null }),
  summary(3),
]

function lastList(calls: { method: string; path: string; query: URLSearchParams }[]) {
  const c = calls.filter((x) => x.method === 'GET' && x.path === '/api/jobs')
  return c[c.length - 1].query
}

describe('JobsView', () => {
  it('lists the jobs with tail IDs, status, attempts and last error code', async () => {
    const { calls } = stubApi(route('GET', '/api/jobs', { body: page(ROWS, { totalElements: 3 }) }))
    renderAt('/')
    const table = await screen.findByRole('table')
    const rows = within(table).getAllByRole('row').slice(1)
    expect(rows).toHaveLength(3)
    expect(within(rows[0]).getByText('…000000000001')).toBeInTheDocument()
    expect(rows[0].textContent).not.toContain('01a242e6')
    expect(within(rows[0]).getByText('FAILED')).toBeInTheDocument()
    expect(within(rows[0]).getByText('4')).toBeInTheDocument()
    expect(within(rows[0]).getByText('WORKER.STEP_FAILED')).toHaveAttribute('title', 'boom')
    expect(within(rows[1]).getByText('RUNNING')).toBeInTheDocument()
    expect(within(rows[0]).getByRole('link')).toHaveAttribute('href', `/jobs/${ROWS[0].jobId}`)
    expect(screen.getByText('3 jobs')).toBeInTheDocument()
    expect(lastList(calls).get('size')).toBe('25')
    expect(lastList(calls).has('status')).toBe(false)
  })

  it('reads its filters from the URL and sends them to the API', async () => {
    const { calls } = stubApi(route('GET', '/api/jobs', { body: page([ROWS[0]]) }))
    renderAt('/?status=FAILED&traceId=trace-1&from=2026-12-04T20:00:00Z&to=2026-12-04T22:00:00.000Z')
    await screen.findByRole('table')
    const q = lastList(calls)
    expect(q.get('status')).toBe('FAILED')
    expect(q.get('traceId')).toBe('trace-1')
    expect(q.get('createdFrom')).toBe('2026-12-04T20:00:00.000Z')
    expect(q.get('createdTo')).toBe('2026-12-04T22:00:00.000Z')
    expect(screen.getByLabelText('Status')).toHaveValue('FAILED')
    expect(screen.getByLabelText('Trace ID')).toHaveValue('trace-1')
  })

  it('changing the status filter updates the list and the URL', async () => {
    const { calls } = stubApi(
      route('GET', '/api/jobs', (c) => ({ body: page(c.query.get('status') === 'FAILED' ? [ROWS[0]] : ROWS) })),
    )
    const { params } = renderAt('/')
    await screen.findByText('…000000000003')
    await userEvent.selectOptions(screen.getByLabelText('Status'), 'FAILED')
    await waitFor(() => expect(screen.queryByText('…000000000003')).not.toBeInTheDocument())
    expect(params().get('status')).toBe('FAILED')
    expect(lastList(calls).get('status')).toBe('FAILED')
    expect(screen.getByText('…000000000001')).toBeInTheDocument()
  })

  it('applies a trace ID on Enter and a date range as it is picked', async () => {
    const { calls } = stubApi(route('GET', '/api/jobs', { body: page(ROWS) }))
    const { params } = renderAt('/')
    await screen.findByRole('table')
    await userEvent.type(screen.getByLabelText('Trace ID'), 'trace-2{Enter}')
    await waitFor(() => expect(params().get('traceId')).toBe('trace-2'))
    expect(lastList(calls).get('traceId')).toBe('trace-2')

    fireEvent.change(screen.getByLabelText('Created from'), { target: { value: '2026-12-04T21:00:00' } })
    const want = new Date('2026-12-04T21:00:00').toISOString()
    await waitFor(() => expect(params().get('from')).toBe(want))
    await waitFor(() => expect(lastList(calls).get('createdFrom')).toBe(want))
    expect(params().get('traceId')).toBe('trace-2')

    await userEvent.click(screen.getByRole('link', { name: 'Clear filters' }))
    await waitFor(() => expect(params().toString()).toBe(''))
  })

  it('pages by cursor: Older sends nextCursor, Newer goes back', async () => {
    const first = Array.from({ length: 25 }, (_, i) => summary(100 - i))
    const second = Array.from({ length: 25 }, (_, i) => summary(75 - i))
    const { calls } = stubApi(
      route('GET', '/api/jobs', (c) =>
        c.query.get('cursor') === 'c2'
          ? { body: page(second, { totalElements: 10_000, totalPages: 400, nextCursor: 'c3' }) }
          : { body: page(first, { totalElements: 10_000, totalPages: 400, nextCursor: 'c2' }) },
      ),
    )
    const { params } = renderAt('/')
    await screen.findByText('…000000000100')
    expect(screen.getByText('1–25')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: '‹ Newer' })).toBeDisabled()
    expect(screen.getAllByRole('row')).toHaveLength(26)

    await userEvent.click(screen.getByRole('button', { name: 'Older ›' }))
    await screen.findByText('…000000000075')
    expect(params().get('cursor')).toBe('c2')
    expect(lastList(calls).get('cursor')).toBe('c2')
    expect(screen.getByText('26–50')).toBeInTheDocument()
    expect(screen.getAllByRole('row')).toHaveLength(26)
    expect(screen.getByText('10,000 jobs')).toBeInTheDocument()

    await userEvent.click(screen.getByRole('button', { name: '‹ Newer' }))
    await screen.findByText('…000000000100')
    expect(params().has('cursor')).toBe(false)
  })

  it('updates a row without a reload when the job changes', async () => {
    localStorage.setItem('jobweaver.poll', JSON.stringify({ intervalMs: 1000, paused: false }))
    let n = 0
    stubApi(route('GET', '/api/jobs', () => ({ body: page([summary(1, { status: n++ < 1 ? 'RUNNING' : 'COMPLETED' })]) })))
    renderAt('/')
    expect(await screen.findByText('RUNNING')).toBeInTheDocument()
    expect(await screen.findByText('COMPLETED', {}, { timeout: 15_000 })).toBeInTheDocument()
  })

  it('sends the last ETag and keeps the rows on a 304', async () => {
    localStorage.setItem('jobweaver.poll', JSON.stringify({ intervalMs: 1000, paused: false }))
    const { calls } = stubApi(
      route('GET', '/api/jobs', (c) =>
        c.headers['If-None-Match'] === 'W/"v1"' ? { status: 304 } : { body: page(ROWS), headers: { ETag: 'W/"v1"' } },
      ),
    )
    renderAt('/')
    await screen.findByText('…000000000001')
    await waitFor(() => expect(calls.filter((c) => c.headers['If-None-Match'] === 'W/"v1"').length).toBeGreaterThan(0), { timeout: 15_000 })
    expect(screen.getByText('…000000000001')).toBeInTheDocument()
  })

  it('says when there are no jobs at all, and when none match', async () => {
    stubApi(route('GET', '/api/jobs', { body: page([]) }))
    renderAt('/')
    expect(await screen.findByText(/No jobs yet/)).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Submit one' })).toHaveAttribute('href', '/submit')
  })

  it('says when no job matches the filters, with a way to clear them', async () => {
    stubApi(route('GET', '/api/jobs', { body: page([]) }))
    renderAt('/?status=CANCELLED')
    expect(await screen.findByText(/No jobs match these filters/)).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Clear the filters' })).toHaveAttribute('href', '/')
  })

  it('shows the API error with its code, and tries again', async () => {
    let fail = true
    stubApi(
      route('GET', '/api/jobs', () =>
        fail ? { status: 503, body: apiError(503, 'API.SCHEDULER_UNAVAILABLE', 'the scheduler cannot be reached') } : { body: page(ROWS) },
      ),
    )
    renderAt('/')
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('API.SCHEDULER_UNAVAILABLE')
    expect(alert).toHaveTextContent('the scheduler cannot be reached')
    fail = false
    await userEvent.click(within(alert).getByRole('button', { name: 'Try again' }))
    expect(await screen.findByRole('table')).toBeInTheDocument()
  })

  it('opens a job by its full ID and refuses a partial one', async () => {
    stubApi(route('GET', '/api/jobs', { body: page(ROWS) }))
    const { router } = renderAt('/')
    await screen.findByRole('table')
    const box = screen.getByLabelText('Job ID')
    await userEvent.type(box, '5965eceb5493{Enter}')
    expect(screen.getByText('A job ID is a full UUID.')).toBeInTheDocument()
    await userEvent.clear(box)
    await userEvent.type(box, '01A242E6-41ED-752C-8B1E-5965ECEB5493{Enter}')
    await waitFor(() => expect(router.state.location.pathname).toBe('/jobs/01a242e6-41ed-752c-8b1e-5965eceb5493'))
  })
})

describe('jobsSearch', () => {
  it.each([
    [{ status: 'failed' }, { status: 'FAILED' }],
    [{ status: 'BOGUS' }, {}],
    [{ from: 'yesterday', to: '2026-12-04T21:00:00+01:00' }, { to: '2026-12-04T20:00:00.000Z' }],
    [{ traceId: '  abc ' }, { traceId: 'abc' }],
    [{ size: 50 }, { size: 50 }],
    [{ size: 25 }, {}],
    [{ size: 7 }, {}],
    [{ cursor: '' }, {}],
  ])('checks %o', (raw, want) => {
    const got = Object.fromEntries(Object.entries(jobsSearch(raw)).filter(([, v]) => v !== undefined))
    expect(got).toEqual(want)
  })
})
