// Test fixtures: jobs, executions and history as the API returns them.
import type { Execution, ExecutionStep, HistoryEvent, Job, JobSummary } from '../../api/types'

export const JOB_ID = '01a242e6-41ed-752c-8b1e-5965eceb5493'

export function summary(n: number, over: Partial<JobSummary> = {}): JobSummary {
  const tail = String(n).padStart(12, '0')
  return {
    jobId: `01a242e6-41ed-752c-8b1e-${tail}`,
    jobType: 'SIMULATION',
    maxRetryCount: 3,
    traceId: `trace-${n}`,
    status: 'COMPLETED',
    attempts: 1,
    lastError: null,
    lastErrorCode: null,
    truncated: false,
    createdAt: '2026-12-04T21:11:56.000Z',
    startedAt: '2026-12-04T21:11:56.100Z',
    finishedAt: '2026-12-04T21:11:56.400Z',
    updatedAt: '2026-12-04T21:11:56.400Z',
    nextRunAt: null,
    ...over,
  }
}

export function job(over: Partial<Job> = {}): Job {
  return {
    ...summary(0),
    jobId: JOB_ID,
    traceId: 'b6c6d2bb-3630-49fe-a67e-53d1c9a64fe5',
    status: 'COMPLETED',
    attempts: 3,
    lastError: 'step 2 (FAIL) failed: step failed: flaky',
    lastErrorCode: 'WORKER.STEP_FAILED',
    createdAt: '2026-12-04T21:11:56.000Z',
    startedAt: '2026-12-04T21:11:56.100Z',
    finishedAt: '2026-12-04T21:11:59.700Z',
    updatedAt: '2026-12-04T21:11:59.700Z',
    payload: {
      steps: [
        { action: 'LOG', message: 'hi' },
        { action: 'SLEEP', durationMs: 200 },
        { action: 'FAIL', message: 'flaky', failTimes: 2 },
      ],
    },
    ...over,
  }
}

function steps(failed: boolean): ExecutionStep[] {
  return [
    { index: 0, action: 'LOG', status: 'SUCCEEDED', durationMs: 0, error: null },
    { index: 1, action: 'SLEEP', status: 'SUCCEEDED', durationMs: 200, error: null },
    failed
      ? { index: 2, action: 'FAIL', status: 'FAILED', durationMs: 0, error: 'step failed: flaky' }
      : { index: 2, action: 'FAIL', status: 'SUCCEEDED', durationMs: 0, error: null },
  ]
}

/** An attempt from start to start+dur (ms after 21:11:56). */
export function execution(attempt: number, startMs: number, durMs: number, failed: boolean): Execution {
  const base = Date.parse('2026-12-04T21:11:56.000Z')
  return {
    eventId: `ev-${attempt}`,
    attempt,
    status: failed ? 'FAILED' : 'COMPLETED',
    startedAt: new Date(base + startMs).toISOString(),
    finishedAt: new Date(base + startMs + durMs).toISOString(),
    durationMs: durMs,
    errorCode: failed ? 'WORKER.STEP_FAILED' : null,
    error: failed ? 'step 2 (FAIL) failed: step failed: flaky' : null,
    steps: steps(failed),
  }
}

/** Three attempts: 1 fails (100–300), waits 1 s, 2 fails (1300–1500), waits 2 s, 3 succeeds (3500–3700). */
export const EXECUTIONS: Execution[] = [execution(1, 100, 200, true), execution(2, 1300, 200, true), execution(3, 3500, 200, false)]

export function at(msAfter: number): string {
  return new Date(Date.parse('2026-12-04T21:11:56.000Z') + msAfter).toISOString()
}

