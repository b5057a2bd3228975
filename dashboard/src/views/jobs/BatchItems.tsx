// A BATCH_PROCESS job: the batch's counts (its step's output in the latest
// attempt) and its items, paged from GET /api/jobs/{id}/items by cursor, with a
// status filter.
import { useEffect, useRef, useState } from 'react'
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet } from '../../api/client'
import type { BatchItem, BatchOutput, Execution, Job, Page } from '../../api/types'
import { JsonOutput } from '../../components/JsonOutput'
import { StatusBadge } from '../../components/StatusBadge'
import { ErrorState, Loading } from '../../components/states'
import { usePollInterval } from '../../poll/poll'
import { TERMINAL } from './format'

/** Items per page of the table. */
export const ITEMS_PAGE = 50

type Filter = '' | 'SUCCEEDED' | 'FAILED'

/** The batch's counts: the step output of the latest attempt that has one. */
export function batchOutput(executions: Execution[]): BatchOutput | undefined {
  const latest = [...executions].sort((a, b) => b.attempt - a.attempt)
  for (const e of latest) {
    const out = e.steps[0]?.output as BatchOutput | undefined
    if (out && typeof out === 'object' && typeof out.total === 'number') return out
  }
  return undefined
}

function useItems(jobId: string, cursor: string, status: Filter, live: boolean) {
  const interval = usePollInterval()
  return useQuery({
    queryKey: ['jobs', 'job', jobId, 'items', cursor, status],
    queryFn: ({ signal }) =>
      apiGet<Page<BatchItem>>(
        `/api/jobs/${encodeURIComponent(jobId)}/items`,
        { limit: ITEMS_PAGE, cursor: cursor || undefined, status: status || undefined },
        signal,
      ),
    placeholderData: keepPreviousData,
    refetchInterval: live ? interval : false,
  })
}

export function BatchItems({ job, executions }: { job: Job; executions: Execution[] }) {
  const out = batchOutput(executions)
  // The cursors of the pages before this one: Previous pops, Next pushes.
  const [cursors, setCursors] = useState<string[]>([])
  const [status, setStatus] = useState<Filter>('')
  const cursor = cursors[cursors.length - 1] ?? ''
  const items = useItems(job.jobId, cursor, status, !TERMINAL.has(job.status))
  // When the job changes (an attempt ended), its items have news too.
  const qc = useQueryClient()
  const seen = useRef(job.updatedAt)
  useEffect(() => {
    if (seen.current === job.updatedAt) return
    seen.current = job.updatedAt
    void qc.invalidateQueries({ queryKey: ['jobs', 'job', job.jobId, 'items'] })
  }, [job.updatedAt, job.jobId, qc])
  const page = items.data
  const first = cursors.length * ITEMS_PAGE

  return (
    <section className="batch" aria-labelledby="batch-h">
      <h2 id="batch-h">Batch items</h2>
      {out ? (
        <dl className="job-facts batch-counts" data-testid="batch-counts">
          <div>
            <dt>Items</dt>
            <dd>{out.total}</dd>
          </div>
          <div>
            <dt>Succeeded</dt>
            <dd>{out.succeeded}</dd>
          </div>
          <div>
            <dt>Failed</dt>
            <dd className={out.failed > out.maxFailedItems ? 'error-text' : undefined}>
              {out.failed} <span className="muted">(at most {out.maxFailedItems} allowed)</span>
            </dd>
          </div>
          {out.pending ? (
            <div>
              <dt>Not run yet</dt>
              <dd>{out.pending}</dd>
            </div>
          ) : null}
          <div>
            <dt>Chunks</dt>
            <dd>
              {out.chunks} of {out.chunkSize}
              {out.pass > 1 && <span className="muted"> · pass {out.pass}: failed items again</span>}
            </dd>
          </div>
        </dl>
      ) : (
        <p className="jobs-note">No attempt has reported the batch's counts yet.</p>
      )}
      {out?.firstError && (
        <p className="error-text" data-testid="batch-first-error">
          First failed item: #{out.firstError.index} <code>{out.firstError.errorCode}</code> {out.firstError.error}
        </p>
      )}

      <div className="pager">
        <label className="inline">
          Show{' '}
          <select
            aria-label="Item status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as Filter)
              setCursors([])
            }}
          >
            <option value="">all items</option>
            <option value="SUCCEEDED">succeeded</option>
            <option value="FAILED">failed</option>
          </select>
        </label>
      </div>

      {items.isError && !page ? (
        <ErrorState error={items.error} retry={() => void items.refetch()} />
      ) : items.isPending ? (
        <Loading what="Loading the items" />
      ) : page && page.content.length === 0 ? (
        <p className="state empty">{status ? `No ${status.toLowerCase()} item.` : 'No item has finished yet.'}</p>
      ) : page ? (
        <>
          <div className="table-wrap">
            <table className="items-table">
              <caption className="visually-hidden">Batch items</caption>
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Attempt</th>
                  <th scope="col">Output or error</th>
                </tr>
              </thead>
              <tbody>
                {page.content.map((it) => (
                  <tr key={it.index} data-item={it.index}>
                    <td>{it.index}</td>
                    <td>
                      <StatusBadge status={it.status} />
                    </td>
                    <td>{it.attempt}</td>
                    <td>
                      {it.error ? (
                        <span className="error-text">
                          {it.errorCode && <code>{it.errorCode}</code>} {it.error}
                        </span>
                      ) : it.outputOmitted ? (
                        <span className="muted">Output not kept (too large, or past this page's 4 MiB).</span>
                      ) : it.output !== undefined ? (
                        <ItemOutput item={it} />
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="pager">
            <button type="button" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
              ← Previous
            </button>
            <span className="muted">
              {first + 1}–{first + page.content.length} of {page.totalElements}
              {status ? ` ${status.toLowerCase()}` : ' finished'}
            </span>
            <button
              type="button"
              disabled={!page.nextCursor}
              onClick={() => page.nextCursor && setCursors((c) => [...c, page.nextCursor!])}
            >
              Next →
            </button>
          </div>
        </>
      ) : null}
    </section>
  )
}

function ItemOutput({ item }: { item: BatchItem }) {
  return (
    <details className="item-output">
      <summary>Output</summary>
      <JsonOutput value={item.output} label={`Output of item ${item.index}`} />
    </details>
  )
}
