// The live progress of a bulk operation (GET /api/operations/{id}), polled
// until it is COMPLETED or FAILED: a progress bar of done and failed over total.
import { useEffect } from 'react'
import { useQuery } from '@tanstack/react-query'
import { ApiError, apiGet } from '../api/client'
import type { Operation } from '../api/types'
import { describeProblem, isMissingRoute } from './apiProblem'
import { fmtTime } from './time'

const KIND_LABEL: Record<string, string> = { DLQ_RETRY: 'Retry', DLQ_DISMISS: 'Dismiss' }

function gone(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 404 || isMissingRoute(err))
}

export function isFinished(op: Operation | undefined): boolean {
  return op?.status === 'COMPLETED' || op?.status === 'FAILED'
}

export function OperationProgress({
  operationId,
  onFinished,
  onClose,
  intervalMs = 1000,
}: {
  operationId: string
  onFinished?: (op: Operation) => void
  onClose?: () => void
  intervalMs?: number
}) {
  const q = useQuery({
    queryKey: ['operation', operationId],
    queryFn: ({ signal }) => apiGet<Operation>(`/api/operations/${encodeURIComponent(operationId)}`, undefined, signal),
    // Until it ends; an operation the API does not know (404) will not appear later.
    refetchInterval: (query) => (isFinished(query.state.data) || gone(query.state.error) ? false : intervalMs),
    placeholderData: undefined,
  })
  const op = q.data
  const finished = isFinished(op)
  useEffect(() => {
    if (op && finished) onFinished?.(op)
    // Only when it turns finished.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [finished])

  const kind = op ? (KIND_LABEL[op.kind] ?? op.kind) : 'Bulk action'
  const total = op?.total ?? 0
  const processed = op ? op.done + op.failed : 0
  const pct = total > 0 ? Math.min(100, Math.round((processed / total) * 100)) : finished ? 100 : 0
  return (
    <section className="operation" aria-label={`${kind} progress`}>
      <div className="operation-head">
        <strong>{kind}</strong>
        {op && <span className={`badge badge-${op.status.toLowerCase()}`}>{op.status}</span>}
        <code className="op-id" title={operationId}>
          operation …{operationId.slice(-12)}
        </code>
        {onClose && (finished || q.isError) && (
          <button type="button" onClick={onClose}>
            Close
          </button>
        )}
      </div>
      {q.isError && !op && <p className="state error" role="alert">{describeProblem(q.error, 'Operation progress')}</p>}
      {!op && !q.isError && <p role="status">Starting…</p>}
      {op && (
        <>
          <div
            className="progress"
            role="progressbar"
            aria-label={`${kind} progress`}
            aria-valuemin={0}
            aria-valuemax={total}
            aria-valuenow={processed}
            aria-valuetext={`${processed} of ${total}`}
          >
            <span className="progress-done" style={{ width: total ? `${(op.done / total) * 100}%` : finished ? '100%' : '0%' }} />
            <span className="progress-failed" style={{ width: total ? `${(op.failed / total) * 100}%` : '0%' }} />
          </div>
          <p className="operation-counts" aria-live="polite">
            {op.done} done, {op.failed} failed of {total} ({pct}%)
            {op.finishedAt ? ` · finished ${fmtTime(op.finishedAt)}` : ` · started ${fmtTime(op.startedAt)}`}
          </p>
        </>
      )}
    </section>
  )
}
