// The jobs list's URL search params: what a shared link carries, how it is
// checked, and how it maps to GET /api/jobs's query parameters.
import { JOB_STATUSES, type JobStatus } from '../../api/types'

export const PAGE_SIZES = [25, 50, 100] as const
export const DEFAULT_SIZE = 25

export interface JobsSearch {
  status?: JobStatus
  type?: string
  traceId?: string
  /** createdFrom, RFC 3339 UTC. */
  from?: string
  /** createdTo, RFC 3339 UTC. */
  to?: string
  /** The nextCursor of the page before this one; absent on the newest page. */
  cursor?: string
  size?: number
}

const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined)

function isoTime(v: unknown): string | undefined {
  const s = str(v)
  if (!s) return undefined
  const t = Date.parse(s)
  return Number.isNaN(t) ? undefined : new Date(t).toISOString()
}

/** validateSearch for `/`: unknown or malformed values are dropped, never sent. */
export function jobsSearch(s: Record<string, unknown>): JobsSearch {
  const status = str(s.status)?.toUpperCase()
  const size = Number(s.size)
  return {
    status: JOB_STATUSES.includes(status as JobStatus) ? (status as JobStatus) : undefined,
    type: str(s.type),
    traceId: str(s.traceId)?.slice(0, 128),
    from: isoTime(s.from),
    to: isoTime(s.to),
    cursor: str(s.cursor)?.slice(0, 128),
    size: PAGE_SIZES.includes(size as (typeof PAGE_SIZES)[number]) && size !== DEFAULT_SIZE ? size : undefined,
  }
}

/** The GET /api/jobs query for a search. */
export function listParams(s: JobsSearch): Record<string, string | number | undefined> {
  return {
    status: s.status,
    type: s.type,
    traceId: s.traceId,
    createdFrom: s.from,
    createdTo: s.to,
    cursor: s.cursor,
    size: s.size ?? DEFAULT_SIZE,
  }
}

export function hasFilters(s: JobsSearch): boolean {
  return Boolean(s.status || s.type || s.traceId || s.from || s.to)
}

/** An RFC 3339 time as the value of an <input type="datetime-local"> (local time, to the second). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** An <input type="datetime-local"> value (local time) as RFC 3339 UTC; undefined when empty or invalid. */
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined
  const d = new Date(v)
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isJobId(v: string): boolean {
  return UUID.test(v.trim())
}
