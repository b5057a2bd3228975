// The home page: the latest jobs with their live status, filtered by status,
// type, trace ID and creation time (all in the URL, so a view can be shared), and
// paged by cursor (Newer/Older) so a list of any length renders one page at a time.
import { useEffect, useId, useState, type FormEvent } from 'react'
import { getRouteApi, Link, useNavigate } from '@tanstack/react-router'
import { useQueryClient } from '@tanstack/react-query'
import { JOB_STATUSES, JOB_TYPES, type JobSummary, type Page } from '../../api/types'
import { JobId } from '../../components/JobId'
import { StatusBadge } from '../../components/StatusBadge'
import { Empty, ErrorState, Loading } from '../../components/states'
import { fmtWhen } from './format'
import { fetchJobs, jobKeys, useJobs } from './queries'
import {
  DEFAULT_SIZE,
  fromLocalInput,
  hasFilters,
  isJobId,
  jobsSearch,
  PAGE_SIZES,
  toLocalInput,
  type JobsSearch,
} from './search'
import { useCan } from '../../auth/auth'
import './jobs.css'

export { jobsSearch }
export type { JobsSearch }

const route = getRouteApi('/')

/**
 * Where each cursor page sits: the cursor of the page before it and its index.
 * Kept for the session, so Newer works after a visit to a job page; a page opened
 * from a link (no entry) goes Newer to the newest page.
 */
const pages = new Map<string, { prev?: string; index: number }>()

export function JobsView() {
  const search = route.useSearch()
  const navigate = useNavigate({ from: '/' })
  const qc = useQueryClient()
  const q = useJobs(search)
  const canSubmit = useCan('operator')
  const size = search.size ?? DEFAULT_SIZE
  const here = search.cursor ? pages.get(search.cursor) : { index: 0 }

  const setFilters = (patch: Partial<JobsSearch>, replace = false) =>
    void navigate({ search: (prev) => ({ ...prev, ...patch, cursor: undefined }), replace })

  const older = (data: Page<JobSummary>) => {
    if (!data.nextCursor) return
    if (here) pages.set(data.nextCursor, { prev: search.cursor, index: here.index + 1 })
    void navigate({ search: (prev) => ({ ...prev, cursor: data.nextCursor }) })
  }
  const newer = () => void navigate({ search: (prev) => ({ ...prev, cursor: here?.prev }) })
  const newest = () => void navigate({ search: (prev) => ({ ...prev, cursor: undefined }) })
  const prefetchOlder = (data: Page<JobSummary> | undefined) => {
    if (!data?.nextCursor) return
    const next = { ...search, cursor: data.nextCursor }
    void qc.prefetchQuery({ queryKey: jobKeys.list(next), queryFn: ({ signal }) => fetchJobs(next, signal), staleTime: 10_000 })
  }

  const data = q.data
  const rows = data?.content ?? []
  return (
    <section aria-labelledby="jobs-title">
      <div className="view-head">
        <h1 id="jobs-title">Jobs</h1>
        {data && (
          <p className="muted count" aria-live="polite">
            {data.totalIsEstimate ? 'about ' : ''}
            {data.totalElements.toLocaleString()} {data.totalElements === 1 ? 'job' : 'jobs'}
            {hasFilters(search) ? ' match' : ''}
          </p>
        )}
        <GoToJob />
      </div>
      <Filters search={search} onChange={setFilters} />
      {q.isError && data && (
        <p className="state warn" role="status">
          Could not refresh: {q.error.message}. Showing the last list; retrying.
        </p>
      )}
      {q.isPending ? (
        <Loading what="Loading jobs" />
      ) : q.isError && !data ? (
        <ErrorState error={q.error} retry={() => void q.refetch()} />
      ) : rows.length === 0 ? (
        search.cursor ? (
          <Empty>
            No more jobs on this page.{' '}
            <button type="button" onClick={newest}>
              Back to the newest
            </button>
          </Empty>
        ) : hasFilters(search) ? (
          <Empty>
            No jobs match these filters.{' '}
            <Link to="/" search={{}}>
              Clear the filters
            </Link>
          </Empty>
        ) : (
          <Empty>
            No jobs yet.{' '}
            {canSubmit ? (
              <>
                <Link to="/submit">Submit one</Link> and it shows up here.
              </>
            ) : (
              'Jobs show up here once an operator submits them.'
            )}
          </Empty>
        )
      ) : (
        <JobsTable rows={rows} stale={q.isPlaceholderData} />
      )}
      {data && (rows.length > 0 || search.cursor) && (
        <nav className="pager jobs-pager" aria-label="Pages">
          <button type="button" onClick={newest} disabled={!search.cursor}>
            « Newest
          </button>
          <button type="button" onClick={newer} disabled={!search.cursor}>
            ‹ Newer
          </button>
          <span className="muted">
            {here && rows.length > 0
              ? `${(here.index * size + 1).toLocaleString()}–${(here.index * size + rows.length).toLocaleString()}`
              : rows.length > 0
                ? `${rows.length} jobs`
                : ''}
          </span>
          <button
            type="button"
            onClick={() => older(data)}
            onMouseEnter={() => prefetchOlder(data)}
            onFocus={() => prefetchOlder(data)}
            disabled={!data.nextCursor || q.isPlaceholderData}
          >
            Older ›
          </button>
          <label className="inline">
            <span id="per-page-l">Per page</span>
            <select aria-labelledby="per-page-l" value={size} onChange={(e) => setFilters({ size: Number(e.target.value) === DEFAULT_SIZE ? undefined : Number(e.target.value) })}>
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
        </nav>
      )}
    </section>
  )
}

