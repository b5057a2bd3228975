// The public API's shapes (docs/openapi.yaml). The console uses nothing else.

/** WAITING: parked (a long SLEEP, a WAIT_FOR_CALLBACK) until `waitingUntil` or a callback; it costs no worker meanwhile. */
export type JobStatus = 'PENDING' | 'RUNNING' | 'WAITING' | 'COMPLETED' | 'FAILED' | 'CANCELLED'
export const JOB_STATUSES: JobStatus[] = ['PENDING', 'RUNNING', 'WAITING', 'COMPLETED', 'FAILED', 'CANCELLED']
export const JOB_TYPES = ['SIMULATION', 'WEBHOOK', 'DATA_PIPELINE', 'BATCH_PROCESS'] as const
export type JobType = (typeof JOB_TYPES)[number]

export interface Page<T> {
  content: T[]
  page: number
  size: number
  totalElements: number
  totalPages: number
  totalIsEstimate?: boolean
  nextCursor?: string
  /** GET /api/jobs?updatedSince=…: the server time to pass as the next updatedSince. */
  asOf?: string
}

export interface JobSummary {
  jobId: string
  jobType: string
  maxRetryCount: number
  traceId: string
  status: JobStatus
  attempts: number
  lastError: string | null
  lastErrorCode: string | null
  truncated?: boolean
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  updatedAt: string
  nextRunAt: string | null
  /** A WAITING job's wake time (RFC 3339), when it has one. */
  waitingUntil?: string | null
}

export type Step =
  | { action: 'SLEEP'; durationMs: number }
  | { action: 'LOG'; message: string }
  | { action: 'COMPUTE'; iterations: number }
  | {
      action: 'HTTP_CALL'
      url?: string
      method?: string
      headers?: Record<string, string>
      body?: unknown
      timeoutMs?: number
      latencyMs?: number
    }
  | { action: 'FAIL'; message?: string; failTimes?: number }

/** A DATA_PIPELINE step: SIMULATION's kinds and SCRIPT, each with an optional id. */
export type PipelineStep = (Step | { action: 'SCRIPT'; source: string; timeoutMs?: number }) & { id?: string }

/** A WEBHOOK job's payload: one delivery per attempt. signingKey is a secret's name, never a secret. */
export interface WebhookPayload {
  url: string
  method?: string
  headers?: Record<string, string>
  body?: unknown
  timeoutMs?: number
  expectStatus?: number[]
  signingKey?: string
}

/** The payload as the job type shapes it; the views read it by jobType. */
export type JobPayload = { steps: PipelineStep[] } | WebhookPayload | Record<string, unknown>

export interface Job extends JobSummary {
  payload: JobPayload
  /** While WAITING at a WAIT_FOR_CALLBACK step: its open wait. */
  callback?: JobCallback | null
}

/** A WAIT_FOR_CALLBACK step's open wait: POST any JSON to `url` (no API key; the token is the credential, good once). */
export interface JobCallback {
  token: string
  url: string
  stepIndex: number
  stepId?: string
  expiresAt: string
}

export interface JobSubmission {
  jobType: string
  payload: JobPayload
  maxRetryCount?: number
}

export interface Accepted {
  jobId: string
  traceId: string
}

export interface ExecutionStep {
  index: number
  action: string
  status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'INTERRUPTED' | 'PARKED'
  durationMs: number
  error: string | null
  /** Finished in an earlier attempt (its checkpoint): not run again. */
  resumed?: boolean
  /** The step's id, when it has one and an output. */
  id?: string
  /** The step's output (WEBHOOK and DATA_PIPELINE jobs): any JSON. */
  output?: unknown
  /** The page's outputs passed 4 MiB: this one was left out. */
  outputOmitted?: boolean
}

/** One finished item of a BATCH_PROCESS job (GET /api/jobs/{id}/items). */
export interface BatchItem {
  index: number
  status: 'SUCCEEDED' | 'FAILED'
  attempt: number
  output?: unknown
  outputOmitted?: boolean
  errorCode?: string
  error?: string
}

/** A BATCH_PROCESS step's output in /executions. */
export interface BatchOutput {
  total: number
  succeeded: number
  failed: number
  pending?: number
  maxFailedItems: number
  chunkSize: number
  chunks: number
  pass: number
  ranItems: number
  firstError?: { index: number; errorCode: string; error: string }
}

