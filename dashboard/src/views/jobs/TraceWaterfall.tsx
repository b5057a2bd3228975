// A job's OpenTelemetry trace (GET /api/jobs/{id}/trace) as a waterfall: one
// row per span, indented below its parent, a bar on the trace's time line,
// coloured by function. Database queries and pool waits are folded away
// unless asked for. See docs/tracing.md.
import { useMemo, useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { ApiError, apiGet } from '../../api/client'
import type { Job } from '../../api/types'
import { usePollInterval } from '../../poll/poll'
import { fmtSpan, ms, TERMINAL } from './format'
import './TraceWaterfall.css'

/** One span of GET /api/jobs/{id}/trace. */
export interface TraceSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  service: string
  start: string
  end: string
  attributes: Record<string, unknown>
}

/** GET /api/jobs/{id}/trace. */
export interface JobTrace {
  traceId: string
  spans: TraceSpan[]
}

export interface WaterfallRow {
  span: TraceSpan
  depth: number
  start: number
  end: number
  query: boolean
}

/** A query or a wait for a connection (otelpgx), folded by default. */
export function isQuery(s: TraceSpan): boolean {
  return 'db.system.name' in s.attributes || 'db.system' in s.attributes || s.name === 'pool.acquire'
}

/**
 * The spans in tree order (each parent before its children, siblings by start),
 * with their depth. A span whose parent is not in the list is a root.
 */
export function waterfallRows(spans: TraceSpan[]): WaterfallRow[] {
  const ids = new Set(spans.map((s) => s.spanId))
  const children = new Map<string, TraceSpan[]>()
  const roots: TraceSpan[] = []
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      const list = children.get(s.parentSpanId) ?? []
      list.push(s)
      children.set(s.parentSpanId, list)
    } else {
      roots.push(s)
    }
  }
  const byStart = (a: TraceSpan, b: TraceSpan) => (ms(a.start) ?? 0) - (ms(b.start) ?? 0)
  const rows: WaterfallRow[] = []
  const seen = new Set<string>()
  const walk = (s: TraceSpan, depth: number) => {
    if (seen.has(s.spanId)) return
    seen.add(s.spanId)
    const start = ms(s.start) ?? 0
    rows.push({ span: s, depth, start, end: Math.max(start, ms(s.end) ?? start), query: isQuery(s) })
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) walk(c, depth + 1)
  }
  for (const r of roots.sort(byStart)) walk(r, 0)
  return rows
}

/** Polls while the job runs, and a little after it ends (the last hops finish just after). */
function useTrace(jobId: string, job: Job) {
  const interval = usePollInterval()
  return useQuery({
    queryKey: ['jobs', 'job', jobId, 'trace'],
    queryFn: ({ signal }) => apiGet<JobTrace>(`/api/jobs/${encodeURIComponent(jobId)}/trace`, undefined, signal),
    placeholderData: undefined,
    retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 1,
    refetchInterval: (q) => {
      if (q.state.error instanceof ApiError && q.state.error.status === 404) return false
      if (!TERMINAL.has(job.status)) return interval
      return q.state.dataUpdatedAt > (ms(job.updatedAt) ?? 0) + 3000 ? false : interval
    },
  })
}

export function TraceWaterfall({ job }: { job: Job }) {
  const trace = useTrace(job.jobId, job)
  const [queries, setQueries] = useState(false)
  const rows = useMemo(() => waterfallRows(trace.data?.spans ?? []), [trace.data])
  if (trace.isPending) return <p className="state">Loading the trace…</p>
  if (trace.isError) {
    const err = trace.error
    if (err instanceof ApiError && err.code === 'API.TRACE_NOT_KEPT') {
      return <p className="jobs-note">{err.message}</p>
    }
    if (err instanceof ApiError && err.status === 404) {
      return <p className="jobs-note">This backend keeps no traces.</p>
    }
    return <p className="state warn">The trace could not be read: {err.message}</p>
  }
  if (rows.length === 0) {
    return (
      <p className="jobs-note" data-testid="trace-empty">
        No spans for trace <code>{trace.data.traceId}</code>: the job was not sampled (OTEL_TRACES_SAMPLER_ARG), or its spans
        were dropped from the store.
      </p>
    )
  }
  const shown = queries ? rows : rows.filter((r) => !r.query)
  const t0 = Math.min(...rows.map((r) => r.start))
  const t1 = Math.max(...rows.map((r) => r.end), t0 + 1)
  const total = t1 - t0
  const folded = rows.length - shown.length
  return (
    <div className="trace" data-testid="trace-waterfall">
      <p className="trace-head">
        <span>
          trace <code>{trace.data.traceId}</code> · {rows.length} spans · {fmtSpan(total)}
        </span>
        <label>
          <input type="checkbox" checked={queries} onChange={(e) => setQueries(e.target.checked)} /> show queries
          {!queries && folded > 0 ? ` (${folded} folded)` : ''}
        </label>
      </p>
      <ol className="trace-rows">
        {shown.map((r) => {
          const left = ((r.start - t0) / total) * 100
          const width = Math.max(((r.end - r.start) / total) * 100, 0.3)
          const attrs = Object.entries(r.span.attributes)
            .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join('\n')
          const failed = 'error' in r.span.attributes
          return (
            <li
              key={r.span.spanId}
              className={`trace-row svc-${r.span.service}${failed ? ' trace-failed' : ''}`}
              data-testid="trace-span"
              data-service={r.span.service}
              data-name={r.span.name}
              data-depth={r.depth}
              title={`${r.span.name} (${r.span.service})\n${fmtSpan(r.end - r.start)}\n${attrs}`}
            >
              <span className="trace-label" style={{ paddingLeft: `${r.depth * 0.8}rem` }}>
                <span className="trace-svc">{r.span.service}</span> {r.span.name}
              </span>
              <span className="trace-lane">
                <span className="trace-bar" style={{ left: `${left}%`, width: `${width}%` }} />
              </span>
              <span className="trace-dur">{fmtSpan(r.end - r.start)}</span>
            </li>
          )
        })}
      </ol>
    </div>
  )
}
