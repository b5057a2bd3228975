// Package dlq is the dead-letter service: it stores every job-dead-letter
// event (a job that ran out of retries or failed permanently, or a record
// some consumer could not decode), takes in and replays the Kafka batches
// an event-source mapping gave up on, and serves the entries to the api.
//
// # Storing
//
// HandleKafka stores a batch in one transaction with a set-based insert
// that is idempotent on the event ID (dead_letters.event_id), so
// redelivered events are stored once. A record the dlq cannot decode is
// itself stored, as a POISON_RECORD entry holding the raw value, under an
// ID derived from its topic, partition and offset: it never fails the
// batch and never loops. Should a value still be refused by Postgres (a
// data error), the batch is stored row by row and only the refused parts
// of that entry are dropped, with a note in its lastError.
//
// Every newly stored entry is logged at error level ("dead letter
// stored", with its reason and error code), the hook for alarms.
//
// # Mapping failures
//
// In AWS, a Kafka event-source mapping that gives up on a batch sends its
// topic-partition offset ranges to the mapping-failures queue, which feeds
// HandleSQS. Each range is stored as a MAPPING_FAILURE entry (idempotent
// on the range), read back from Kafka by offset and produced again to its
// topic with a ReplayHeader count, so that a batch skipped during an
// outage is processed after all (the consumers are idempotent). A record
// that already went round MaxReplays times is left for an operator
// (status PARTLY_REPLAYED). What cannot be stored or replayed yet is
// reported back to the queue, which delivers it again.
//
// # Management
//
// An entry is NEW until an operator retries it (Retry: the scheduler runs
// its job again, internalapi.PathJobRetry, idempotent per entry; the
// entry becomes RETRIED) or dismisses it (Dismiss: DISMISSED), each with
// when and by whom. Bulk operations (CreateOperation, by IDs or by
// filter) are rows of the operations table, worked in chunks by Maintain
// (RunChunk: up to ChunkSize entries, each chunk one transaction with the
// operation's cursor, so a crash resumes after the last committed chunk).
// Maintain also prunes by retention (PruneUntil: DLQ_RETENTION,
// DLQ_MAX_ENTRIES). The api starts Maintain after each bulk request, and
// the scheduler's tick every few seconds.
//
// Maintain also retries the notifications whose backoff has passed.
//
// # Notifications
//
// With DLQ_WEBHOOK_URL or DLQ_SNS_TOPIC_ARN set, the transaction that
// stores new entries also queues them (notify_queue); a delivery pass
// right after the ingest, and DeliverNotifications from the maintenance
// tick, pack them into batches and send each batch as a signed webhook
// POST (shared/webhook) and an SNS message, retrying failed deliveries
// with capped exponential backoff. See notify.go and
// docs/notifications.md.
//
// # Internal HTTP
//
//	GET  /internal/dlq?page&size&filters   entry summaries, newest first (or ?cursor&size); filters: status, jobType, errorCode, reason, traceId, from, to
//	GET  /internal/dlq/{id}                one entry by event ID
//	POST /internal/dlq/{id}/retry          {by}: 202 {dlqId, jobId, status}
//	POST /internal/dlq/{id}/dismiss        {by}: 200 {dlqId, jobId, status}
//	POST /internal/dlq/operations          {kind, ids | filter, by}: 202 {operationId}
//	GET  /internal/dlq/operations/{id}     an operation's progress
//	POST /internal/dlq/maintain            work on operations and retention for up to DLQ_MAINTAIN_BUDGET
package dlq
