// Package worker is the worker service: it runs the steps of the run-job
// events the scheduler dispatches and reports each attempt's outcome as a
// job-completed or job-failed event.
//
// # Batches
//
// Lambda's Kafka event-source mapping hands the worker a batch of run-job
// records. HandleKafka decodes them all, asks the database once which of
// them already finished (a redelivery), and runs the others concurrently
// without holding a database connection, each once it gets a slot of its
// class (slots.go): CPU-bound attempts (a SCRIPT or COMPUTE step) at most
// Config.Concurrency at once in the process, I/O-bound ones (SLEEP,
// HTTP_CALL, WEBHOOK, LOG, FAIL only) at most Config.IOConcurrency. Each attempt is started through the scheduler right before
// it runs (Config.Scheduler, internalapi.PathAttemptsStart): the records
// that get free slots at the same moment are started in one call, a
// record the scheduler refuses (a superseded dispatch, a cancelled or
// finished job) is skipped, and the attempt's steps stop before its lease
// ends. Each result is stored (an executions row and its result event in
// the outbox, in one transaction with whatever other results are waiting)
// and published as soon as its attempt ends, never held behind a slower
// neighbour: by its outbox row's ID (outbox.Insert, Relay.Publish), with
// no scan of the outbox; a redelivered batch, or one whose publish failed,
// drains the whole outbox before it returns. Records that get no slot before the invocation's step
// deadline are released to the scheduler, which dispatches them again
// without charging an attempt. If storing or publishing fails, the handler
// returns the error, the mapping retries the batch, the finished attempts
// are skipped, and the relay runs again.
//
// # Idempotency
//
// An attempt is keyed by its run-job event ID (executions.event_id). Once
// an attempt has finished, a redelivered run-job never runs its steps
// again. When two deliveries race, both may run, but the insert is ON
// CONFLICT DO NOTHING and only the delivery whose row went in writes the
// result event. Result event IDs are derived from the run-job event ID, so
// even a duplicate would carry the same ID.
//
// # Failures
//
//   - A failing step fails the attempt (WORKER.STEP_FAILED); later steps are
//     SKIPPED. The scheduler decides about a retry.
//   - Steps stop Config.DeadlineMargin before the invocation's deadline (or
//     their attempt's lease); the attempt then ends YIELDED (see Durable
//     resume), and the handler still records the result in time. A step
//     that ignores its context is abandoned as WORKER.DEADLINE_EXCEEDED.
//   - A start call the scheduler does not answer fails the batch after the
//     started attempts are recorded: the mapping delivers it again.
//   - A job whose steps cannot be parsed fails permanently
//     (WORKER.INVALID_JOB, Permanent=true).
//   - A step may fail with its own code (step.CodedError): a SCRIPT over
//     its budget (WORKER.SCRIPT_BUDGET_EXCEEDED) or in error
//     (WORKER.SCRIPT_FAILED), a WEBHOOK answered outside expectStatus
//     (WORKER.WEBHOOK_UNEXPECTED_STATUS), an output over its limit
//     (WORKER.STEP_OUTPUT_TOO_LARGE): all retried. A WEBHOOK whose
//     signingKey is not in Config.SigningKeys fails permanently
//     (WORKER.WEBHOOK_SIGNING_KEY_UNKNOWN).
//
// # Job types and outputs
//
// Attempts are parsed with the job-type registry (Config.Types,
// jobspec.Default). For the types that keep outputs (WEBHOOK,
// DATA_PIPELINE), each step's output (step.Producer) is stored in
// step_outputs with the attempt's executions row, and the outputs of the
// steps with an id are handed to later steps (step.Env.Outputs).
//   - A poison record (an undecodable envelope, or one that is not a RunJob)
//     never fails the batch: it becomes a JobDeadLetter with reason
//     POISON_RECORD whose event ID is derived from the record's topic,
//     partition and offset, so a redelivery yields the same event.
//
// # Durable resume
//
// Each step that finishes is checkpointed (step_checkpoints) in its own
// transaction before the next starts, and every attempt of a job resumes
// at the first step without a checkpoint: finished steps never run again
// (they show resumed: true) and their outputs feed later steps. A step is
// at-least-once within itself, exactly-once once checkpointed.
//   - A deadline cut ends the attempt YIELDED (WORKER.YIELDED, yielded:
//     true): the scheduler dispatches the job again at once, uncharged.
//     After DurableConfig.MaxIdleYields yields in a row without a new
//     checkpoint the job fails for good (WORKER.STEP_EXCEEDS_TIMEOUT).
//   - A SLEEP longer than DurableConfig.ParkThreshold is checkpointed with
//     its wake time and the attempt ends PARKED (WORKER.PARKED, parkUntil):
//     the scheduler keeps the job WAITING until then, holding no worker.
//   - A WAIT_FOR_CALLBACK step without its result in the run-job
//     (envelope.RunJob.Callback) ends the attempt PARKED with parkUntil
//     its timeout and awaitCallback naming it (callback.go); with the
//     result, the step's output is the callback's body, or it fails with
//     WORKER.CALLBACK_TIMEOUT, permanently.
//   - The run-job invocations prune (prune.go) the checkpoints of jobs
//     whose newest one is older than Config.CheckpointRetention, and old
//     job_yields rows, in bounded batches at most every 30 s.
//
// See docs/reliability.md, Durable resume.
//
// # Internal HTTP
//
// GET /internal/executions/{jobId}?page&size lists a job's attempts,
// oldest first, with each step's outcome and kept output (see Execution).
// GET /internal/items/{jobId}?limit&cursor&status pages a BATCH_PROCESS
// job's item results by index (batch.go: chunks, checkpoints, retries).
package worker
