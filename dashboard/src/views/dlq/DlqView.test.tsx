import { fireEvent, screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiError, renderAt, stubApi } from '../../test/renderOps'
import type { DeadLetter, Operation } from '../../api/types'
import { dlqSearch, fromLocalInput, toLocalInput } from './DlqView'

const A = '0193a1b2-c3d4-7e5f-8a9b-00000000000a'
const B = '0193a1b2-c3d4-7e5f-8a9b-00000000000b'
const C = '0193a1b2-c3d4-7e5f-8a9b-00000000000c'

function entry(id: string, over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id,
    jobId: `0193a1b2-aaaa-7e5f-8a9b-job${id.slice(-9)}`,
    traceId: 'trace-1',
    jobType: 'SIMULATION',
    reason: 'RETRIES_EXHAUSTED',
    status: 'NEW',
    errorCode: 'WORKER.STEP_FAILED',
    lastError: 'step 0 (FAIL) failed',
    attempts: [],
    failedAt: '2026-12-04T20:00:00Z',
    ...over,
  }
}

function page(content: DeadLetter[], over: object = {}) {
  return { body: { content, page: 0, size: 20, totalElements: content.length, totalPages: 1, ...over } }
}

function op(over: Partial<Operation>): { body: Operation } {
  return {
    body: { operationId: 'op-1', kind: 'DLQ_RETRY', status: 'RUNNING', total: 3, done: 0, failed: 0, startedAt: '2026-12-04T20:00:00Z', finishedAt: null, ...over },
  }
}

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('dlqSearch', () => {
  it.each([
    [{ status: 'NEW', size: '50', cursor: 'c1' }, { status: 'NEW', size: 50, cursor: 'c1' }],
    [{ status: '', size: '7', traceId: 42 }, {}],
  ])('reads %j', (input, want) => {
    const got = Object.fromEntries(Object.entries(dlqSearch(input)).filter(([, v]) => v !== undefined))
    expect(got).toEqual(want)
  })

  it('round-trips a time through the datetime-local input', () => {
    const iso = fromLocalInput('2026-12-04T10:30')!
    expect(toLocalInput(iso)).toBe('2026-12-04T10:30')
    expect(fromLocalInput('')).toBeUndefined()
  })
})

