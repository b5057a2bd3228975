// A job's page: its whole life (submitted, dispatched, each attempt, its end),
// live until it ends; the retry timeline; every attempt's steps; the payload; and
// a cancel button while it is PENDING or RUNNING.
import { Fragment, useEffect, useRef, useState, type ReactNode } from 'react'
import { getRouteApi, Link } from '@tanstack/react-router'
import { useQueryClient } from '@tanstack/react-query'
import { ApiError } from '../../api/client'
import type { Job } from '../../api/types'
import { CopyButton } from '../../components/CopyButton'
import { StatusBadge } from '../../components/StatusBadge'
import { ErrorState, Loading } from '../../components/states'
import { CANCELLABLE, fmtFromNow, fmtSpan, fmtWhen, ms, TERMINAL } from './format'
import { deriveLife, eventLabel, eventTone, sortEvents, type LifeEvent } from './lifecycle'
import { historyUnavailable, jobKeys, useCancelJob, useExecutions, useHistory, useJob } from './queries'
import { usePollInterval } from '../../poll/poll'
import { useCan } from '../../auth/auth'
import { Executions } from './Executions'
import { RetryTimeline } from './RetryTimeline'
import { PayloadView } from './PayloadView'
import { BatchItems } from './BatchItems'
import { CallbackNote } from './CallbackNote'
import { TraceWaterfall } from './TraceWaterfall'
import './jobs.css'

const route = getRouteApi('/jobs/$jobId')

export function JobView() {
  const { jobId } = route.useParams()
  return <JobPage key={jobId} jobId={jobId} />
}

function JobPage({ jobId }: { jobId: string }) {
  const job = useJob(jobId)
  const executions = useExecutions(jobId, job.data)
  const history = useHistory(jobId, job.data)
  const canCancel = useCan('operator')
  const qc = useQueryClient()
  const interval = usePollInterval()
  const live = job.data !== undefined && !TERMINAL.has(job.data.status)
  const now = useNow(live ? interval : false)

  // When the job changes, its executions and history have news too.
  const updatedAt = job.data?.updatedAt
  const seen = useRef<string | undefined>(undefined)
  useEffect(() => {
    const before = seen.current
    seen.current = updatedAt
    if (!updatedAt || !before || before === updatedAt) return
    void qc.invalidateQueries({ queryKey: jobKeys.executions(jobId), exact: true })
    void qc.invalidateQueries({ queryKey: jobKeys.history(jobId), exact: true })
  }, [updatedAt, jobId, qc])

  if (job.isPending) return <Loading what="Loading the job" />
  if (job.isError && !job.data) {
    const notFound = job.error instanceof ApiError && (job.error.status === 404 || job.error.status === 400)
    return (
      <section>
        <BackLink />
        <h1>Job</h1>
        {notFound ? (
          <div className="state empty" role="alert">
            <strong>No such job.</strong> There is no job with the ID <code>{jobId}</code>.{' '}
            <Link to="/" search={{}}>
              Back to the jobs
            </Link>
          </div>
        ) : (
          <ErrorState error={job.error} retry={() => void job.refetch()} />
        )}
      </section>
    )
  }
  const j = job.data!
  const execs = executions.data?.content ?? []
  const noHistory = history.isError && historyUnavailable(history.error)
  const life: LifeEvent[] = history.data ? sortEvents(history.data.events) : deriveLife(j, execs)

  return (
    <section className="job-page" aria-labelledby="job-title">
      <BackLink />
      <header className="job-head">
        <h1 id="job-title">
          Job <StatusBadge status={j.status} />
          {live && (
            <span className="live-note" aria-hidden="true">
              live
            </span>
          )}
        </h1>
        <p className="job-id-line">
          <code className="job-id job-id-full" data-testid="job-id">
            {j.jobId}
          </code>{' '}
          <CopyButton text={j.jobId} what="job ID" />
        </p>
        <p className="visually-hidden" aria-live="polite">
          Status: {j.status}
        </p>
        {canCancel && CANCELLABLE.has(j.status) && <CancelJob jobId={j.jobId} />}
      </header>

      {j.status === 'WAITING' && <WaitingNote job={j} now={now} />}
      {j.status === 'WAITING' && j.callback && <CallbackNote callback={j.callback} now={now} />}

      <JobFacts job={j} />

      <h2 id="timeline-h">Retry timeline</h2>
      {executions.isError && !executions.data ? (
        <ErrorState error={executions.error} retry={() => void executions.refetch()} />
      ) : executions.isPending ? (
        <Loading what="Loading the attempts" />
      ) : (
        <RetryTimeline
          input={{ job: j, executions: execs, history: history.data?.events, now: Math.max(now, ms(j.updatedAt) ?? 0) }}
        />
      )}

      <div className="job-columns">
        <div>
          <h2>Lifecycle</h2>
          {noHistory && (
            <p className="jobs-note">This backend has no history route: the lifecycle is derived from the job and its executions.</p>
          )}
          <Lifecycle events={life} created={j.createdAt} />
        </div>
        <div>
          <h2>Execution history</h2>
          {executions.isError && !executions.data ? (
            <ErrorState error={executions.error} retry={() => void executions.refetch()} />
          ) : executions.isPending ? (
            <Loading what="Loading the attempts" />
          ) : execs.length === 0 ? (
            <p className="state empty">{live ? 'No attempt has finished yet.' : 'The job ran no attempt.'}</p>
          ) : (
            <Executions executions={execs} total={executions.data?.totalElements ?? execs.length} />
          )}
        </div>
      </div>

      {j.jobType === 'BATCH_PROCESS' && <BatchItems job={j} executions={execs} />}
      <h2>Trace</h2>
      <TraceWaterfall job={j} />

      <h2>Payload</h2>
      <PayloadView jobType={j.jobType} payload={j.payload} />
    </section>
  )
}

