// System health from GET /api/system: each function's health, throughput over
// the last hour (a lazily loaded uPlot chart), consumer lag per mapping, the
// outbox and due backlogs, running jobs and open dead letters. A part the API
// could not read is null; its error from `errors` shows in its place.
import { lazy, Suspense, type ReactNode } from 'react'
import { Link } from '@tanstack/react-router'
import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../../api/client'
import type { SystemStatus } from '../../api/types'
import { usePollInterval } from '../../poll/poll'
import { StatusBadge } from '../../components/StatusBadge'
import { Empty, ErrorState, Loading } from '../../components/states'
import { ProblemNote } from '../../components/ProblemNote'
import { describeProblem } from '../../components/apiProblem'
import { fmtTime } from '../../components/time'

const ThroughputChart = lazy(() => import('./ThroughputChart'))

export function fmtAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—'
  if (seconds < 60) return `${Math.round(seconds)} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`
  const h = Math.floor(seconds / 3600)
  return `${h} h ${Math.floor((seconds % 3600) / 60)} min`
}

type Part = 'functions' | 'throughput' | 'lag' | 'outbox' | 'due' | 'running' | 'dlq'

function PartError({ s, part }: { s: SystemStatus; part: Part }) {
  const msg = s.errors?.[part] ?? 'not available'
  return (
    <p className="part-error" role="note">
      <span className="badge badge-down">unavailable</span> {msg}
    </p>
  )
}

/** A part that answered only in part (e.g. one outbox of three): its error beside what it has. */
function PartialNote({ s, part }: { s: SystemStatus; part: Part }) {
  const msg = s.errors?.[part]
  if (!msg || s[part] === null) return null
  return (
    <p className="part-error" role="note">
      <span className="badge badge-down">partial</span> {msg}
    </p>
  )
}

function Panel({ title, children, id }: { title: string; children: ReactNode; id: string }) {
  return (
    <section className="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  )
}

export function SystemView() {
  const poll = usePollInterval()
  const q = useQuery({
    queryKey: ['system'],
    queryFn: ({ signal }) => apiGet<SystemStatus>('/api/system', undefined, signal),
    refetchInterval: poll === false ? false : Math.max(poll, 2000),
  })

  if (q.isPending) return <Loading what="Loading system health" />
  const s = q.data
  if (!s) {
    return (
      <section>
        <h1>System health</h1>
        <ErrorState error={describeProblem(q.error, 'System health (GET /api/system)')} retry={() => void q.refetch()} />
      </section>
    )
  }

  const tp = s.throughput
  const sum = (k: 'completed' | 'failed') => tp?.points.reduce((a, p) => a + p[k], 0) ?? 0
  const lastPoint = tp?.points[tp.points.length - 1]
  return (
    <section className="system">
      <h1>System health</h1>
      <p className="muted">
        As of {fmtTime(s.generatedAt)} · source {s.source}
      </p>
      {q.isError && <ProblemNote error={q.error} what="Refreshing system health" />}

      <div className="cards">
        <div className="card" aria-labelledby="card-due">
          <div id="card-due" className="label">
            Due now
          </div>
          {s.due ? (
            <>
              <div className="value">{s.due.count}</div>
              <div className="muted">oldest waiting {fmtAge(s.due.oldestAgeSeconds)}</div>
            </>
          ) : (
            <PartError s={s} part="due" />
          )}
        </div>
        <div className="card" aria-labelledby="card-running">
          <div id="card-running" className="label">
            Running
          </div>
          {s.running ? <div className="value">{s.running.count}</div> : <PartError s={s} part="running" />}
        </div>
        <div className="card" aria-labelledby="card-dlq">
          <div id="card-dlq" className="label">
            Open dead letters
          </div>
          {s.dlq ? (
            <>
              <div className="value">{s.dlq.open}</div>
              <Link to="/dlq" search={{ status: 'NEW' }}>
                Inspect the NEW entries
              </Link>
            </>
          ) : (
            <PartError s={s} part="dlq" />
          )}
        </div>
        <div className="card" aria-labelledby="card-tp">
          <div id="card-tp" className="label">
            Last hour
          </div>
          {tp ? (
            <>
              <div className="value">{sum('completed')}</div>
              <div className="muted">
                completed · <span className={sum('failed') > 0 ? 'bad' : undefined}>{sum('failed')} failed</span>
              </div>
            </>
          ) : (
            <PartError s={s} part="throughput" />
          )}
        </div>
      </div>

      <Panel title="Functions" id="h-functions">
        <PartialNote s={s} part="functions" />
        {s.functions ? (
          s.functions.length === 0 ? (
            <Empty>No functions reported.</Empty>
          ) : (
            <ul className="functions">
              {s.functions.map((f) => (
                <li key={f.name}>
                  <strong>{f.name}</strong> <StatusBadge status={f.status} />
                  {f.error && <span className="muted"> {f.error}</span>}
                </li>
              ))}
            </ul>
          )
        ) : (
          <PartError s={s} part="functions" />
        )}
      </Panel>

      <Panel title="Throughput (jobs per minute, last hour)" id="h-throughput">
        {tp ? (
          tp.points.length === 0 ? (
            <Empty>No throughput yet.</Empty>
          ) : (
            <>
              <Suspense fallback={<Loading what="Loading the chart" />}>
                <ThroughputChart points={tp.points} />
              </Suspense>
              <p className="muted" aria-live="off">
                {sum('completed')} completed and {sum('failed')} failed in the last {Math.round((tp.points.length * tp.bucketSeconds) / 60)} minutes
                {lastPoint ? `; last minute: ${lastPoint.completed} completed, ${lastPoint.failed} failed` : ''}.
              </p>
            </>
          )
        ) : (
          <PartError s={s} part="throughput" />
        )}
      </Panel>

      <Panel title="Consumer lag" id="h-lag">
        <PartialNote s={s} part="lag" />
        {s.lag ? (
          s.lag.length === 0 ? (
            <Empty>No consumers reported.</Empty>
          ) : (
            <div className="table-wrap">
              <table aria-labelledby="h-lag">
                <thead>
                  <tr>
                    <th scope="col">Consumer</th>
                    <th scope="col">Topic</th>
                    <th scope="col" className="hide-narrow">
                      Group
                    </th>
                    <th scope="col" className="num">
                      Lag
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.lag.map((l) => (
                    <tr key={`${l.consumer}/${l.topic}/${l.group}`}>
                      <td>{l.consumer}</td>
                      <td>
                        <code>{l.topic}</code>
                      </td>
                      <td className="hide-narrow">
                        <code>{l.group}</code>
                      </td>
                      <td className={l.lag > 0 ? 'num warn' : 'num'}>{l.lag}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        ) : (
          <PartError s={s} part="lag" />
        )}
      </Panel>

      <Panel title="Outbox backlog" id="h-outbox">
        <PartialNote s={s} part="outbox" />
        {s.outbox ? (
          s.outbox.length === 0 ? (
            <Empty>No outboxes reported.</Empty>
          ) : (
            <div className="table-wrap">
              <table aria-labelledby="h-outbox">
                <thead>
                  <tr>
                    <th scope="col">Service</th>
                    <th scope="col" className="num">
                      Pending
                    </th>
                    <th scope="col" className="num">
                      Parked
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.outbox.map((o) => (
                    <tr key={o.service}>
                      <td>{o.service}</td>
                      <td className="num">{o.pending}</td>
                      <td className={o.parked > 0 ? 'num bad' : 'num'}>{o.parked}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        ) : (
          <PartError s={s} part="outbox" />
        )}
      </Panel>
    </section>
  )
}