describe('DlqView', () => {
  it('asks the API for the filter in the URL, and shows job IDs by their tail', async () => {
    const api = stubApi({ 'GET /api/dlq': page([entry(A)]) })
    renderAt('/dlq?status=NEW&traceId=trace-1')
    await screen.findByRole('link', { name: `Open entry …${A.slice(-12)}` })
    const q = api.sent('GET /api/dlq')[0].query
    expect(q.get('status')).toBe('NEW')
    expect(q.get('traceId')).toBe('trace-1')
    expect(q.get('size')).toBe('20')
    expect(screen.getByLabelText('Status')).toHaveValue('NEW')
    expect(screen.getByLabelText('Trace ID')).toHaveValue('trace-1')
    expect(document.body.textContent).not.toContain('0193a1b2-aaaa')
  })

  it('puts the filters in the URL and asks again', async () => {
    const api = stubApi({ 'GET /api/dlq': page([entry(A)]) })
    const { router } = renderAt('/dlq')
    await screen.findByRole('link', { name: `Open entry …${A.slice(-12)}` })
    const user = userEvent.setup()
    await user.type(screen.getByLabelText('Error code'), 'WORKER.STEP_FAILED')
    await user.type(screen.getByLabelText('Trace ID'), 'trace-9')
    await user.click(screen.getByRole('button', { name: 'Apply' }))
    await waitFor(() => expect(router.state.location.search).toMatchObject({ errorCode: 'WORKER.STEP_FAILED', traceId: 'trace-9' }))
    expect(window.location.search).toContain('traceId=trace-9')
    await waitFor(() => expect(api.sent('GET /api/dlq').some((c) => c.query.get('errorCode') === 'WORKER.STEP_FAILED')).toBe(true))

    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'DISMISSED' } })
    await waitFor(() => expect(router.state.location.search).toMatchObject({ status: 'DISMISSED', traceId: 'trace-9' }))
  })

  it('shows an empty state that says whether a filter is on', async () => {
    stubApi({ 'GET /api/dlq': page([]) })
    renderAt('/dlq?reason=POISON_RECORD')
    expect(await screen.findByText('No dead letters match this filter.')).toBeInTheDocument()
  })

  it('retries the selected entries by id, after a confirmation, and shows the progress to the end', async () => {
    const api = stubApi({
      'GET /api/dlq': page([entry(A), entry(B), entry(C)], { totalElements: 3 }),
      'POST /api/dlq/retry': { status: 202, body: { operationId: 'op-1' } },
      'GET /api/operations/op-1': [op({ done: 1 }), op({ status: 'COMPLETED', done: 2, failed: 1, finishedAt: '2026-12-04T20:00:05Z' })],
    })
    const { router } = renderAt('/dlq')
    const user = userEvent.setup()
    await user.click(await screen.findByRole('checkbox', { name: `Select entry …${A.slice(-12)}` }))
    await user.click(screen.getByRole('checkbox', { name: `Select entry …${C.slice(-12)}` }))
    expect(screen.getByText('2 selected')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Retry selected' }))
    const dialog = screen.getByRole('alertdialog')
    expect(dialog).toHaveTextContent('Retry 2 selected entries?')
    expect(api.sent('POST /api/dlq/retry')).toHaveLength(0)
    await user.click(within(dialog).getByRole('button', { name: 'Retry 2' }))

    await waitFor(() => expect(api.sent('POST /api/dlq/retry')).toHaveLength(1))
    expect(api.sent('POST /api/dlq/retry')[0].body).toEqual({ ids: [A, C] })
    // The operation is in the URL: a reload or a shared link shows its progress too.
    await waitFor(() => expect(router.state.location.search).toMatchObject({ op: 'op-1' }))
    const bar = await screen.findByRole('progressbar')
    await waitFor(() => expect(bar).toHaveAttribute('aria-valuenow', '3'), { timeout: 4000 })
    expect(bar).toHaveAttribute('aria-valuemax', '3')
    expect(screen.getByText(/2 done, 1 failed of 3/)).toBeInTheDocument()
    expect(screen.getByText('COMPLETED')).toBeInTheDocument()
    // Finished: the selection is cleared and the list asked again.
    expect(await screen.findByText('0 selected')).toBeInTheDocument()
  })

  it('dismisses all that match the filter with the filter as the body', async () => {
    const api = stubApi({
      'GET /api/dlq': page([entry(A), entry(B)], { totalElements: 250, totalPages: 13, nextCursor: 'next' }),
      'POST /api/dlq/dismiss': { status: 202, body: { operationId: 'op-2' } },
      'GET /api/operations/op-2': op({ operationId: 'op-2', kind: 'DLQ_DISMISS', status: 'COMPLETED', total: 250, done: 250, finishedAt: '2026-12-04T20:00:05Z' }),
    })
    renderAt('/dlq?status=NEW&traceId=trace-1&cursor=abc')
    const user = userEvent.setup()
    await user.click(await screen.findByRole('checkbox', { name: 'Select all on this page' }))
    expect(screen.getByText('2 selected')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Select all 250 that match this filter' }))
    expect(screen.getByText('All 250 entries that match this filter are selected.')).toBeInTheDocument()
    await user.click(screen.getByRole('button', { name: 'Dismiss selected' }))
    expect(screen.getByRole('alertdialog')).toHaveTextContent('status NEW, traceId trace-1')
    await user.click(screen.getByRole('button', { name: 'Dismiss all matching' }))
    await waitFor(() => expect(api.sent('POST /api/dlq/dismiss')).toHaveLength(1))
    expect(api.sent('POST /api/dlq/dismiss')[0].body).toEqual({ filter: { status: 'NEW', traceId: 'trace-1' } })
    expect(await screen.findByText(/250 done, 0 failed of 250 \(100%\)/)).toBeInTheDocument()
  })

  it('says so when the server has no bulk route yet', async () => {
    stubApi({ 'GET /api/dlq': page([entry(A)]) })
    renderAt('/dlq')
    const user = userEvent.setup()
    await user.click(await screen.findByRole('checkbox', { name: `Select entry …${A.slice(-12)}` }))
    await user.click(screen.getByRole('button', { name: 'Retry selected' }))
    await user.click(screen.getByRole('button', { name: 'Retry 1' }))
    expect(await screen.findByText(/not available on this server yet \(the API answered 404\)/)).toBeInTheDocument()
  })

  it('says so when the API does not know the operation, and lets it be closed', async () => {
    const api = stubApi({
      'GET /api/dlq': page([entry(A)]),
      'POST /api/dlq/retry': { status: 202, body: { operationId: 'op-x' } },
      'GET /api/operations/op-x': apiError(404, 'API.OPERATION_NOT_FOUND', 'no operation with id op-x'),
    })
    const { router } = renderAt('/dlq')
    const user = userEvent.setup()
    await user.click(await screen.findByRole('checkbox', { name: `Select entry …${A.slice(-12)}` }))
    await user.click(screen.getByRole('button', { name: 'Retry selected' }))
    await user.click(screen.getByRole('button', { name: 'Retry 1' }))
    expect(await screen.findByText('no operation with id op-x (API.OPERATION_NOT_FOUND)')).toBeInTheDocument()
    expect(api.sent('POST /api/dlq/retry')[0].body).toEqual({ ids: [A] })
    await user.click(screen.getByRole('button', { name: 'Close' }))
    expect(screen.queryByText(/no operation with id/)).not.toBeInTheDocument()
    expect(router.state.location.search).not.toHaveProperty('op')
  })

  it('shows the progress of the operation named in the URL', async () => {
    stubApi({
      'GET /api/dlq': page([]),
      'GET /api/operations/op-9': op({ operationId: 'op-9', kind: 'DLQ_DISMISS', status: 'RUNNING', total: 10, done: 4, failed: 1 }),
    })
    renderAt('/dlq?op=op-9&status=NEW')
    const bar = await screen.findByRole('progressbar', { name: 'Dismiss progress' })
    expect(bar).toHaveAttribute('aria-valuenow', '5')
    expect(screen.getByText(/4 done, 1 failed of 10 \(50%\)/)).toBeInTheDocument()
  })

  it('pages with the cursor and comes back', async () => {
    const api = stubApi({ 'GET /api/dlq': page([entry(A)], { totalElements: 2, nextCursor: 'cur-2' }) })
    const { router } = renderAt('/dlq?status=NEW')
    const user = userEvent.setup()
    await screen.findByRole('link', { name: `Open entry …${A.slice(-12)}` })
    expect(screen.getByRole('button', { name: '← Previous' })).toBeDisabled()
    await user.click(screen.getByRole('button', { name: 'Next →' }))
    await waitFor(() => expect(router.state.location.search).toMatchObject({ status: 'NEW', cursor: 'cur-2' }))
    await waitFor(() => expect(api.sent('GET /api/dlq').some((c) => c.query.get('cursor') === 'cur-2')).toBe(true))
    await user.click(screen.getByRole('button', { name: '← Previous' }))
    await waitFor(() => expect(router.state.location.search).not.toHaveProperty('cursor'))
  })

  it('shows the API error when the list fails', async () => {
    stubApi({ 'GET /api/dlq': apiError(503, 'API.DLQ_UNAVAILABLE', 'the dlq function cannot be reached') })
    renderAt('/dlq')
    expect(await screen.findByRole('alert')).toHaveTextContent('the dlq function cannot be reached (API.DLQ_UNAVAILABLE)')
  })
})
