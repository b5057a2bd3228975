// Package dlq is the dead-letter service: it stores every job-dead-letter
// event (a job that ran out of retries or failed permanently, or a record
// some consumer could not decode) and serves them to the api.
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
// # Internal HTTP
//
//	GET /internal/dlq?page&size   entries, newest first
//	GET /internal/dlq/{id}        one entry by event ID
package dlq