function JobsTable({ rows, stale }: { rows: JobSummary[]; stale: boolean }) {
  return (
    <div className="table-wrap" aria-busy={stale}>
      <table className={stale ? 'jobs-table stale' : 'jobs-table'}>
        <caption className="visually-hidden">Jobs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col" className="hide-narrow">
              Type
            </th>
            <th scope="col" className="num hide-narrow">
              Attempts
            </th>
            <th scope="col" className="hide-narrow">
              Created
            </th>
            <th scope="col">Updated</th>
            <th scope="col" className="hide-narrow">
              Last error
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((j) => (
            <tr key={j.jobId} data-job-id={j.jobId} data-status={j.status}>
              <td>
                <Link to="/jobs/$jobId" params={{ jobId: j.jobId }} aria-label={`Job ${j.jobId}`}>
                  <JobId id={j.jobId} />
                </Link>
              </td>
              <td>
                <StatusBadge status={j.status} />
                {j.status === 'WAITING' && j.waitingUntil && (
                  <span className="muted waiting-until">
                    {' '}
                    until <time dateTime={j.waitingUntil}>{fmtWhen(j.waitingUntil)}</time>
                  </span>
                )}
              </td>
              <td className="hide-narrow">{j.jobType}</td>
              <td className="num hide-narrow" title={`max retries: ${j.maxRetryCount}`}>
                {j.attempts}
              </td>
              <td className="hide-narrow">
                <time dateTime={j.createdAt}>{fmtWhen(j.createdAt)}</time>
              </td>
              <td>
                <time dateTime={j.updatedAt}>{fmtWhen(j.updatedAt)}</time>
              </td>
              <td className="hide-narrow">{j.lastErrorCode ? <code title={j.lastError ?? undefined}>{j.lastErrorCode}</code> : <span className="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Filters({ search, onChange }: { search: JobsSearch; onChange: (p: Partial<JobsSearch>, replace?: boolean) => void }) {
  const id = useId()
  const [trace, setTrace] = useState(search.traceId ?? '')
  useEffect(() => setTrace(search.traceId ?? ''), [search.traceId])
  const applyTrace = () => {
    const v = trace.trim() || undefined
    if (v !== search.traceId) onChange({ traceId: v })
  }
  const submit = (e: FormEvent) => {
    e.preventDefault()
    applyTrace()
  }
  return (
    <form className="filters jobs-filters" role="search" aria-label="Filter jobs" onSubmit={submit}>
      <label>
        <span id={`${id}-status`}>Status</span>
        <select aria-labelledby={`${id}-status`} value={search.status ?? ''} onChange={(e) => onChange({ status: (e.target.value || undefined) as JobsSearch['status'] })}>
          <option value="">Any status</option>
          {JOB_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span id={`${id}-type`}>Type</span>
        <select aria-labelledby={`${id}-type`} value={search.type ?? ''} onChange={(e) => onChange({ type: e.target.value || undefined })}>
          <option value="">Any type</option>
          {[...new Set<string>([...JOB_TYPES, ...(search.type ? [search.type] : [])])].map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label className="grow">
        <span id={`${id}-trace`}>Trace ID</span>
        <input
          aria-labelledby={`${id}-trace`}
          type="search"
          value={trace}
          maxLength={128}
          placeholder="exact trace ID, then Enter"
          onChange={(e) => setTrace(e.target.value)}
          onBlur={applyTrace}
        />
      </label>
      <label>
        <span id={`${id}-from`}>Created from</span>
        <input
          aria-labelledby={`${id}-from`}
          type="datetime-local"
          step={1}
          value={toLocalInput(search.from)}
          onChange={(e) => onChange({ from: fromLocalInput(e.target.value) }, true)}
        />
      </label>
      <label>
        <span id={`${id}-to`}>Created to</span>
        <input
          aria-labelledby={`${id}-to`}
          type="datetime-local"
          step={1}
          value={toLocalInput(search.to)}
          onChange={(e) => onChange({ to: fromLocalInput(e.target.value) }, true)}
        />
      </label>
      <button type="submit" className="visually-hidden" tabIndex={-1}>
        Apply
      </button>
      {hasFilters(search) && (
        <Link to="/" search={search.size ? { size: search.size } : {}} className="clear-filters">
          Clear filters
        </Link>
      )}
    </form>
  )
}

function GoToJob() {
  const navigate = useNavigate()
  const [id, setId] = useState('')
  const [bad, setBad] = useState(false)
  const go = (e: FormEvent) => {
    e.preventDefault()
    if (!isJobId(id)) {
      setBad(true)
      return
    }
    void navigate({ to: '/jobs/$jobId', params: { jobId: id.trim().toLowerCase() } })
  }
  return (
    <form className="goto" onSubmit={go} aria-label="Open a job by ID">
      <label>
        <span className="visually-hidden" id="goto-l">
          Job ID
        </span>
        <input
          aria-labelledby="goto-l"
          type="text"
          value={id}
          placeholder="Open a job by its full ID"
          aria-invalid={bad}
          aria-describedby={bad ? 'goto-err' : undefined}
          onChange={(e) => {
            setId(e.target.value)
            setBad(false)
          }}
        />
      </label>
      <button type="submit">Open</button>
      {bad && (
        <span id="goto-err" className="field-error">
          A job ID is a full UUID.
        </span>
      )}
    </form>
  )
}
