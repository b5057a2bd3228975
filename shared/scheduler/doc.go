// Package scheduler is JobWeaver's job state machine: it ingests submitted
// jobs, dispatches due ones to the workers, applies their results, retries
// failures with capped exponential backoff, rescues attempts whose lease
// ran out, and dead-letters jobs that cannot succeed.
//
// # States
//
//	PENDING(attempts=n-1) ──dispatch──▶ RUNNING(attempt n, dispatched: no lease)
//	RUNNING(dispatched) ──started by a worker──▶ RUNNING(started: lease)
//	RUNNING(dispatched) ──released, or queue timeout──▶ PENDING(attempts=n-1): not charged
//	RUNNING(started) ──completed──▶ COMPLETED
//	RUNNING(started) ──failed or lease expired, retries left──▶ PENDING(attempts=n, retry queue)
//	RUNNING(started) ──failed or lease expired, no retries left / permanent──▶ FAILED (+ job-dead-letter)
//	PENDING|RUNNING ──cancel──▶ CANCELLED
//	FAILED(attempts=n) ──manual retry──▶ PENDING(attempts=n, due now, a fresh budget from n)
//
// Every state change bumps jobs.version and is written WHERE version = the
// version read (optimistic locking), inside the transaction that also
// writes the events it causes to the outbox.
//
// # Triggers
//
// One function serves three triggers, routed by [Service.Handle]:
//
//   - Kafka (job-created, job-completed, job-failed): [Service.HandleKafka]
//     applies the whole batch in one transaction with set-based SQL (its
//     results, then its new jobs, which it may dispatch at once: see
//     Dispatch), then runs a dispatch pass unless that transaction
//     left none owed, so a fresh job goes out at once, and publishes the
//     outbox rows it committed by their IDs (no scan of the outbox; at
//     most once a second a process drains it whole, for rows a failed or
//     crashed invocation left). Job-created is idempotent on the job ID; results are
//     idempotent on the event ID (processed_events). Undecodable records are
//     poison: they become a POISON_RECORD dead letter and never fail the
//     batch.
//   - Schedule (EventBridge): [Service.Tick] loops [Service.RunOnce] until
//     shortly before the invocation's deadline. A pass rescues expired
//     leases, dispatches due jobs and drains the outbox.
//   - HTTP (internal API Gateway v2 calls from the api, the worker and
//     the dlq): [Service.HTTPHandler] serves a job's status, the filtered
//     job list (summaries: [internalapi.JobSummary], by page or keyset
//     cursor, or the changes since a time), cancellation and a job's
//     history ([internalapi.PathJobStatus], [internalapi.PathJobs],
//     [internalapi.PathJobCancel] and [internalapi.PathJobHistory]) to
//     the api, the manual retry of a FAILED job ([internalapi.PathJobRetry])
//     to the dlq, and attempt starts and releases
//     ([internalapi.PathAttemptsStart], [internalapi.PathAttemptsRelease])
//     to the worker. Package internalapi holds these routes and their wire
//     types.
//
// # Retry budgets and history
//
// A job with maxRetryCount r runs at most r+1 attempts per budget; a
// manual retry starts a new budget (jobs.budget_base: the attempts made
// before it), and attempt numbers carry on. The history is derived from
// the job, its attempts and its manual retries (history.go); the hot path
// writes nothing for it.
//
// # Leases
//
// A lease measures work, not waiting. Dispatch gives the job's attempt a
// dispatch ID (the run-job record's event ID) and no lease. A worker
// starts the attempt right before running it ([Service.StartAttempts]):
// only the job's current dispatch starts, and its lease (Config.Lease)
// runs from then. Records a worker could not start are released
// ([Service.ReleaseAttempts]) and an attempt no worker started within
// Config.QueueTimeout is taken back: either way the job is PENDING again,
// its attempt not charged, and the old record is refused if it comes.
// [Service.Redrive] dispatches every RUNNING job again, uncharged, for a
// broker that lost its log.
//
// The lease and the start time live on the attempt row
// (job_attempts.lease_until, started_at), next to its dispatch ID: a
// start (or a renewal, the same dispatch started again) updates that
// row only, changing no indexed column, so the update is HOT and the
// wide jobs row with its indexes is not rewritten (migration 00012). The
// start locks the attempt row and checks it on its latest version: every
// change that ends an attempt or supersedes its dispatch (a result, a
// rescue, a cancel, a return, a re-drive) writes or deletes that row
// under its job's lock, so a start and such a change exclude each other.
// The rescue and the queue timeout find their candidates among the open
// attempts (outcome IS NULL: job_attempts_open_idx, at most MaxInFlight
// rows on a few recent pages), then check and lock the job and the
// attempt, skipping either if held. The job's views show its current
// attempt's lease and, while the first started attempt runs, its start
// time (jobs.started_at gets it when that attempt ends); a start changes
// neither the job's version nor its updated_at. Migration 00012 copies running jobs'
// leases to their attempts; a lease the older code sets on
// jobs.lease_until during an update still counts: the later of the two
// is the lease.
//
// # Dispatch
//
// A pass claims up to min(BatchSize, MaxInFlight - running) jobs due
// (next_run_at <= now(), Postgres' clock; running: the sum of
// jobs_running, which triggers on jobs keep) from two queues, fresh
// (attempts = 0) and retries (attempts > 0), each with FOR UPDATE SKIP
// LOCKED in next_run_at order. ceil(n·FreshRatio) slots are reserved for
// fresh jobs and the rest for retries; a queue with fewer due jobs than its
// share gives the rest to the other (work-conserving). Dispatch passes take
// a transaction-scoped advisory lock, so concurrent passes never overshoot
// MaxInFlight; SKIP LOCKED keeps them from waiting on rows that result or
// cancel transactions hold. A pass that finds no job due ends without
// taking the lock.
//
// The Kafka batch that ingests new jobs dispatches them itself when it
// can do so as a pass would: after applying its results, unless a job is
// due, it takes the same lock, and if neither queue has a job due once it
// holds it, it inserts up to min(BatchSize, MaxInFlight - running) of
// them RUNNING with their attempt rows and run-job events, exactly as a
// claim would leave them (the rest PENDING). A redelivered job-created,
// whatever its job's state, is never dispatched again (only IDs the
// insert returns are). A batch that applied no results, found nothing
// due and dispatched every job it inserted owes no pass and runs none.
// The lock comes after the batch's result rows, and its holders wait
// for no lock its waiters hold (see ingest in consume.go), so the order
// has no cycle.
//
// # Results and retries
//
// A result applies only to the job's current attempt. A success applies
// to a RUNNING job and to a PENDING one (a late success after a lease
// rescue is still a success); a failure applies only to a RUNNING job.
// A failure with retries left (attempts-1 < maxRetryCount) makes the job
// PENDING again after min(BackoffBase·2^(attempts-1), BackoffCap) with
// ±Jitter; the cap is a hard ceiling. A permanent failure or an exhausted
// budget makes it FAILED and publishes a job-dead-letter event listing
// every attempt. Results for cancelled jobs are ignored.
//
// A started attempt whose lease has run out is rescued as a failed
// attempt with error code SCHEDULER.LEASE_EXPIRED.
//
// # Yields and parks (durable resume)
//
// A job-failed result with yielded: true (the worker's deadline cut the
// attempt, its finished steps checkpointed) records the attempt YIELDED
// and makes the job PENDING, due now; one with parkUntil (a long SLEEP)
// records it PARKED and makes the job WAITING with next_run_at = the wake
// time (waitingUntil in the job's views). Neither is charged: the job's
// budget base moves up by one. Each pass wakes the due WAITING jobs
// (PENDING, due now) before it dispatches, so they go out on the same
// fair queues as retries. A WAITING job can be cancelled.
//
// # Callbacks (WAIT_FOR_CALLBACK)
//
// A park with awaitCallback also opens a wait in job_callbacks: a fresh
// one-use token (crypto/rand) for the step, expiring at the park's wake
// time. POST internalapi.PathJobCallback takes a callback if the job is
// WAITING with that token, unexpired: under the job's row lock it clears
// the token, keeps the body and makes the job PENDING, due now, and then
// dispatches at once. The wake pass takes the same lock and needs WAITING
// too, so a callback and the timeout never both win. Every later run-job
// of the job carries the wait's result (the body, or timedOut once an
// unanswered wait's time has passed) until the job waits again; a manual
// retry forgets a timed-out wait. See callback.go.
//
// # Housekeeping
//
// Result event IDs are kept in processed_events for 14 days, well past
// Kafka's default retention; a pass prunes older ones at most once a
// minute.
package scheduler
