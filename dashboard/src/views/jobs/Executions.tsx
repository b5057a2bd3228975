// Execution history: every attempt with each step's outcome, duration and error.
import type { Execution } from '../../api/types'
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
                  <th scope="col">Outcome</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {e.steps.map((s) => (
                  <tr key={s.index}>
                    <td>{s.index}</td>
                    <td>{s.action}</td>
                    <td>
                      <StatusBadge status={s.status} />
                    </td>
                    <td>{fmtDuration(s.durationMs)}</td>
                    <td className={s.error ? 'error-text' : 'muted'}>{s.error ?? '—'}</td>
                  </tr>
                ))}
                {e.steps.length === 0 && (
                  <tr>
                    <td colSpan={5} className="muted">
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
