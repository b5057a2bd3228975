// A job's payload as its type shapes it: SIMULATION's and DATA_PIPELINE's
// steps (ids, a SCRIPT's source in a code block), a WEBHOOK's delivery (URL,
// method, expected statuses, the signing key's name: a payload never holds a
// secret), a BATCH_PROCESS's in short (items, chunk size, the item step), and the raw JSON for every type, a future one included.
import type { JobPayload, PipelineStep, WebhookPayload } from '../../api/types'

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function fmtValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v)
}

/** A step's parameters other than action, id and a SCRIPT's source, as `k: v` pairs. */
export function stepParams(s: Record<string, unknown>): string {
  return Object.entries(s)
    .filter(([k]) => k !== 'action' && k !== 'id' && !(s.action === 'SCRIPT' && k === 'source'))
    .map(([k, v]) => `${k}: ${fmtValue(v)}`)
    .join(', ')
}

export function PayloadView({ jobType, payload }: { jobType: string; payload: JobPayload | null | undefined }) {
  const p: Record<string, unknown> = isObject(payload) ? payload : {}
  let body
  if (jobType === 'WEBHOOK' && typeof p.url === 'string') body = <WebhookView w={p as unknown as WebhookPayload} />
  else if (jobType === 'BATCH_PROCESS' && Array.isArray(p.items)) body = <BatchPayloadView payload={p} />
  else if (Array.isArray(p.steps)) body = <StepsView steps={p.steps as PipelineStep[]} ids={jobType !== 'SIMULATION'} />
  else body = <p className="state empty">This console has no view of a {jobType} payload: see its JSON below.</p>
  return (
    <>
      {body}
      <details className="raw">
        <summary>Payload as JSON</summary>
        <pre>{JSON.stringify(payload ?? null, null, 2)}</pre>
      </details>
    </>
  )
}

function StepsView({ steps, ids }: { steps: PipelineStep[]; ids: boolean }) {
  if (steps.length === 0) return <p className="state empty">The payload has no steps.</p>
  return (
    <div className="table-wrap">
      <table className="payload-table">
        <caption className="visually-hidden">Payload steps</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            {ids && <th scope="col">Id</th>}
            <th scope="col">Action</th>
            <th scope="col">Parameters</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((s, i) => {
            const rec = s as Record<string, unknown>
            const params = stepParams(rec)
            const source = s.action === 'SCRIPT' && typeof rec.source === 'string' ? rec.source : null
            return (
              <tr key={i}>
                <td>{i}</td>
                {ids && <td>{s.id ? <code>{s.id}</code> : <span className="muted">—</span>}</td>}
                <td>{s.action}</td>
                <td>
                  {params || source === null ? <code>{params || '—'}</code> : null}
                  {source !== null && (
                    <pre className="json script-source" aria-label={`Script source of step ${i}`}>
                      <code>{source}</code>
                    </pre>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

function WebhookView({ w }: { w: WebhookPayload }) {
  const headers = isObject(w.headers) ? Object.keys(w.headers) : []
  return (
    <dl className="job-facts webhook-facts" aria-label="Webhook delivery">
      <div className="wide">
        <dt>URL</dt>
        <dd>
          <code>{w.url}</code>
        </dd>
      </div>
      <div>
        <dt>Method</dt>
        <dd>{w.method ?? 'POST'}</dd>
      </div>
      <div>
        <dt>Expected status</dt>
        <dd>{w.expectStatus && w.expectStatus.length > 0 ? w.expectStatus.join(', ') : '200–299'}</dd>
      </div>
      <div>
        <dt>Timeout</dt>
        <dd>{w.timeoutMs ?? 10000} ms</dd>
      </div>
      <div>
        <dt>Signing key</dt>
        <dd>
          {w.signingKey ? (
            <>
              <code>{w.signingKey}</code> <span className="muted">(a name: the secret stays with the worker)</span>
            </>
          ) : (
            <span className="muted">none: sent unsigned</span>
          )}
        </dd>
      </div>
      <div>
        <dt>Headers</dt>
        <dd>{headers.length > 0 ? headers.map((h, i) => <code key={h}>{(i > 0 ? ', ' : '') + h}</code>) : '—'}</dd>
      </div>
      <div className="wide">
        <dt>Body</dt>
        <dd>{w.body === undefined ? '—' : <pre className="json">{typeof w.body === 'string' ? w.body : JSON.stringify(w.body, null, 2)}</pre>}</dd>
      </div>
    </dl>
  )
}

/** A BATCH_PROCESS payload in short: how many items, the chunk size, the item step. */
export function BatchPayloadView({ payload }: { payload: Record<string, unknown> }) {
  const items = Array.isArray(payload.items) ? payload.items : []
  const step = (payload.step ?? {}) as Record<string, unknown>
  return (
    <dl className="job-facts" data-testid="batch-payload">
      <div>
        <dt>Items</dt>
        <dd>{items.length}</dd>
      </div>
      <div>
        <dt>Chunk size</dt>
        <dd>{typeof payload.chunkSize === 'number' ? payload.chunkSize : 100}</dd>
      </div>
      <div>
        <dt>Failed items allowed</dt>
        <dd>{typeof payload.maxFailedItems === 'number' ? payload.maxFailedItems : 0}</dd>
      </div>
      <div>
        <dt>Each item runs</dt>
        <dd>
          <code>{String(step.action ?? '?')}</code> {stepParams(step)}
          {step.action === 'SCRIPT' && typeof step.source === 'string' && (
            <pre className="json" aria-label="Item script source">
              {step.source}
            </pre>
          )}
        </dd>
      </div>
    </dl>
  )
}
