import { screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { apiError, renderAt, stubApi } from '../../test/renderOps'
import type { DeadLetter } from '../../api/types'

const ID = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'
const JOB = '0193a1b2-1111-7e5f-8a9b-aaaabbbbcccc'

function entry(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: ID,
    jobId: JOB,
    traceId: 'trace-1',
    jobType: 'SIMULATION',
    reason: 'RETRIES_EXHAUSTED',
    status: 'NEW',
    errorCode: 'WORKER.STEP_FAILED',
    lastError: 'step 0 (FAIL) failed: boom 2',
    job: { jobType: 'SIMULATION', payload: { steps: [{ action: 'FAIL', message: 'boom' }] }, maxRetryCount: 1 },
    attempts: [
      { attempt: 1, outcome: 'FAILED', errorCode: 'WORKER.STEP_FAILED', error: 'first error', durationMs: 3 },
      { attempt: 2, outcome: 'FAILED', errorCode: 'WORKER.STEP_TIMEOUT', error: 'second error', durationMs: 4 },
    ],
    failedAt: '2026-12-04T20:00:00Z',
    ...over,
  } as DeadLetter
}

const job = (status: string) => ({ body: { jobId: JOB, status, jobType: 'SIMULATION', attempts: 2 } })

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('DlqEntryView', () => {
  it('shows every attempt, the payload and a link to the job', async () => {
    stubApi({ [`GET /api/dlq/${ID}`]: { body: entry() }, [`GET /api/jobs/${JOB}`]: job('FAILED') })
    renderAt(`/dlq/${ID}`)
    expect(await screen.findByText('first error')).toBeInTheDocument()
    expect(screen.getByText('second error')).toBeInTheDocument()
    expect(screen.getByText('WORKER.STEP_TIMEOUT')).toBeInTheDocument()
    expect(screen.getByLabelText('Payload (JSON)')).toHaveTextContent('"message": "boom"')
    expect(screen.getByRole('link', { name: JOB })).toHaveAttribute('href', `/jobs/${JOB}`)
    expect(screen.getByText('Attempts (2)')).toBeInTheDocument()
  })

  it('retries after a confirmation and shows the job going on', async () => {
    const api = stubApi({
      [`GET /api/dlq/${ID}`]: [{ body: entry() }, { body: entry({ status: 'RETRIED', resolvedAt: '2026-12-04T20:01:00Z', resolvedBy: 'anonymous' }) }],
      [`GET /api/jobs/${JOB}`]: [job('FAILED'), job('COMPLETED')],
      [`POST /api/dlq/${ID}/retry`]: { status: 202, body: { dlqId: ID, jobId: JOB, status: 'RETRIED' } },
    })
    renderAt(`/dlq/${ID}`)
    const user = userEvent.setup()
    await user.click(await screen.findByRole('button', { name: 'Retry' }))
    await user.click(screen.getByRole('button', { name: 'Retry the job' }))
    await waitFor(() => expect(api.sent(`POST /api/dlq/${ID}/retry`)).toHaveLength(1))
    expect(await screen.findByText('Retried: the job is queued to run again.')).toBeInTheDocument()
    expect(await screen.findByText(/by anonymous/)).toBeInTheDocument()
    expect(await screen.findByText('COMPLETED')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Retry' })).toBeDisabled()
  })

  it('shows a 409 clearly', async () => {
    stubApi({
      [`GET /api/dlq/${ID}`]: { body: entry() },
      [`GET /api/jobs/${JOB}`]: job('FAILED'),
      [`POST /api/dlq/${ID}/dismiss`]: apiError(409, 'API.DLQ_ENTRY_NOT_NEW', 'dead-letter entry is already RETRIED'),
    })
    renderAt(`/dlq/${ID}`)
    const user = userEvent.setup()
    await user.click(await screen.findByRole('button', { name: 'Dismiss' }))
    await user.click(screen.getByRole('button', { name: 'Dismiss the entry' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('dead-letter entry is already RETRIED (API.DLQ_ENTRY_NOT_NEW)')
  })

  it('offers only Dismiss for an entry with no job behind it', async () => {
    stubApi({ [`GET /api/dlq/${ID}`]: { body: entry({ jobId: null, reason: 'POISON_RECORD' }) } })
    renderAt(`/dlq/${ID}`)
    expect(await screen.findByRole('button', { name: 'Retry' })).toBeDisabled()
    expect(screen.getByRole('button', { name: 'Dismiss' })).toBeEnabled()
  })

  it('says when the entry does not exist', async () => {
    stubApi({ [`GET /api/dlq/${ID}`]: apiError(404, 'API.DLQ_ENTRY_NOT_FOUND', `no dead-letter entry with id ${ID}`) })
    renderAt(`/dlq/${ID}`)
    expect(await screen.findByRole('alert')).toHaveTextContent('API.DLQ_ENTRY_NOT_FOUND')
  })
})
