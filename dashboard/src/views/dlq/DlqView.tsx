// The dead-letter inspector: browse and filter the entries (the filter lives in
// the URL), page with cursors, select some or all that match the filter, and
// retry or dismiss them in bulk with the operation's live progress.
import { useEffect, useMemo, useState, type FormEvent } from 'react'
import { Link, useNavigate, useSearch } from '@tanstack/react-router'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { DLQ_REASONS, DLQ_STATUSES, JOB_TYPES, type DeadLetter, type DeadLetterFilter } from '../../api/types'
import { usePollInterval } from '../../poll/poll'
import { useCan } from '../../auth/auth'
import { JobId } from '../../components/JobId'
import { StatusBadge } from '../../components/StatusBadge'
import { Empty, ErrorState, Loading } from '../../components/states'
import { Confirm } from '../../components/Confirm'
import { OperationProgress } from '../../components/OperationProgress'
import { ProblemNote } from '../../components/ProblemNote'
import { describeProblem } from '../../components/apiProblem'
import { fmtTime } from '../../components/time'
import { actInBulk, cleanFilter, entryId, FILTER_KEYS, listDeadLetters, type BulkBody, type DlqAction } from './dlqApi'

export interface DlqSearch extends DeadLetterFilter {
  cursor?: string
  size?: number
  /** The bulk operation whose progress shows (kept in the URL: a reload or a shared link keeps it). */
  op?: string
}

export const DLQ_PAGE_SIZES = [20, 50, 100] as const

export function dlqSearch(s: Record<string, unknown>): DlqSearch {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  const size = Number(s.size)
  return {
    status: str(s.status),
    jobType: str(s.jobType),
    errorCode: str(s.errorCode),
    reason: str(s.reason),
    traceId: str(s.traceId),
    from: str(s.from),
    to: str(s.to),
    cursor: str(s.cursor),
    size: DLQ_PAGE_SIZES.includes(size as (typeof DLQ_PAGE_SIZES)[number]) ? size : undefined,
    op: str(s.op),
  }
}

/** An RFC 3339 time as a datetime-local input's value (local time, minutes). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}

/** A datetime-local input's value as an RFC 3339 UTC time. */
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined
  const d = new Date(v)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

type Selection = { mode: 'ids'; ids: Set<string> } | { mode: 'all' }

const ACTION_WORD: Record<DlqAction, string> = { retry: 'Retry', dismiss: 'Dismiss' }