export const HISTORY: HistoryEvent[] = [
  { at: at(0), type: 'SUBMITTED' },
  { at: at(50), type: 'DISPATCHED', attempt: 1 },
  { at: at(100), type: 'STARTED', attempt: 1 },
  { at: at(300), type: 'ATTEMPT_FAILED', attempt: 1, errorCode: 'WORKER.STEP_FAILED', message: 'step failed: flaky' },
  { at: at(300), type: 'RETRY_SCHEDULED', attempt: 2, nextRunAt: at(1300) },
  { at: at(1300), type: 'STARTED', attempt: 2 },
  { at: at(1500), type: 'ATTEMPT_FAILED', attempt: 2, errorCode: 'WORKER.STEP_FAILED' },
  { at: at(1500), type: 'FAILED', errorCode: 'WORKER.STEP_FAILED' },
  { at: at(1500), type: 'DEAD_LETTERED', dlqId: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' },
  { at: at(3000), type: 'MANUAL_RETRY', by: 'anonymous', dlqId: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' },
  { at: at(3500), type: 'STARTED', attempt: 3 },
  { at: at(3700), type: 'ATTEMPT_COMPLETED', attempt: 3 },
  { at: at(3700), type: 'COMPLETED' },
]

/** A DATA_PIPELINE job: HTTP_CALL "cart" → SCRIPT "sum" → LOG, as docs/job-types.md's example. */
export const PIPELINE_SOURCE = 'total = 0\nfor it in outputs["cart"]["body"]["items"]:\n    total += it["price"] * it["qty"]\nresult = {"total": total}'

export function pipelineJob(over: Partial<Job> = {}): Job {
  return job({
    jobType: 'DATA_PIPELINE',
    attempts: 1,
    lastError: null,
    lastErrorCode: null,
    payload: {
      steps: [
        { id: 'cart', action: 'HTTP_CALL', url: 'https://shop.example.com/api/cart/7', headers: { Accept: 'application/json' } },
        { id: 'sum', action: 'SCRIPT', source: PIPELINE_SOURCE },
        { action: 'LOG', message: 'pipeline done' },
      ],
    },
    ...over,
  })
}

/** The cart's answer: long enough (30 items) that its output starts folded. */
export const CART_OUTPUT = {
  status: 200,
  headers: { 'Content-Type': 'application/json' },
  body: { items: Array.from({ length: 30 }, (_, i) => ({ sku: `sku-${i}`, price: 1, qty: 1 })) },
  bodyBytes: 1234,
}

export function pipelineExecution(over: Partial<ExecutionStep>[] = []): Execution {
  const steps: ExecutionStep[] = [
    { index: 0, action: 'HTTP_CALL', status: 'SUCCEEDED', durationMs: 40, error: null, id: 'cart', output: CART_OUTPUT },
    { index: 1, action: 'SCRIPT', status: 'SUCCEEDED', durationMs: 3, error: null, id: 'sum', output: { total: 30 } },
    { index: 2, action: 'LOG', status: 'SUCCEEDED', durationMs: 0, error: null },
  ]
  return { ...execution(1, 100, 200, false), steps: steps.map((s, i) => ({ ...s, ...over[i] })) }
}

/** A WEBHOOK job, signed with the worker's key "partner-a" (its name, never its secret). */
export function webhookJob(over: Partial<Job> = {}): Job {
  return job({
    jobType: 'WEBHOOK',
    attempts: 1,
    lastError: null,
    lastErrorCode: null,
    payload: {
      url: 'https://hooks.example.com/orders',
      headers: { 'X-Tenant': 'acme' },
      body: { event: 'order.paid', orderId: 42 },
      expectStatus: [200, 202],
      signingKey: 'partner-a',
    },
    ...over,
  })
}

export function webhookExecution(): Execution {
  return {
    ...execution(1, 100, 200, false),
    steps: [
      {
        index: 0,
        action: 'WEBHOOK',
        status: 'SUCCEEDED',
        durationMs: 120,
        error: null,
        output: { status: 202, headers: { 'Content-Length': '0' }, bytes: 0 },
      },
    ],
  }
}
