import { screen, waitFor, within } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { EXECUTIONS, HISTORY, JOB_ID, execution, job } from './fixtures'
import { apiError, page, renderAt, route, stubApi } from './testing'

afterEach(() => vi.unstubAllGlobals())

const JOB_PATH = `/api/jobs/${JOB_ID}`

describe('JobView', () => {
  it('shows the job, every attempt with its steps, the payload and the timeline (no history route: derived)', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: job() }),
      route('GET', `${JOB_PATH}/executions`, { body: page(EXECUTIONS) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByTestId('job-id')).toHaveTextContent(JOB_ID)
    expect(screen.getByRole('button', { name: 'Copy job ID' })).toBeInTheDocument()
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('COMPLETED')
    expect(screen.queryByRole('button', { name: /Cancel job/ })).not.toBeInTheDocument()

    // Execution history: newest first, each step's outcome, duration and error.
    const attempts = await screen.findAllByText(/^Attempt \d$/)
    expect(attempts.map((a) => a.textContent)).toEqual(['Attempt 3', 'Attempt 2', 'Attempt 1'])
    const steps1 = screen.getByRole('table', { name: 'Steps of attempt 1' })
    const failRow = within(steps1).getAllByRole('row')[3]
    expect(failRow).toHaveTextContent('FAIL')
    expect(failRow).toHaveTextContent('FAILED')
    expect(failRow).toHaveTextContent('step failed: flaky')
    expect(within(steps1).getAllByRole('row')[2]).toHaveTextContent('200 ms')

    // Payload steps.
    const payload = screen.getByRole('table', { name: 'Payload steps' })
    expect(within(payload).getAllByRole('row')).toHaveLength(4)
    expect(payload).toHaveTextContent('failTimes: 2')

    // Lifecycle derived from the job and its executions.
    expect(await screen.findByText(/no history route/)).toBeInTheDocument()
    const life = document.querySelectorAll('.lifecycle li')
    expect([...life].map((li) => li.getAttribute('data-event'))).toEqual([
      'SUBMITTED',
      'STARTED',
      'ATTEMPT_FAILED',
      'STARTED',
      'ATTEMPT_FAILED',
      'STARTED',
      'ATTEMPT_COMPLETED',
      'COMPLETED',
    ])

    // The timeline: an accessible SVG with one bar per attempt, backoffs to scale.
    const svg = screen.getByRole('img', { name: /Retry timeline: 3 attempts/ })
    expect(svg.querySelectorAll('[data-attempt]')).toHaveLength(3)
    const gaps = [...svg.querySelectorAll('[data-kind="backoff"]')].map((g) => Number(g.getAttribute('data-width')))
    expect(gaps).toHaveLength(2)
    expect(gaps[1] / gaps[0]).toBeCloseTo(2, 1)
    expect(svg.querySelector('desc')).toHaveTextContent('Waited 1.0 s')
    expect(screen.getByText('The timeline as text')).toBeInTheDocument()
  })

  it('uses the history when there is one: dispatches, a dead letter and a manual retry', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: job() }),
      route('GET', `${JOB_PATH}/executions`, { body: page(EXECUTIONS) }),
      route('GET', `${JOB_PATH}/history`, { body: { jobId: JOB_ID, events: HISTORY } }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    await waitFor(() => expect(document.querySelectorAll('.lifecycle li[data-event="MANUAL_RETRY"]')).toHaveLength(1))
    expect(screen.queryByText(/no history route/)).not.toBeInTheDocument()
    const manual = document.querySelector('.lifecycle li[data-event="MANUAL_RETRY"]')!
    expect(manual).toHaveTextContent('by anonymous')
    expect(within(manual as HTMLElement).getByRole('link')).toHaveAttribute('href', '/dlq/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b')
    expect(document.querySelector('.lifecycle li[data-event="DISPATCHED"]')).toBeInTheDocument()
    const svg = screen.getByRole('img', { name: /Retry timeline/ })
    expect(svg.querySelector('[data-marker="MANUAL_RETRY"]')).toBeInTheDocument()
    expect(svg.querySelector('[data-kind="manual"]')).toHaveAttribute('data-gap-ms', '2000')
  })

  it('cancels a PENDING job after confirmation', async () => {
    let status: 'PENDING' | 'CANCELLED' = 'PENDING'
    const { calls } = stubApi(
      route('GET', JOB_PATH, () => ({ body: job({ status, attempts: 0, startedAt: null, finishedAt: null }) })),
      route('DELETE', JOB_PATH, () => {
        status = 'CANCELLED'
        return { body: job({ status, attempts: 0 }) }
      }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    await userEvent.click(await screen.findByRole('button', { name: 'Cancel job…' }))
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)
    // The safe choice has the focus; Escape backs out too.
    expect(screen.getByRole('button', { name: 'Keep it' })).toHaveFocus()
    await userEvent.keyboard('{Escape}')
    expect(screen.queryByRole('button', { name: 'Yes, cancel it' })).not.toBeInTheDocument()
    await userEvent.click(screen.getByRole('button', { name: 'Cancel job…' }))
    await userEvent.click(screen.getByRole('button', { name: 'Keep it' }))
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false)
    await userEvent.click(screen.getByRole('button', { name: 'Cancel job…' }))
    await userEvent.click(screen.getByRole('button', { name: 'Yes, cancel it' }))
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('CANCELLED'))
    expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(1)
    expect(screen.queryByRole('button', { name: /Cancel job/ })).not.toBeInTheDocument()
  })

  it('shows why a cancel was refused', async () => {
    stubApi(
      route('GET', JOB_PATH, { body: job({ status: 'RUNNING', attempts: 1, finishedAt: null }) }),
      route('DELETE', JOB_PATH, { status: 409, body: apiError(409, 'API.JOB_NOT_CANCELLABLE', 'job is COMPLETED') }),
      route('GET', `${JOB_PATH}/executions`, { body: page([]) }),
    )
    renderAt(`/jobs/${JOB_ID}`)
    await userEvent.click(await screen.findByRole('button', { name: 'Cancel job…' }))
    await userEvent.click(screen.getByRole('button', { name: 'Yes, cancel it' }))
    const alert = await screen.findByRole('alert')
    expect(alert).toHaveTextContent('API.JOB_NOT_CANCELLABLE')
    expect(alert).toHaveTextContent('job is COMPLETED')
  })

  it('follows a running job live until it ends', async () => {
    localStorage.setItem('jobweaver.poll', JSON.stringify({ intervalMs: 1000, paused: false }))
    let polls = 0
    stubApi(
      route('GET', JOB_PATH, () =>
        polls++ < 1
          ? { body: job({ status: 'RUNNING', attempts: 1, finishedAt: null, updatedAt: '2026-12-04T21:11:56.100Z' }) }
          : { body: job({ status: 'COMPLETED', attempts: 1 }) },
      ),
      route('GET', `${JOB_PATH}/executions`, () => ({ body: page(polls > 1 ? [execution(1, 100, 200, false)] : []) })),
    )
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByText('No attempt has finished yet.')).toBeInTheDocument()
    expect(screen.getByRole('img', { name: /Retry timeline: 1 attempt/ }).querySelector('[data-outcome="RUNNING"]')).toBeInTheDocument()
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('COMPLETED'), { timeout: 15_000 })
    await waitFor(() => expect(screen.getAllByText(/^Attempt 1$/).length).toBeGreaterThan(0), { timeout: 15_000 })
    expect(document.querySelector('[data-outcome="COMPLETED"]')).toBeInTheDocument()
  })

  it('says so when the job does not exist', async () => {
    stubApi(route('GET', JOB_PATH, { status: 404, body: apiError(404, 'API.JOB_NOT_FOUND', `no job with id ${JOB_ID}`) }))
    renderAt(`/jobs/${JOB_ID}`)
    expect(await screen.findByText('No such job.')).toBeInTheDocument()
    expect(screen.getByRole('link', { name: 'Back to the jobs' })).toHaveAttribute('href', '/')
  })

  it('shows a server error with its code', async () => {
    stubApi(route('GET', JOB_PATH, { status: 503, body: apiError(503, 'API.SCHEDULER_UNAVAILABLE', 'the scheduler cannot be reached') }))
    renderAt(`/jobs/${JOB_ID}`)
    // A 5xx is tried once more before the page gives up.
    const alert = await screen.findByRole('alert', {}, { timeout: 15_000 })
    expect(alert).toHaveTextContent('API.SCHEDULER_UNAVAILABLE')
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument()
  })
})