/** The current time, ticking while a running attempt's bar grows. */
function useNow(every: number | false): number {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    if (every === false) return
    setNow(Date.now())
    const t = setInterval(() => setNow(Date.now()), every)
    return () => clearInterval(t)
  }, [every])
  return now
}

function BackLink() {
  return (
    <p className="back">
      <Link to="/" search={{}}>
        ← All jobs
      </Link>
    </p>
  )
}

/** A parked job: waiting until its wake time, or for a callback when it has none. */
export function WaitingNote({ job: j, now }: { job: Job; now: number }) {
  return (
    <p className="waiting-note" data-testid="waiting-note">
      <StatusBadge status="WAITING" />{' '}
      {j.callback ? (
        <>
          Parked at a WAIT_FOR_CALLBACK step until its callback, or its timeout{' '}
          <time dateTime={j.callback.expiresAt}>{fmtWhen(j.callback.expiresAt)}</time>. It holds no worker meanwhile.
        </>
      ) : j.waitingUntil ? (
        <>
          Parked, waiting until <time dateTime={j.waitingUntil}>{fmtWhen(j.waitingUntil)}</time> ({fmtFromNow(j.waitingUntil, now)}). It holds
          no worker meanwhile; the scheduler wakes it when it is due.
        </>
      ) : (
        <>Parked, waiting for a callback. It holds no worker meanwhile.</>
      )}
    </p>
  )
}

function JobFacts({ job: j }: { job: Job }) {
  return (
    <dl className="job-facts">
      <div>
        <dt>Type</dt>
        <dd>{j.jobType}</dd>
      </div>
      <div className="trace">
        <dt>Trace ID</dt>
        <dd>
          <Link to="/" search={{ traceId: j.traceId }} title="Jobs with this trace ID">
            <code>{j.traceId}</code>
          </Link>
        </dd>
      </div>
      <div>
        <dt>Attempts</dt>
        <dd>
          {j.attempts} <span className="muted">(max retries {j.maxRetryCount})</span>
        </dd>
      </div>
      <div>
        <dt>Created</dt>
        <dd>
          <time dateTime={j.createdAt}>{fmtWhen(j.createdAt)}</time>
        </dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd>{j.startedAt ? <time dateTime={j.startedAt}>{fmtWhen(j.startedAt)}</time> : '—'}</dd>
      </div>
      <div>
        <dt>Finished</dt>
        <dd>{j.finishedAt ? <time dateTime={j.finishedAt}>{fmtWhen(j.finishedAt)}</time> : '—'}</dd>
      </div>
      <div>
        <dt>Updated</dt>
        <dd>
          <time dateTime={j.updatedAt}>{fmtWhen(j.updatedAt)}</time>
        </dd>
      </div>
      {j.status === 'PENDING' && j.nextRunAt && (
        <div>
          <dt>Next run</dt>
          <dd>
            <time dateTime={j.nextRunAt}>{fmtWhen(j.nextRunAt)}</time>
          </dd>
        </div>
      )}
      {(j.lastErrorCode || j.lastError) && (
        <div className="wide">
          <dt>Last error</dt>
          <dd>
            {j.lastErrorCode && <code>{j.lastErrorCode}</code>} <span className="error-text">{j.lastError}</span>
          </dd>
        </div>
      )}
    </dl>
  )
}