export function DlqView() {
  const search = useSearch({ from: '/dlq' }) as DlqSearch
  const navigate = useNavigate({ from: '/dlq' })
  const qc = useQueryClient()
  const poll = usePollInterval()
  // Selection and bulk actions are an operator's: a viewer sees the list only.
  const canAct = useCan('operator')
  const size = search.size ?? 20
  const filter = useMemo(() => cleanFilter(search), [search])
  const filterKey = JSON.stringify(filter)

  // Cursors of the pages before this one, so "Previous" can go back.
  const [prevCursors, setPrevCursors] = useState<(string | undefined)[]>([])
  const [selection, setSelection] = useState<Selection>({ mode: 'ids', ids: new Set() })
  const [pending, setPending] = useState<DlqAction | null>(null)

  useEffect(() => {
    setSelection({ mode: 'ids', ids: new Set() })
    setPrevCursors([])
  }, [filterKey])

  const list = useQuery({
    queryKey: ['dlq', 'list', filter, search.cursor ?? null, size],
    queryFn: ({ signal }) => listDeadLetters(filter, search.cursor, size, signal),
    refetchInterval: poll,
  })

  const bulk = useMutation({
    mutationFn: ({ action, body }: { action: DlqAction; body: BulkBody }) => actInBulk(action, body),
    onSuccess: (res) => {
      setPending(null)
      navigate({ search: (prev: DlqSearch) => ({ ...prev, op: res.operationId }) })
    },
  })

  const rows = list.data?.content ?? []
  const ids = rows.map(entryId).filter(Boolean)
  const selectedIds = selection.mode === 'ids' ? selection.ids : new Set(ids)
  const allOnPage = ids.length > 0 && ids.every((id) => selectedIds.has(id))
  const total = list.data?.totalElements ?? 0
  const selectedCount = selection.mode === 'all' ? total : selection.ids.size
  const hasFilter = Object.keys(filter).length > 0

  function setFilter(next: DeadLetterFilter) {
    const clean = cleanFilter(next)
    navigate({ search: { ...clean, size: search.size, op: search.op } })
  }

  function onApply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const fd = new FormData(e.currentTarget)
    const get = (k: string) => {
      const v = fd.get(k)
      return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
    }
    setFilter({
      status: get('status'),
      jobType: get('jobType'),
      errorCode: get('errorCode'),
      reason: get('reason'),
      traceId: get('traceId'),
      from: fromLocalInput(get('from') ?? ''),
      to: fromLocalInput(get('to') ?? ''),
    })
  }

  function toggle(id: string) {
    const next = new Set(selectedIds)
    if (next.has(id)) next.delete(id)
    else next.add(id)
    setSelection({ mode: 'ids', ids: next })
  }

  function togglePage() {
    setSelection({ mode: 'ids', ids: allOnPage ? new Set() : new Set(ids) })
  }

  function bodyFor(): BulkBody {
    return selection.mode === 'all' ? { filter } : { ids: [...selection.ids] }
  }

  function nextPage() {
    if (!list.data?.nextCursor) return
    setPrevCursors((p) => [...p, search.cursor])
    navigate({ search: { ...search, cursor: list.data.nextCursor } })
  }

  function prevPage() {
    const p = [...prevCursors]
    const c = p.pop()
    setPrevCursors(p)
    navigate({ search: { ...search, cursor: c } })
  }

  return (
    <section className="dlq">
      <h1>Dead letters</h1>
      <form className="filters" onSubmit={onApply} aria-label="Filter dead letters" key={filterKey}>
        <label>
          Status
          <select name="status" defaultValue={search.status ?? ''} onChange={(e) => e.currentTarget.form?.requestSubmit()}>
            <option value="">any</option>
            {DLQ_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Reason
          <select name="reason" defaultValue={search.reason ?? ''} onChange={(e) => e.currentTarget.form?.requestSubmit()}>
            <option value="">any</option>
            {DLQ_REASONS.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Job type
          <input name="jobType" list="dlq-job-types" defaultValue={search.jobType ?? ''} size={12} />
          <datalist id="dlq-job-types">
            {JOB_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          Error code
          <input name="errorCode" defaultValue={search.errorCode ?? ''} placeholder="e.g. WORKER.STEP_FAILED" size={18} />
        </label>
        <label>
          Trace ID
          <input name="traceId" defaultValue={search.traceId ?? ''} size={24} />
        </label>
        <label>
          Failed from
          <input name="from" type="datetime-local" defaultValue={toLocalInput(search.from)} />
        </label>
        <label>
          Failed to
          <input name="to" type="datetime-local" defaultValue={toLocalInput(search.to)} />
        </label>
        <button type="submit" className="primary">
          Apply
        </button>
        {hasFilter && (
          <button type="button" onClick={() => setFilter({})}>
            Clear filters
          </button>
        )}
      </form>

      {search.op && (
        <OperationProgress
          key={search.op}
          operationId={search.op}
          onFinished={() => {
            setSelection({ mode: 'ids', ids: new Set() })
            void qc.invalidateQueries({ queryKey: ['dlq'] })
          }}
          onClose={() => navigate({ search: (prev: DlqSearch) => ({ ...prev, op: undefined }) })}
        />
      )}

      {canAct && (
        <div className="bulk-bar" role="group" aria-label="Bulk actions">
          <span aria-live="polite">
            {selection.mode === 'all'
              ? `All ${total}${list.data?.totalIsEstimate ? ' (about)' : ''} entries that match this filter are selected.`
              : `${selectedCount} selected`}
          </span>
          {selection.mode === 'ids' && rows.length > 0 && (
            <button type="button" className="linkish" onClick={() => setSelection({ mode: 'all' })}>
              Select all {total}
              {list.data?.totalIsEstimate ? ' (about)' : ''} that match this filter
            </button>
          )}
          {(selection.mode === 'all' || selectedCount > 0) && (
            <button type="button" className="linkish" onClick={() => setSelection({ mode: 'ids', ids: new Set() })}>
              Clear selection
            </button>
          )}
          <button type="button" disabled={selectedCount === 0 || bulk.isPending} onClick={() => setPending('retry')}>
            Retry selected
          </button>
          <button type="button" className="danger" disabled={selectedCount === 0 || bulk.isPending} onClick={() => setPending('dismiss')}>
            Dismiss selected
          </button>
        </div>
      )}

      {pending && (
        <Confirm
          confirmLabel={`${ACTION_WORD[pending]} ${selection.mode === 'all' ? 'all matching' : selectedCount}`}
          danger={pending === 'dismiss'}
          busy={bulk.isPending}
          onCancel={() => setPending(null)}
          onConfirm={() => bulk.mutate({ action: pending, body: bodyFor() })}
        >
          {selection.mode === 'all' ? (
            <>
              {ACTION_WORD[pending]} every entry that matches this filter
              {hasFilter ? ` (${describeFilter(filter)})` : ' (no filter: every entry)'}, about {total}? Only NEW entries
              {pending === 'dismiss' ? ' (and PARTLY_REPLAYED ones)' : ''} are acted on; the others count as failed or are left out.
            </>
          ) : (
            <>
              {ACTION_WORD[pending]} {selectedCount} selected {selectedCount === 1 ? 'entry' : 'entries'}?
            </>
          )}{' '}
          {pending === 'retry'
            ? 'Each job runs again under its own job ID with a fresh retry budget.'
            : 'Dismissed entries are kept for audit until retention removes them.'}
        </Confirm>
      )}
      {bulk.isError && <ProblemNote error={bulk.error} what={`Bulk ${bulk.variables?.action ?? 'action'} (POST /api/dlq/${bulk.variables?.action ?? ''})`} />}

      {list.isPending ? (
        <Loading what="Loading dead letters" />
      ) : list.isError && !list.data ? (
        <ErrorState error={describeProblem(list.error, 'The dead-letter list')} retry={() => void list.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>
          {hasFilter ? 'No dead letters match this filter.' : 'No dead letters. Jobs that run out of retries show up here.'}
        </Empty>
      ) : (
        <>
          {list.isError && <ProblemNote error={list.error} what="Refreshing the list" />}
          <div className="table-wrap">
            <table className="dlq-table">
              <caption className="visually-hidden">Dead-letter entries, newest first</caption>
              <thead>
                <tr>
                  {canAct && (
                    <th scope="col">
                      <input
                        type="checkbox"
                        aria-label="Select all on this page"
                        checked={allOnPage}
                        onChange={togglePage}
                        disabled={selection.mode === 'all'}
                      />
                    </th>
                  )}
                  <th scope="col">
                    <span className="visually-hidden">Entry</span>
                  </th>
                  <th scope="col">Failed</th>
                  <th scope="col">Status</th>
                  <th scope="col">Reason</th>
                  <th scope="col" className="hide-narrow">
                    Error
                  </th>
                  <th scope="col">Job</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <DlqRow key={entryId(d)} d={d} checked={selectedIds.has(entryId(d))} locked={selection.mode === 'all'} onToggle={canAct ? toggle : undefined} />
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" onClick={prevPage} disabled={prevCursors.length === 0 && !search.cursor}>
              ← Previous
            </button>
            <span>
              {total}
              {list.data?.totalIsEstimate ? ' (about)' : ''} {total === 1 ? 'entry' : 'entries'}
            </span>
            <button type="button" onClick={nextPage} disabled={!list.data?.nextCursor}>
              Next →
            </button>
            <label className="inline">
              <span>Per page</span>
              <select value={size} onChange={(e) => navigate({ search: { ...filter, size: Number(e.target.value), op: search.op } })}>
                {DLQ_PAGE_SIZES.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
          </nav>
        </>
      )}
    </section>
  )
}

function describeFilter(f: DeadLetterFilter): string {
  return FILTER_KEYS.filter((k) => f[k])
    .map((k) => `${k} ${f[k]}`)
    .join(', ')
}

function DlqRow({ d, checked, locked, onToggle }: { d: DeadLetter; checked: boolean; locked: boolean; onToggle?: (id: string) => void }) {
  const id = entryId(d)
  return (
    <tr className={checked ? 'selected' : undefined}>
      {onToggle && (
        <td>
          <input type="checkbox" aria-label={`Select entry …${id.slice(-12)}`} checked={checked} disabled={locked} onChange={() => onToggle(id)} />
        </td>
      )}
      <td>
        <Link to="/dlq/$dlqId" params={{ dlqId: id }} aria-label={`Open entry …${id.slice(-12)}`}>
          Open
        </Link>
      </td>
      <td>{fmtTime(d.failedAt)}</td>
      <td>{d.status ? <StatusBadge status={d.status} /> : '—'}</td>
      <td>
        <code>{d.reason}</code>
        {d.jobType ? <div className="muted">{d.jobType}</div> : null}
      </td>
      <td className="hide-narrow">
        {d.errorCode && <code>{d.errorCode}</code>}
        {d.lastError && <div className="muted clip">{d.lastError}</div>}
      </td>
      <td>{d.jobId ? <Link to="/jobs/$jobId" params={{ jobId: d.jobId }}><JobId id={d.jobId} /></Link> : '—'}</td>
    </tr>
  )
}
