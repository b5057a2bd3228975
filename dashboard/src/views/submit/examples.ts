// An example payload per job type that the submit view edits as JSON
// (SIMULATION has its step builder instead). Each runs as it stands on
// `make run`, except WEBHOOK's URL, which is the operator's to fill in.
import type { JobType } from '../../api/types'

export const PAYLOAD_HELP: Record<Exclude<JobType, 'SIMULATION'>, string> = {
  WEBHOOK:
    'One delivery per attempt: {url, method?, headers?, body?, timeoutMs?, expectStatus?, signingKey?}. signingKey names a secret of the worker; never put a secret in a payload.',
  DATA_PIPELINE:
    'Steps in order, each with an optional id: SLEEP, LOG, COMPUTE, HTTP_CALL, FAIL and SCRIPT (Starlark: reads outputs["<id>"], sets result). Outputs show on the job page.',
  BATCH_PROCESS:
    'One step run once per item: {items (1 to 10,000), chunkSize?, maxFailedItems?, step}. A SCRIPT reads item and index; an HTTP_CALL or LOG fills in {{item}}, {{item.field}} and {{index}}. Items show on the job page.',
}

export const EXAMPLES: Record<Exclude<JobType, 'SIMULATION'>, unknown> = {
  WEBHOOK: {
    url: 'https://hooks.example.com/orders',
    method: 'POST',
    headers: { 'X-Tenant': 'acme' },
    body: { event: 'order.paid', orderId: 42 },
    expectStatus: [200, 202],
  },
  DATA_PIPELINE: {
    steps: [
      { id: 'order', action: 'SCRIPT', source: 'result = {"items": [{"price": 3, "qty": 2}, {"price": 5, "qty": 2}]}' },
      {
        id: 'sum',
        action: 'SCRIPT',
        source: 'total = 0\nfor it in outputs["order"]["items"]:\n    total += it["price"] * it["qty"]\nresult = {"total": total}',
      },
      { action: 'LOG', message: 'pipeline done' },
    ],
  },
  BATCH_PROCESS: {
    items: [
      { sku: 'a-1', qty: 2, price: 3 },
      { sku: 'b-2', qty: 1, price: 5 },
      { sku: 'c-3', qty: 4, price: 2 },
    ],
    chunkSize: 2,
    step: { action: 'SCRIPT', source: 'result = {"sku": item["sku"], "line": index, "total": item["qty"] * item["price"]}' },
  },
}

export function exampleText(t: Exclude<JobType, 'SIMULATION'>): string {
  return JSON.stringify(EXAMPLES[t], null, 2)
}

/** The payload text parsed, or the reason it is not JSON. */
export function parsePayload(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (e) {
    return { ok: false, error: `not JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
}