function CancelJob({ jobId }: { jobId: string }) {
  const [asking, setAsking] = useState(false)
  const cancel = useCancelJob(jobId)
  if (cancel.isSuccess) return null
  return (
    <div className="cancel-box">
      {!asking ? (
        <button type="button" className="danger" onClick={() => setAsking(true)}>
          Cancel job…
        </button>
      ) : (
        <div
          role="group"
          aria-labelledby="cancel-q"
          className="cancel-confirm"
          onKeyDown={(e) => {
            if (e.key === 'Escape' && !cancel.isPending) setAsking(false)
          }}
        >
          <span id="cancel-q">Cancel this job? A running attempt's result will be ignored.</span>
          <button
            type="button"
            className="danger"
            disabled={cancel.isPending}
            onClick={() => cancel.mutate(undefined, { onSettled: () => setAsking(false) })}
          >
            {cancel.isPending ? 'Cancelling…' : 'Yes, cancel it'}
          </button>
          <button type="button" autoFocus onClick={() => setAsking(false)} disabled={cancel.isPending}>
            Keep it
          </button>
        </div>
      )}
      {cancel.isError && <ErrorState error={cancel.error} />}
    </div>
  )
}

function Lifecycle({ events, created }: { events: LifeEvent[]; created: string }) {
  const t0 = ms(created) ?? 0
  if (events.length === 0) return <p className="state empty">No events yet.</p>
  return (
    <ol className="lifecycle">
      {events.map((e, i) => {
        const t = ms(e.at)
        return (
          <li key={i} data-event={e.type}>
            <span className={`badge badge-${eventTone(e.type)}`}>{eventLabel(e.type)}</span>
            {e.attempt !== undefined && <span className="muted"> attempt {e.attempt}</span>}
            <span className="muted">
              {' '}
              · <time dateTime={e.at}>{fmtWhen(e.at)}</time>
              {t !== null && t > t0 && ` (+${fmtSpan(t - t0)})`}
              {e.approx && ' (approximately)'}
            </span>
            <EventDetail e={e} />
          </li>
        )
      })}
    </ol>
  )
}

/** What an event says beyond its type: error, caller, dead letter, next run; parts separated by dots. */
function EventDetail({ e }: { e: LifeEvent }) {
  const parts: ReactNode[] = []
  if (e.errorCode || e.message)
    parts.push(
      <span key="err">
        {e.errorCode && <code>{e.errorCode}</code>} {e.message}
      </span>,
    )
  if (e.by) parts.push(<span key="by">by {e.by}</span>)
  if (e.dlqId)
    parts.push(
      <span key="dlq">
        dead letter{' '}
        <Link to="/dlq/$dlqId" params={{ dlqId: e.dlqId }}>
          <code>…{e.dlqId.slice(-12)}</code>
        </Link>
      </span>,
    )
  if (e.nextRunAt)
    parts.push(
      <span key="next">
        next attempt at <time dateTime={e.nextRunAt}>{fmtWhen(e.nextRunAt)}</time>
      </span>,
    )
  if (parts.length === 0) return null
  return (
    <div className="event-detail">
      {parts.map((p, i) => (
        <Fragment key={i}>
          {i > 0 && ' · '}
          {p}
        </Fragment>
      ))}
    </div>
  )
}
