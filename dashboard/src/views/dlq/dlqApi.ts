// The dead-letter routes of the public API, as the DLQ views use them.
import { apiGet, apiSend } from '../../api/client'
import type { DeadLetter, DeadLetterAction, DeadLetterFilter, OperationAccepted, Page } from '../../api/types'

/** An entry's ID: the dead-lettered event's ID. */
export function entryId(d: DeadLetter): string {
  return typeof d.id === 'string' ? d.id : ''
}

/** The job's payload: top-level `payload`, or the `job.payload` the dlq keeps. */
export function entryPayload(d: DeadLetter): unknown {
  if (d.payload !== undefined && d.payload !== null) return d.payload
  const job = d.job as { payload?: unknown } | undefined
  return job?.payload ?? null
}

export interface DlqAttempt {
  attempt?: number
  dispatchedAt?: string
  finishedAt?: string
  durationMs?: number
  outcome?: string
  errorCode?: string | null
  error?: string | null
  [k: string]: unknown
}

export const FILTER_KEYS = ['status', 'jobType', 'errorCode', 'reason', 'traceId', 'from', 'to'] as const

/** The filter without empty fields (the bulk body's `filter`). */
export function cleanFilter(f: DeadLetterFilter): DeadLetterFilter {
  const out: DeadLetterFilter = {}
  for (const k of FILTER_KEYS) {
    const v = f[k]
    if (v) out[k] = v
  }
  return out
}

export function listDeadLetters(f: DeadLetterFilter, cursor: string | undefined, size: number, signal?: AbortSignal) {
  return apiGet<Page<DeadLetter>>('/api/dlq', { ...cleanFilter(f), cursor, size }, signal)
}

export function getDeadLetter(id: string, signal?: AbortSignal) {
  return apiGet<DeadLetter>(`/api/dlq/${encodeURIComponent(id)}`, undefined, signal)
}

export type DlqAction = 'retry' | 'dismiss'

export function actOnEntry(id: string, action: DlqAction) {
  return apiSend<DeadLetterAction>('POST', `/api/dlq/${encodeURIComponent(id)}/${action}`, {})
}

export type BulkBody = { ids: string[] } | { filter: DeadLetterFilter }

export function actInBulk(action: DlqAction, body: BulkBody) {
  return apiSend<OperationAccepted>('POST', `/api/dlq/${action}`, body)
}
