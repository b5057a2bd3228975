import { describe, expect, it } from 'vitest'
import { at, EXECUTIONS, execution, job } from './fixtures'
import { deriveLife, sortEvents } from './lifecycle'

describe('deriveLife (no history route)', () => {
  it('turns a finished job and its executions into its life, oldest first', () => {
    const life = deriveLife(job(), [...EXECUTIONS].reverse())
    expect(life.map((e) => `${e.type}${e.attempt ? ` ${e.attempt}` : ''}`)).toEqual([
      'SUBMITTED',
      'STARTED 1',
      'ATTEMPT_FAILED 1',
      'STARTED 2',
      'ATTEMPT_FAILED 2',
      'STARTED 3',
      'ATTEMPT_COMPLETED 3',
      'COMPLETED',
    ])
    expect(life[2]).toMatchObject({ errorCode: 'WORKER.STEP_FAILED', message: 'step 2 (FAIL) failed: step failed: flaky' })
  })

  it('shows a retry waiting for its backoff, and a running attempt approximately', () => {
    const pending = deriveLife(job({ status: 'PENDING', attempts: 1, nextRunAt: at(1300), finishedAt: null }), [execution(1, 100, 200, true)])
    expect(pending[pending.length - 1]).toMatchObject({ type: 'RETRY_SCHEDULED', attempt: 2, nextRunAt: at(1300) })

    const running = deriveLife(job({ status: 'RUNNING', attempts: 2, finishedAt: null, updatedAt: at(1300) }), [execution(1, 100, 200, true)])
    expect(running[running.length - 1]).toMatchObject({ type: 'STARTED', attempt: 2, approx: true, at: at(1300) })
  })

  it('shows the first attempt of a job cancelled while it ran', () => {
    const life = deriveLife(job({ status: 'CANCELLED', attempts: 1, startedAt: at(100), finishedAt: at(900) }), [])
    expect(life.map((e) => e.type)).toEqual(['SUBMITTED', 'STARTED', 'CANCELLED'])
    expect(life[1]).toMatchObject({ at: at(100), attempt: 1 })
    expect(life[1].approx).toBeUndefined()
  })

  it('ends a failed job with its last error', () => {
    const life = deriveLife(job({ status: 'FAILED', attempts: 1, finishedAt: at(300) }), [execution(1, 100, 200, true)])
    expect(life[life.length - 1]).toMatchObject({ type: 'FAILED', errorCode: 'WORKER.STEP_FAILED' })
  })

  it('keeps the order of same-instant events', () => {
    const ev = sortEvents([
      { at: at(5), type: 'ATTEMPT_FAILED' },
      { at: at(5), type: 'FAILED' },
      { at: at(1), type: 'SUBMITTED' },
    ])
    expect(ev.map((e) => e.type)).toEqual(['SUBMITTED', 'ATTEMPT_FAILED', 'FAILED'])
  })
})