export interface Execution {
  eventId: string
  attempt: number
  /** YIELDED: cut by the deadline, uncharged; PARKED: a long SLEEP parked the job. */
  status: 'COMPLETED' | 'FAILED' | 'YIELDED' | 'PARKED'
  startedAt: string
  finishedAt: string
  durationMs: number
  errorCode: string | null
  error: string | null
  steps: ExecutionStep[]
}

export type HistoryEventType =
  | 'SUBMITTED'
  | 'DISPATCHED'
  | 'STARTED'
  | 'ATTEMPT_COMPLETED'
  | 'ATTEMPT_FAILED'
  | 'LEASE_EXPIRED'
  | 'RETRY_SCHEDULED'
  | 'DEAD_LETTERED'
  | 'MANUAL_RETRY'
  | 'ATTEMPT_YIELDED'
  | 'PARKED'
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'

export interface HistoryEvent {
  at: string
  type: HistoryEventType
  attempt?: number
  message?: string
  errorCode?: string
  by?: string
  dlqId?: string
  nextRunAt?: string
}

export interface JobHistory {
  jobId: string
  events: HistoryEvent[]
}

export type DeadLetterStatus = 'NEW' | 'RETRIED' | 'DISMISSED' | 'REPLAYED' | 'PARTLY_REPLAYED'
export const DLQ_STATUSES: DeadLetterStatus[] = ['NEW', 'RETRIED', 'DISMISSED', 'REPLAYED', 'PARTLY_REPLAYED']
export const DLQ_REASONS = [
  'RETRIES_EXHAUSTED',
  'PERMANENT_FAILURE',
  'POISON_RECORD',
  'MAPPING_FAILURE',
  'OUTBOX_PARKED',
] as const

export interface DeadLetter {
  /** The dead-lettered event's ID: the entry's ID. */
  id: string
  jobId: string | null
  traceId: string
  jobType: string | null
  reason: string
  status: DeadLetterStatus
  errorCode: string | null
  lastError: string | null
  attempts: Record<string, unknown>[]
  failedAt: string | null
  truncated?: boolean
  resolvedAt?: string | null
  resolvedBy?: string | null
  payload?: unknown
  [extra: string]: unknown
}

export interface DeadLetterFilter {
  status?: string
  jobType?: string
  errorCode?: string
  reason?: string
  traceId?: string
  from?: string
  to?: string
}

export interface DeadLetterAction {
  dlqId: string
  jobId: string | null
  status: DeadLetterStatus
}

export interface OperationAccepted {
  operationId: string
}

export interface Operation {
  operationId: string
  kind: 'DLQ_RETRY' | 'DLQ_DISMISS'
  status: 'RUNNING' | 'COMPLETED' | 'FAILED'
  total: number
  done: number
  failed: number
  startedAt: string
  finishedAt: string | null
}

export interface SystemStatus {
  generatedAt: string
  source: 'local' | 'aws'
  functions: { name: string; status: 'UP' | 'DOWN'; error?: string }[] | null
  throughput: { bucketSeconds: number; points: { at: string; completed: number; failed: number }[] } | null
  lag: { consumer: string; topic: string; group: string; lag: number }[] | null
  outbox: { service: string; pending: number; parked: number }[] | null
  due: { count: number; oldestAgeSeconds: number } | null
  running: { count: number } | null
  dlq: { open: number } | null
  errors?: Record<string, string>
}

export interface ApiErrorBody {
  timestamp: string
  status: number
  errorCode: string
  message: string
  traceId: string
  jobId?: string
  details?: string[]
}

export type Role = 'viewer' | 'operator' | 'admin'

/** GET /api/whoami: the caller, its role and the API's API_AUTH mode. */
export interface Whoami {
  caller: string
  role: Role
  auth: 'none' | 'keys' | 'jwt' | 'keys,jwt'
  name?: string
}

/** An API key in GET /api/keys: never the key itself. */
export interface ApiKey {
  id: string
  prefix: string
  name: string
  role: Role
  createdBy: string
  createdAt: string
  lastUsedAt: string | null
  expiresAt: string | null
  revokedAt: string | null
}

/** POST /api/keys's answer: the only time the key is shown. */
export interface CreatedKey {
  id: string
  key: string
  prefix: string
  name: string
  role: Role
  expiresAt: string | null
}

export interface AuditEntry {
  id: string
  at: string
  caller: string
  action: string
  target: string
  detail: Record<string, unknown>
}
