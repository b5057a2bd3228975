// Execution history: every attempt with each step's outcome, duration, error
// and, for the job types that keep them, its id and output.
import { Fragment } from 'react'
import type { Execution } from '../../api/types'
import { JsonOutput } from '../../components/JsonOutput'
import { StatusBadge } from '../../components/StatusBadge'
import { fmtDuration } from '../../components/time'
import { fmtWhen } from './format'

export function Executions({ executions, total }: { executions: Execution[]; total: number }) {
  const sorted = [...executions].sort((a, b) => b.attempt - a.attempt)
  return (
    <div className="executions">
      {total > executions.length && (
        <p className="jobs-note">
          Showing {executions.length} of {total} attempts.
        </p>
      )}
      {sorted.map((e, i) => (
        <details key={e.eventId} className="execution" open={i < 3} data-attempt={e.attempt}>
          <summary>
            <span className="execution-title">Attempt {e.attempt}</span> <StatusBadge status={e.status} />{' '}
            <span className="muted">
              <time dateTime={e.startedAt}>{fmtWhen(e.startedAt)}</time> · {fmtDuration(e.durationMs)}
            </span>
            {e.errorCode && (
              <>
                {' '}
                · <code>{e.errorCode}</code>
              </>
            )}
          </summary>
          {e.error && <p className="error-text">{e.error}</p>}
          <div className="table-wrap">
            <table className="steps-table">
              <caption className="visually-hidden">Steps of attempt {e.attempt}</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Action</th>
                  <th scope="col">Id</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {e.steps.map((s) => (
                  <Fragment key={s.index}>
                    <tr data-step={s.index}>
                      <td>{s.index}</td>
                      <td>{s.action}</td>
                      <td>{s.id ? <code>{s.id}</code> : <span className="muted">—</span>}</td>
                      <td>
                        <StatusBadge status={s.status} />
                        {s.resumed && (
                          <span className="muted" title="Finished in an earlier attempt: taken from its checkpoint, not run again">
                            {' '}
                            resumed
                          </span>
                        )}
                      </td>
                      <td>{fmtDuration(s.durationMs)}</td>
                      <td className={s.error ? 'error-text' : 'muted'}>{s.error ?? '—'}</td>
                    </tr>
                    {(s.output !== undefined || s.outputOmitted) && (
                      <tr className="output-row" data-output-of={s.index}>
                        <td />
                        <td colSpan={5}>
                          <JsonOutput
                            value={s.output}
                            omitted={s.outputOmitted}
                            label={`Output of step ${s.index}${s.id ? ` (${s.id})` : ''}, attempt ${e.attempt}`}
                          />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                ))}
                {e.steps.length === 0 && (
                  <tr>
                    <td colSpan={6} className="muted">
                      No step ran.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </details>
      ))}
    </div>
  )
}
