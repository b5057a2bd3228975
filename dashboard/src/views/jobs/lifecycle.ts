// A job's whole life as a list of events, oldest first: from GET
// /api/jobs/{id}/history when the backend has it, otherwise derived from the job
// and its executions (which know submission, each attempt and the end, but not
// dispatches or manual retries).
import type { Execution, HistoryEvent, Job } from '../../api/types'
import { ms, TERMINAL } from './format'

export interface LifeEvent extends HistoryEvent {
  /** True when the time is a stand-in (derived without history). */
  approx?: boolean
}

export function deriveLife(job: Job, executions: Execution[]): LifeEvent[] {
  const out: LifeEvent[] = [{ at: job.createdAt, type: 'SUBMITTED' }]
  const execs = [...executions].sort((a, b) => a.attempt - b.attempt)
  for (const e of execs) {
    out.push({ at: e.startedAt, type: 'STARTED', attempt: e.attempt })
    out.push(
      e.status === 'COMPLETED'
        ? { at: e.finishedAt, type: 'ATTEMPT_COMPLETED', attempt: e.attempt }
        : {
            at: e.finishedAt,
            type: 'ATTEMPT_FAILED',
            attempt: e.attempt,
            errorCode: e.errorCode ?? undefined,
            message: e.error ?? undefined,
          },
    )
  }
  const last = execs[execs.length - 1]
  const open = openAttemptStart(job, last?.attempt ?? 0)
  if (open) out.push({ at: open.at, type: 'STARTED', attempt: job.attempts, approx: open.approx || undefined })
  if (job.status === 'PENDING' && job.nextRunAt && last && last.status === 'FAILED') {
    out.push({ at: last.finishedAt, type: 'RETRY_SCHEDULED', attempt: last.attempt + 1, nextRunAt: job.nextRunAt })
  }
  if (TERMINAL.has(job.status)) {
    const end = job.finishedAt ?? job.updatedAt
    // Never before the last attempt's end (clocks of different services).
    const at = last && (ms(last.finishedAt) ?? 0) > (ms(end) ?? 0) ? last.finishedAt : end
    out.push({
      at,
      type: job.status as LifeEvent['type'],
      errorCode: job.status === 'FAILED' ? (job.lastErrorCode ?? undefined) : undefined,
      message: job.status === 'FAILED' ? (job.lastError ?? undefined) : undefined,
    })
  }
  return sortEvents(out)
}

/**
 * Without history: when the job's latest attempt, which has no execution yet
 * (running, or cut short by a cancel), began. The first attempt began at the
 * job's startedAt; a later running one at about its last update (its dispatch).
 */
export function openAttemptStart(
  job: Pick<Job, 'status' | 'attempts' | 'startedAt' | 'updatedAt'>,
  lastExecuted: number,
): { at: string; approx: boolean } | null {
  if (job.attempts <= lastExecuted || job.status === 'PENDING') return null
  if (job.attempts === 1 && job.startedAt) return { at: job.startedAt, approx: false }
  if (job.status === 'RUNNING') return { at: job.updatedAt, approx: true }
  return null
}

/** Oldest first; a stable sort, so same-instant events keep their causal order. */
export function sortEvents<T extends { at: string }>(events: T[]): T[] {
  return events
    .map((e, i) => ({ e, i, t: ms(e.at) ?? 0 }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((x) => x.e)
}

const LABELS: Record<string, string> = {
  SUBMITTED: 'Submitted',
  DISPATCHED: 'Dispatched',
  STARTED: 'Running',
  ATTEMPT_COMPLETED: 'Attempt succeeded',
  ATTEMPT_FAILED: 'Attempt failed',
  LEASE_EXPIRED: 'Lease expired',
  RETRY_SCHEDULED: 'Retry scheduled',
  DEAD_LETTERED: 'Dead-lettered',
  MANUAL_RETRY: 'Manual retry',
  ATTEMPT_YIELDED: 'Yielded at the deadline (not charged)',
  PARKED: 'Parked',
  CANCELLED: 'Cancelled',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
}

export function eventLabel(type: string): string {
  return LABELS[type] ?? type
}

/** The badge colour class for an event type. */
export function eventTone(type: string): string {
  switch (type) {
    case 'ATTEMPT_COMPLETED':
    case 'COMPLETED':
      return 'completed'
    case 'ATTEMPT_FAILED':
    case 'FAILED':
    case 'DEAD_LETTERED':
      return 'failed'
    case 'LEASE_EXPIRED':
    case 'RETRY_SCHEDULED':
    case 'MANUAL_RETRY':
    case 'ATTEMPT_YIELDED':
      return 'pending'
    case 'PARKED':
      return 'waiting'
    case 'CANCELLED':
      return 'cancelled'
    default:
      return 'running'
  }
}
