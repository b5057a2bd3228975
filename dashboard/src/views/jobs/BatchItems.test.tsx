// The job page of a BATCH_PROCESS job: the batch's counts from its step's
// output, the items table paged by cursor with a status filter, and the
// payload in short.
import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { BatchItem, Execution } from '../../api/types'
import { JOB_ID, job } from './fixtures'
import { page, renderAt, route, stubApi } from './testing'

afterEach(() => vi.unstubAllGlobals())

const JOB_PATH = `/api/jobs/${JOB_ID}`

const batchJob = job({
  jobType: 'BATCH_PROCESS',
  attempts: 2,
  payload: {
    items: Array.from({ length: 120 }, (_, i) => ({ id: i })),
    chunkSize: 50,
    maxFailedItems: 1,
    step: { action: 'HTTP_CALL', url: 'https://api.example.com/u/{{item.id}}' },
  },
})

function execution(attempt: number, output: Record<string, unknown>): Execution {
  return {
    eventId: `e-${attempt}`,
    attempt,
    status: attempt === 2 ? 'COMPLETED' : 'FAILED',
    startedAt: '2026-12-04T21:11:56.100Z',
    finishedAt: '2026-12-04T21:11:57.100Z',
    durationMs: 1000,
    errorCode: null,
    error: null,
    steps: [{ index: 0, action: 'HTTP_CALL', status: 'SUCCEEDED', durationMs: 1000, error: null, output }],
  }
}

const counts = { total: 120, succeeded: 119, failed: 1, maxFailedItems: 1, chunkSize: 50, chunks: 3, pass: 2, ranItems: 3 }

function items(from: number, n: number): BatchItem[] {
  return Array.from({ length: n }, (_, k) => {
    const index = from + k
    return index === 7
      ? { index, status: 'FAILED', attempt: 2, errorCode: 'WORKER.STEP_FAILED', error: 'step failed: GET https://api.example.com/u/7 answered 500' }
      : { index, status: 'SUCCEEDED', attempt: 1, output: { status: 200, body: { id: index } } }
  })
}

describe('BatchItems', () => {
  it('shows the counts of the latest attempt and pages the items by cursor', async () => {
    const api = stubApi(
      route('GET', JOB_PATH, { body: batchJob }),
      route('GET', `${JOB_PATH}/executions`, {
        body: page([execution(1, { ...counts, succeeded: 100, failed: 20, pass: 1, firstError: { index: 7, errorCode: 'WORKER.STEP_FAILED', error: 'boom' } }), execution(2, counts)]),
      }),
      route('GET', `${JOB_PATH}/items`, (c) => {
        if (c.query.get('status') === 'FAILED') return { body: page(items(7, 1), { size: 50 }) }
        if (c.query.get('cursor') === 'next-1') return { body: page(items(50, 50), { size: 50, totalElements: 120, nextCursor: 'next-2' }) }
        return { body: page(items(0, 50), { size: 50, totalElements: 120, nextCursor: 'next-1' }) }
      }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    const c = await screen.findByTestId('batch-counts')
    expect(c).toHaveTextContent('Items120')
    expect(c).toHaveTextContent('Succeeded119')
    expect(c).toHaveTextContent('Failed1 (at most 1 allowed)')
    expect(c).toHaveTextContent('pass 2: failed items again')

    const table = await screen.findByRole('table', { name: 'Batch items' })
    expect(within(table).getAllByRole('row')).toHaveLength(51)
    const failed = table.querySelector('[data-item="7"]')!
    expect(failed).toHaveTextContent('FAILED')
    expect(failed).toHaveTextContent('WORKER.STEP_FAILED step failed: GET https://api.example.com/u/7 answered 500')
    expect(screen.getByText('1–50 of 120 finished')).toBeInTheDocument()
    const itemCall = api.calls.find((k) => k.path === `${JOB_PATH}/items`)!
    expect(itemCall.query.get('limit')).toBe('50')
    expect(itemCall.query.get('cursor')).toBeNull()

    const user = userEvent.setup()
    expect(screen.getByRole('button', { name: '← Previous' })).toBeDisabled()
    await user.click(screen.getByRole('button', { name: 'Next →' }))
    await waitFor(() => expect(screen.getByText('51–100 of 120 finished')).toBeInTheDocument())
    expect(api.calls.some((k) => k.path === `${JOB_PATH}/items` && k.query.get('cursor') === 'next-1')).toBe(true)
    await user.click(screen.getByRole('button', { name: '← Previous' }))
    await waitFor(() => expect(screen.getByText('1–50 of 120 finished')).toBeInTheDocument())

    // An item's output folds behind a summary.
    const row = screen.getByRole('table', { name: 'Batch items' }).querySelector('[data-item="3"]') as HTMLElement
    await user.click(within(row).getByText('Output'))
    expect(within(row).getByLabelText('Output of item 3')).toHaveTextContent('"id": 3')

    // The filter asks the API for the failed items only, from the first.
    await user.selectOptions(screen.getByLabelText('Item status'), 'FAILED')
    await waitFor(() => expect(screen.getByText('1–1 of 1 failed')).toBeInTheDocument())
    expect(api.calls.some((k) => k.path === `${JOB_PATH}/items` && k.query.get('status') === 'FAILED' && !k.query.get('cursor'))).toBe(true)

    // The payload in short.
    const p = screen.getByTestId('batch-payload')
    expect(p).toHaveTextContent('Items120')
    expect(p).toHaveTextContent('Chunk size50')
    expect(p).toHaveTextContent('url: "https://api.example.com/u/{{item.id}}"')
  })

  it('says when no item has finished and no attempt reported', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: { ...batchJob, status: 'RUNNING', attempts: 1 } }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
      route('GET', `${JOB_PATH}/items`, { body: page([], { size: 50 }) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByText('No item has finished yet.')).toBeInTheDocument()
    expect(screen.getByText("No attempt has reported the batch's counts yet.")).toBeInTheDocument()
  })

  it('is not shown for other job types', async () => {
    const api = stubApi(route('GET', JOB_PATH, { body: job() }), route('GET', `${JOB_PATH}/executions`, { body: page([]) }))
    renderAt(`/jobs/${JOB_ID}`)
    await screen.findByRole('heading', { name: 'Payload' })
    expect(screen.queryByRole('heading', { name: 'Batch items' })).not.toBeInTheDocument()
    expect(api.calls.some((k) => k.path.endsWith('/items'))).toBe(false)
  })
})
