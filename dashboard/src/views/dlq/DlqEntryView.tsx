// One dead-letter entry: what failed (reason, code, every attempt's error), the
// job's payload, how it was resolved, and Retry / Dismiss. The job behind it is
// shown live, so a retry can be watched to its end.
import { useState } from 'react'
import { Link, useParams } from '@tanstack/react-router'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet } from '../../api/client'
import type { DeadLetterAction, Job } from '../../api/types'
import { usePollInterval } from '../../poll/poll'
import { useCan } from '../../auth/auth'
import { JobId } from '../../components/JobId'
import { StatusBadge } from '../../components/StatusBadge'
import { ErrorState, Loading } from '../../components/states'
import { ProblemNote } from '../../components/ProblemNote'
import { describeProblem } from '../../components/apiProblem'
import { Confirm } from '../../components/Confirm'
import { fmtDuration, fmtTime } from '../../components/time'
import { actOnEntry, entryPayload, getDeadLetter, type DlqAction, type DlqAttempt } from './dlqApi'

const RETRYABLE_REASONS = new Set(['RETRIES_EXHAUSTED', 'PERMANENT_FAILURE'])

export function DlqEntryView() {
  const { dlqId } = useParams({ from: '/dlq/$dlqId' })
  const poll = usePollInterval()
  const qc = useQueryClient()
  const [confirming, setConfirming] = useState<DlqAction | null>(null)
  const [done, setDone] = useState<DeadLetterAction | null>(null)
  const canAct = useCan('operator')

  const entry = useQuery({
    queryKey: ['dlq', 'entry', dlqId],
    queryFn: ({ signal }) => getDeadLetter(dlqId, signal),
    refetchInterval: poll,
  })
  const d = entry.data
  const jobId = d?.jobId ?? null
  const job = useQuery({
    queryKey: ['job', jobId],
    queryFn: ({ signal }) => apiGet<Job>(`/api/jobs/${encodeURIComponent(jobId!)}`, undefined, signal),
    enabled: Boolean(jobId),
    refetchInterval: poll,
  })

  const act = useMutation({
    mutationFn: (action: DlqAction) => actOnEntry(dlqId, action),
    onSuccess: (res) => {
      setConfirming(null)
      setDone(res)
      void qc.invalidateQueries({ queryKey: ['dlq'] })
      if (jobId) void qc.invalidateQueries({ queryKey: ['job', jobId] })
    },
    onError: () => setConfirming(null),
  })

  if (entry.isPending) return <Loading what="Loading the dead letter" />
  if (!d) {
    return (
      <section>
        <p>
          <Link to="/dlq">← Dead letters</Link>
        </p>
        <h1>Dead letter</h1>
        <ErrorState error={describeProblem(entry.error, 'This dead letter')} retry={() => void entry.refetch()} />
      </section>
    )
  }

  const status = d.status ?? 'NEW'
  const isNew = status === 'NEW'
  const retryable = Boolean(d.jobId) && RETRYABLE_REASONS.has(d.reason)
  const attempts = (d.attempts ?? []) as DlqAttempt[]
  const payload = entryPayload(d)
  const retriedAttempt = d.retriedJobAttempt as number | undefined

  return (
    <section className="dlq-entry">
      <p>
        <Link to="/dlq">← Dead letters</Link>
      </p>
      <h1>
        Dead letter <code className="job-id" title={dlqId}>…{dlqId.slice(-12)}</code> <StatusBadge status={status} />
      </h1>
      {entry.isError && <ProblemNote error={entry.error} what="Refreshing this entry" />}

      {canAct && (
        <div className="actions entry-actions">
          <button
            type="button"
            className="primary"
            disabled={!isNew || !retryable || act.isPending}
            onClick={() => setConfirming('retry')}
            title={!retryable ? 'No job behind this entry to run again' : !isNew ? `Already ${status}` : undefined}
          >
            Retry
          </button>
          <button type="button" className="danger" disabled={!isNew || act.isPending} onClick={() => setConfirming('dismiss')}>
            Dismiss
          </button>
          {!isNew && <span className="muted">This entry is {status}; only NEW entries can be retried or dismissed.</span>}
          {isNew && !retryable && <span className="muted">No job behind this entry ({d.reason}): it can only be dismissed.</span>}
        </div>
      )}
      {confirming && (
        <Confirm
          confirmLabel={confirming === 'retry' ? 'Retry the job' : 'Dismiss the entry'}
          danger={confirming === 'dismiss'}
          busy={act.isPending}
          onCancel={() => setConfirming(null)}
          onConfirm={() => act.mutate(confirming)}
        >
          {confirming === 'retry'
            ? 'Run the job again under its same job ID, with a fresh retry budget?'
            : 'Dismiss this entry? It is kept for audit until retention removes it.'}
        </Confirm>
      )}
      {act.isError && <ProblemNote error={act.error} what={act.variables === 'dismiss' ? 'Dismiss (POST /api/dlq/{id}/dismiss)' : 'Retry (POST /api/dlq/{id}/retry)'} />}
      {done && (
        <p className="state ok" role="status">
          {done.status === 'RETRIED' ? 'Retried: the job is queued to run again.' : `Entry ${done.status.toLowerCase()}.`}
        </p>
      )}

      <dl className="facts">
        <dt>Job</dt>
        <dd>
          {d.jobId ? (
            <>
              <Link to="/jobs/$jobId" params={{ jobId: d.jobId }}>
                <JobId id={d.jobId} full />
              </Link>{' '}
              {job.data && (
                <span>
                  now <StatusBadge status={job.data.status} />
                </span>
              )}
            </>
          ) : (
            '—'
          )}
        </dd>
        <dt>Job type</dt>
        <dd>{d.jobType ?? '—'}</dd>
        <dt>Reason</dt>
        <dd>
          <code>{d.reason}</code>
        </dd>
        <dt>Error code</dt>
        <dd>{d.errorCode ? <code>{d.errorCode}</code> : '—'}</dd>
        <dt>Last error</dt>
        <dd className="pre-wrap">{d.lastError ?? '—'}</dd>
        <dt>Trace ID</dt>
        <dd>
          <Link to="/dlq" search={{ traceId: d.traceId }}>
            <code>{d.traceId}</code>
          </Link>
        </dd>
        <dt>Failed at</dt>
        <dd>{fmtTime(d.failedAt)}</dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={status} />
        </dd>
        <dt>Resolved</dt>
        <dd>
          {d.resolvedAt ? (
            <>
              {fmtTime(d.resolvedAt)} by {d.resolvedBy ?? 'unknown'}
              {retriedAttempt ? ` (job attempt ${retriedAttempt})` : ''}
            </>
          ) : (
            'not yet'
          )}
        </dd>
      </dl>

      <h2>Attempts ({attempts.length})</h2>
      {attempts.length === 0 ? (
        <p className="state empty">No attempts are recorded on this entry.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Outcome</th>
                <th scope="col" className="hide-narrow">
                  Dispatched
                </th>
                <th scope="col" className="hide-narrow">
                  Duration
                </th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a, i) => (
                <tr key={i}>
                  <td>{a.attempt ?? i + 1}</td>
                  <td>{a.outcome ? <StatusBadge status={a.outcome} /> : '—'}</td>
                  <td className="hide-narrow">{fmtTime(a.dispatchedAt)}</td>
                  <td className="hide-narrow">{fmtDuration(a.durationMs)}</td>
                  <td>
                    {a.errorCode && <code>{a.errorCode}</code>}
                    {a.error && <div className="pre-wrap">{a.error}</div>}
                    {!a.errorCode && !a.error && '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2>Payload</h2>
      {payload === null ? (
        <p className="state empty">No payload is kept on this entry.</p>
      ) : (
        <pre className="json" tabIndex={0} aria-label="Payload (JSON)">
          {JSON.stringify(payload, null, 2)}
        </pre>
      )}
      <details>
        <summary>The whole entry (JSON)</summary>
        <pre className="json" tabIndex={0}>
          {JSON.stringify(d, null, 2)}
        </pre>
      </details>
    </section>
  )
}
