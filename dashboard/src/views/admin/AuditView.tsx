// The audit (admin): who did what, newest first, filtered by caller, action,
// target and time, a page at a time (GET /api/audit). Filters live in the URL.
import { useState, type FormEvent } from 'react'
import { useNavigate, useSearch } from '@tanstack/react-router'
import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../../api/client'
import type { AuditEntry } from '../../api/types'
import { RoleRequired } from '../../auth/auth'
import { Empty, ErrorState, Loading } from '../../components/states'
import { fmtTime } from '../../components/time'
import { usePollInterval } from '../../poll/poll'

export interface AuditSearch {
  caller?: string
  action?: string
  target?: string
  from?: string
  to?: string
  page?: number
}

const TEXT_KEYS = ['caller', 'action', 'target', 'from', 'to'] as const

export function auditSearch(s: Record<string, unknown>): AuditSearch {
  const out: AuditSearch = {}
  for (const k of TEXT_KEYS) if (typeof s[k] === 'string' && s[k]) out[k] = s[k] as string
  const p = Number(s.page)
  if (Number.isInteger(p) && p > 0) out.page = p
  return out
}

// The actions the api records (issue #12); the filter takes any text too.
export const AUDIT_ACTIONS = ['key.create', 'key.revoke', 'job.submit', 'job.batch', 'job.cancel', 'dlq.retry', 'dlq.dismiss', 'dlq.bulk-retry', 'dlq.bulk-dismiss']

interface AuditPage {
  content: AuditEntry[]
  page: number
  totalPages: number
  totalElements: number
  totalIsEstimate?: boolean
}

export function AuditView() {
  return (
    <RoleRequired role="admin" what="read the audit">
      <Audit />
    </RoleRequired>
  )
}

function toIso(local: string): string | undefined {
  if (!local) return undefined
  const d = new Date(local)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

function Audit() {
  const search = useSearch({ from: '/audit' }) as AuditSearch
  const navigate = useNavigate({ from: '/audit' })
  const poll = usePollInterval()
  const [draft, setDraft] = useState<AuditSearch>(search)
  const list = useQuery({
    queryKey: ['audit', search],
    queryFn: ({ signal }) => apiGet<AuditPage>('/api/audit', { ...search, page: search.page ?? 0, size: 50 }, signal),
    refetchInterval: poll,
  })

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    navigate({ search: auditSearch({ ...draft, page: undefined }) })
  }
  const field = (k: 'caller' | 'target', label: string) => (
    <label>
      <span>{label}</span>
      <input value={draft[k] ?? ''} onChange={(e) => setDraft({ ...draft, [k]: e.target.value })} />
    </label>
  )
  const page = search.page ?? 0
  const rows = list.data?.content ?? []

  return (
    <section className="audit-page">
      <h1>Audit</h1>
      <form className="filters" role="search" aria-label="Filter the audit" onSubmit={apply}>
        {field('caller', 'Caller')}
        <label>
          <span>Action</span>
          <input list="audit-actions" value={draft.action ?? ''} onChange={(e) => setDraft({ ...draft, action: e.target.value })} />
          <datalist id="audit-actions">
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        {field('target', 'Target')}
        <label>
          <span>From</span>
          <input type="datetime-local" onChange={(e) => setDraft({ ...draft, from: toIso(e.target.value) })} />
        </label>
        <label>
          <span>To</span>
          <input type="datetime-local" onChange={(e) => setDraft({ ...draft, to: toIso(e.target.value) })} />
        </label>
        <button type="submit">Apply</button>
      </form>

      {list.isPending ? (
        <Loading what="Loading the audit" />
      ) : list.isError && !list.data ? (
        <ErrorState error={list.error} retry={() => void list.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>No audit entries match.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="audit-table">
              <caption className="visually-hidden">Audit entries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">At</th>
                  <th scope="col">Caller</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((a) => (
                  <tr key={a.id}>
                    <td>{fmtTime(a.at)}</td>
                    <td>
                      <code>{a.caller}</code>
                    </td>
                    <td>{a.action}</td>
                    <td>
                      <code>{a.target}</code>
                    </td>
                    <td>
                      <code>{JSON.stringify(a.detail)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="Pages">
            <button type="button" disabled={page === 0} onClick={() => navigate({ search: { ...search, page: page - 1 || undefined } })}>
              ← Newer
            </button>
            <span>
              page {page + 1} of {list.data.totalPages || 1} ({list.data.totalElements}
              {list.data.totalIsEstimate ? ', about' : ''} entries)
            </span>
            <button type="button" disabled={page + 1 >= list.data.totalPages} onClick={() => navigate({ search: { ...search, page: page + 1 } })}>
              Older →
            </button>
          </nav>
        </>
      )}
    </section>
  )
}
