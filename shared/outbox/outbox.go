// Package outbox implements the transactional outbox: a service writes the
// events a state change causes into its own outbox table in the same
// transaction as the change, and a relay publishes unsent rows to Kafka and
// deletes them once the broker has acknowledged them.
//
// Every service database has an outbox table (see each service's first
// migration) and an outbox_parked table (its 00003 migration) for the rows
// the broker refuses for good. Delivery is at least once: a crash between
// produce and delete publishes a row again, which consumers absorb because
// they are idempotent on the event ID. No row blocks another: each is
// published, kept for the next pass, or parked on its own.
package outbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// RowValues are the columns of one outbox row.
type RowValues struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []byte // JSON object
}

// Row returns the outbox columns for e, for callers that write the row
// with their own statement.
func Row(e envelope.Envelope) RowValues {
	r := kafka.Record(e)
	h := make(map[string]string, len(r.Headers))
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	hb, _ := envelope.JSON(h)
	return RowValues{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: hb}
}

// Add writes envelopes to the outbox inside tx. The relay's Drain
// publishes them once tx commits; Insert is Add for a caller that
// publishes them itself.
func Add(ctx context.Context, tx pgx.Tx, envs ...envelope.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	rows := make([][]any, len(envs))
	for i, e := range envs {
		r := rowFor(ctx, e)
		rows[i] = []any{r.Topic, r.Key, r.Value, r.Headers}
	}
	if len(rows) == 1 {
		_, err := tx.Exec(ctx, `INSERT INTO outbox (topic, key, value, headers) VALUES ($1, $2, $3, $4)`, rows[0]...)
		if err != nil {
			return fmt.Errorf("outbox: insert: %w", err)
		}
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"outbox"}, []string{"topic", "key", "value", "headers"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("outbox: insert %d rows: %w", len(rows), err)
	}
	return nil
}

// Insert writes envelopes to the outbox inside tx, like Add, in one
// statement, and returns the new rows' IDs in the order of envs: once tx
// commits, the caller hands both to Relay.Publish, which sends them with
// no claim, so that no relay has to scan the table for them. Rows whose
// publish fails stay for a Drain or DrainOlder. An envelope without a
// traceparent gets the one its row stores (that of ctx's span, when it is
// in the envelope's trace), written into envs, so that the record Publish
// sends and the row agree.
func Insert(ctx context.Context, tx pgx.Tx, envs ...envelope.Envelope) ([]int64, error) {
	if len(envs) == 0 {
		return nil, nil
	}
	var (
		topics       = make([]string, len(envs))
		keys, values = make([][]byte, len(envs)), make([][]byte, len(envs))
		headers      = make([]string, len(envs))
	)
	for i := range envs {
		// The traceparent the row gets goes back into envs[i], so that
		// Publish sends the record the row holds.
		if envs[i].TraceParent == "" {
			envs[i].TraceParent = tracing.TraceParentFor(ctx, envs[i].TraceID)
		}
		r := Row(envs[i])
		topics[i], keys[i], values[i], headers[i] = r.Topic, r.Key, r.Value, string(r.Headers)
	}
	// INSERT … SELECT inserts, and RETURNING returns, in the order of the
	// arrays (the api's batch submit relies on the same).
	rows, err := tx.Query(ctx, `
		INSERT INTO outbox (topic, key, value, headers)
		SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])
		RETURNING id`, topics, keys, values, headers)
	if err != nil {
		return nil, fmt.Errorf("outbox: insert %d rows: %w", len(envs), err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("outbox: insert %d rows: %w", len(envs), err)
	}
	if len(ids) != len(envs) {
		return nil, fmt.Errorf("outbox: insert %d rows: %d went in", len(envs), len(ids))
	}
	return ids, nil
}

// rowFor is e's outbox row, with the traceparent of the span in ctx when e
// carries none.
func rowFor(ctx context.Context, e envelope.Envelope) RowValues {
	if e.TraceParent == "" {
		e.TraceParent = tracing.TraceParentFor(ctx, e.TraceID)
	}
	return Row(e)
}

// Relay publishes unsent outbox rows.
type Relay struct {
	Pool     *pgxpool.Pool
	Producer *kgo.Client
	// Service names the database in the dead letters of parked rows.
	Service string
	// Log, if set, gets a line for every parked row.
	Log *slog.Logger
	// Batch is how many rows one pass claims; 0 means 500.
	Batch int

	// Rows that Publish sent but has not deleted yet: deletes are grouped
	// (see Publish).
	mu        sync.Mutex
	sent      []int64
	sentSince time.Time
	// flushTimer, while set, deletes the sent rows later: a relay that
	// gets no more calls (an idle api) still deletes what it published.
	flushTimer *time.Timer
}

// Deletes of published rows are grouped: flushed once this many wait, or
// once the oldest has waited this long (checked on the next Publish).
const (
	deleteBatch = 64
	deleteDelay = 50 * time.Millisecond
)

// Drain publishes unsent rows until none are left that another relay has
// not locked, and returns how many it published. Rows are claimed with
// FOR UPDATE SKIP LOCKED, so concurrent relays split the work. Each row is
// published on its own: those the broker took are deleted, one that it
// refused for good (kafka.Permanent: too large, invalid) is parked (moved
// to outbox_parked, with a dead letter saying so), and one that failed for
// a transient reason stays for the next pass, which Drain reports as an
// error once the rest is done. No row can block another.
func (r *Relay) Drain(ctx context.Context) (int, error) {
	return r.DrainOlder(ctx, 0)
}

// DrainOlder is Drain limited to rows at least age old: the ones a failed
// or crashed Publish left behind, without racing a Publish in flight.
func (r *Relay) DrainOlder(ctx context.Context, age time.Duration) (int, error) {
	if err := r.Flush(ctx); err != nil {
		return 0, err
	}
	total := 0
	for {
		claimed, n, err := r.pass(ctx, age)
		total += n
		if err != nil || claimed < r.batch() && claimed == n {
			return total, err
		}
		if claimed == 0 {
			return total, nil
		}
	}
}

func (r *Relay) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 500
}

// DrainRows publishes the rows ids, which the caller has just committed,
// as one Drain pass would: it claims them by primary key (FOR UPDATE SKIP
// LOCKED), publishes them and deletes them in one transaction, with no
// scan of the table. A row that a concurrent Drain claimed first is left
// to it, so no row is published twice by two relays, unlike Publish. It
// returns how many it published; rows that failed stay for a Drain (a
// transient failure, returned as an error) or are parked, as in Drain.
func (r *Relay) DrainRows(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	_, n, err := r.claimAndPublish(ctx, `
		DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE id = ANY($1) FOR UPDATE SKIP LOCKED)
		RETURNING id, topic, key, value, headers, created_at`, ids)
	return n, err
}

func (r *Relay) pass(ctx context.Context, age time.Duration) (claimed, published int, err error) {
	return r.claimAndPublish(ctx, `
		DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE created_at <= now() - $2::interval
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, topic, key, value, headers, created_at`, r.batch(), age)
}

// claimAndPublish runs one pass: claimSQL, a statement that deletes rows and
// returns them; publish them; commit, with the rows that failed put back
// or parked.
func (r *Relay) claimAndPublish(ctx context.Context, claimSQL string, args ...any) (claimed, published int, err error) {
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// One statement claims and deletes; rows that must stay are put back
	// below, in the same transaction (only when a produce failed).
	rows, err := tx.Query(ctx, claimSQL, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: claim: %w", err)
	}
	var (
		cs   []claim
		recs []*kgo.Record
	)
	for rows.Next() {
		var (
			c   claim
			rec kgo.Record
		)
		if err := rows.Scan(&c.id, &rec.Topic, &rec.Key, &rec.Value, &c.headers, &c.createdAt); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("outbox: scan: %w", err)
		}
		var h map[string]string
		_ = json.Unmarshal(c.headers, &h) // written by Row: a flat object
		for _, k := range []string{"traceId", "eventId", "type", tracing.HeaderTraceParent} {
			if v, ok := h[k]; ok {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
		}
		c.rec = &rec
		cs = append(cs, c)
		recs = append(recs, &rec)
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("outbox: claim: %w", err)
	}
	if len(recs) == 0 {
		return 0, 0, nil
	}
	var (
		park, keep []claim
		transient  error
	)
	for i, err := range r.produce(ctx, recs) {
		switch {
		case err == nil:
			published++
		case kafka.Permanent(err):
			cs[i].err = pgtext.Clean(err.Error(), 1000)
			park = append(park, cs[i])
		default:
			keep = append(keep, cs[i])
			transient = cmp.Or(transient, err)
		}
	}
	// Published: delete the rows even if the caller's deadline has just
	// passed, or they would go out a second time.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ccancel()
	if len(keep) > 0 {
		if err := putBack(cctx, tx, keep); err != nil {
			return len(recs), 0, err
		}
	}
	if len(park) > 0 {
		if err := r.park(cctx, tx, park); err != nil {
			return len(recs), 0, err
		}
	}
	if err := tx.Commit(cctx); err != nil {
		// Published but not deleted: the rows go out again (at least once).
		return len(recs), 0, fmt.Errorf("outbox: commit after publish: %w", err)
	}
	if transient != nil {
		// Those rows stay, for the next pass.
		return len(recs), published, fmt.Errorf("outbox: publish: %d of %d records failed: %w", len(keep), len(recs), transient)
	}
	return len(recs), published, nil
}

// claim is a claimed outbox row.
type claim struct {
	id        int64
	rec       *kgo.Record
	headers   []byte // as stored
	createdAt time.Time
	err       string // why the broker refused it for good
}

// putBack re-inserts rows the claim deleted but could not publish, with
// their IDs and times, for the next pass.
func putBack(ctx context.Context, tx pgx.Tx, cs []claim) error {
	ids, topics, keys, values, headers, created := columns(cs)
	if _, err := tx.Exec(ctx, `
		INSERT INTO outbox (id, topic, key, value, headers, created_at)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[], $5::jsonb[], $6::timestamptz[])`,
		ids, topics, keys, values, headers, created); err != nil {
		return fmt.Errorf("outbox: keep %d unpublished rows: %w", len(cs), err)
	}
	return nil
}

func columns(cs []claim) (ids []int64, topics []string, keys, values, headers [][]byte, created []time.Time) {
	for _, c := range cs {
		ids, topics, created = append(ids, c.id), append(topics, c.rec.Topic), append(created, c.createdAt)
		keys, values, headers = append(keys, c.rec.Key), append(values, c.rec.Value), append(headers, c.headers)
	}
	return
}

// produce sends recs and returns each one's error, in order. A record
// over kafka.MaxEventBytes is not sent: its error is kafka.ErrEventTooLarge.
func (r *Relay) produce(ctx context.Context, recs []*kgo.Record) []error {
	errs := make([]error, len(recs))
	send := make([]*kgo.Record, 0, len(recs))
	at := make(map[*kgo.Record]int, len(recs))
	for i, rec := range recs {
		if err := kafka.CheckSize(rec); err != nil {
			errs[i] = err
			continue
		}
		at[rec] = i
		send = append(send, rec)
	}
	if len(send) == 0 {
		return errs
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	end := tracing.Relay(ctx, send)
	for _, pr := range r.Producer.ProduceSync(pctx, send...) {
		if i, ok := at[pr.Record]; ok {
			errs[i] = pr.Err
		}
	}
	defer func() { end(collect(send, at, errs)) }()
	if len(send) == 1 {
		return errs
	}
	// The broker judges a whole batch: a record refused beside others may
	// have been refused for their sake. Send it again alone before
	// calling the refusal permanent.
	for i, err := range errs {
		if kafka.Permanent(err) && !errors.Is(err, kafka.ErrEventTooLarge) {
			alone := &kgo.Record{Topic: recs[i].Topic, Key: recs[i].Key, Value: recs[i].Value, Headers: recs[i].Headers}
			errs[i] = r.Producer.ProduceSync(pctx, alone).FirstErr()
		}
	}
	return errs
}

// collect is the errors of send, in its order.
func collect(send []*kgo.Record, at map[*kgo.Record]int, errs []error) []error {
	out := make([]error, len(send))
	for k, rec := range send {
		out[k] = errs[at[rec]]
	}
	return out
}

// park moves the claimed rows cs, which the broker refused for good, to
// outbox_parked, and adds for each a small OUTBOX_PARKED dead letter
// pointing at it, in tx. A parked row that is itself on the job-dead-letter
// topic gets no dead letter of its own: that one would most likely be
// refused the same way, and parking it would make another, for ever. It
// is surfaced by the OutboxParked gauge and its alarm, and by the log.
func (r *Relay) park(ctx context.Context, tx pgx.Tx, cs []claim) error {
	ids, topics, keys, values, headers, created := columns(cs)
	errs := make([]string, len(cs))
	for i, c := range cs {
		errs[i] = c.err
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO outbox_parked (outbox_id, topic, key, value, headers, created_at, error)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[], $5::jsonb[], $6::timestamptz[], $7::text[])
		RETURNING outbox_id, id`, ids, topics, keys, values, headers, created, errs)
	if err != nil {
		return fmt.Errorf("outbox: park %d rows: %w", len(cs), err)
	}
	parkedID := make(map[int64]int64, len(cs)) // outbox id -> parked id
	var outboxID, id int64
	if _, err := pgx.ForEachRow(rows, []any{&outboxID, &id}, func() error { parkedID[outboxID] = id; return nil }); err != nil {
		return fmt.Errorf("outbox: park %d rows: %w", len(cs), err)
	}
	var dead []envelope.Envelope
	for _, c := range cs {
		h := map[string]string{}
		for _, kv := range c.rec.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if r.Log != nil {
			r.Log.ErrorContext(ctx, "outbox row parked: the broker refused it for good",
				"topic", c.rec.Topic, "eventId", h["eventId"], "type", h["type"], "bytes", len(c.rec.Value),
				"parkedId", parkedID[c.id], "error", c.err)
		}
		if c.rec.Topic == envelope.TopicJobDeadLetter {
			continue
		}
		dead = append(dead, ParkedDeadLetter(r.Service, envelope.ParkedRow{
			Service: r.Service, ParkedID: parkedID[c.id], Topic: c.rec.Topic, Key: pgtext.Clean(string(c.rec.Key), 200),
			EventID: h["eventId"], EventType: h["type"], Bytes: len(c.rec.Value), Error: c.err,
		}, h["traceId"], time.Now()))
	}
	return Add(ctx, tx, dead...)
}

// Reason and error code of the dead letter of a parked outbox row.
const (
	ReasonParked = "OUTBOX_PARKED"
	CodeParked   = "OUTBOX.PARKED"
)

var parkedNS = uuid.MustParse("6f0d6c5e-4a55-4f8e-9d0b-3f2a1c7e5b90")

// ParkedDeadLetter is the dead letter that reports a parked outbox row.
// Its event ID derives from the row's service and event ID (or parked
// ID), so parking the same event twice makes one dlq entry. It is a few
// hundred bytes whatever the row's size.
func ParkedDeadLetter(service string, p envelope.ParkedRow, traceID string, now time.Time) envelope.Envelope {
	ref := p.EventID
	if ref == "" {
		ref = fmt.Sprintf("parked/%d", p.ParkedID)
	}
	eventID := uuid.NewSHA1(parkedNS, []byte(service+"/"+ref)).String()
	var jobID string
	if id, err := uuid.Parse(p.Key); err == nil {
		jobID = id.String()
	}
	traceID = pgtext.Clean(traceID, 200)
	if traceID == "" {
		traceID = eventID
	}
	dl := envelope.JobDeadLetter{
		Reason:    ReasonParked,
		ErrorCode: CodeParked,
		LastError: fmt.Sprintf("the broker refused the %s event %s for %s (%d bytes) for good: %s; the row is kept in the %s database's outbox_parked table (id %d)",
			p.EventType, p.EventID, p.Topic, p.Bytes, p.Error, service, p.ParkedID),
		Attempts: []envelope.AttemptSummary{},
		FailedAt: now.UTC(),
		Parked:   &p,
	}
	payload, _ := envelope.JSON(dl) // plain values only
	return envelope.Envelope{
		EventID: eventID,
		Type:    envelope.TypeJobDeadLetter,
		Version: envelope.Version,
		Time:    now.UTC(),
		TraceID: traceID,
		JobID:   jobID,
		Payload: payload,
	}
}

// Publish sends envs, which the caller has just committed to the outbox as
// the rows ids, straight to Kafka with no claim. The rows' delete is
// grouped with other publishes' and runs within deleteDelay, on a later
// Publish or Flush, so a busy api pays one statement per batch of jobs
// rather than per job. A row whose delete is lost (a failed publish, a
// crash) stays for a later DrainOlder; the consumers absorb the duplicate.
func (r *Relay) Publish(ctx context.Context, ids []int64, envs ...envelope.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(envs))
	for i, e := range envs {
		recs[i] = kafka.Record(e)
	}
	errs := r.produce(ctx, recs)
	var (
		sent     = make([]int64, 0, len(ids))
		firstErr error
		failed   int
	)
	for i, err := range errs {
		switch {
		case err == nil && i < len(ids):
			sent = append(sent, ids[i])
		case err != nil:
			failed++
			firstErr = cmp.Or(firstErr, err)
		}
	}
	r.mu.Lock()
	if len(r.sent) == 0 {
		r.sentSince = time.Now()
	}
	r.sent = append(r.sent, sent...)
	due := len(r.sent) >= deleteBatch || time.Since(r.sentSince) >= deleteDelay
	if !due && len(r.sent) > 0 {
		r.flushLaterLocked(deleteDelay, 0)
	}
	r.mu.Unlock()
	if firstErr != nil {
		// Those rows stay for DrainOlder, which parks them if the broker
		// refused them for good.
		return fmt.Errorf("outbox: publish: %d of %d records failed: %w", failed, len(recs), firstErr)
	}
	if due {
		return r.Flush(ctx)
	}
	return nil
}

// Flush deletes the rows Publish sent and has not deleted yet. If the
// delete fails, they are kept for the next Flush, which a timer runs.
func (r *Relay) Flush(ctx context.Context) error {
	r.mu.Lock()
	ids := r.sent
	r.sent = nil
	r.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if _, err := r.Pool.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids); err != nil {
		r.mu.Lock()
		r.sent = append(ids, r.sent...)
		r.flushLaterLocked(time.Second, 1)
		r.mu.Unlock()
		return fmt.Errorf("outbox: delete %d published rows: %w", len(ids), err)
	}
	return nil
}

// flushRetries is how many times in a row a timer's Flush may fail
// before the rows are left to the next Publish, Flush or DrainOlder.
const flushRetries = 5

// flushLaterLocked arms a timer that runs Flush after d, unless one is
// armed already; try counts the timer's failed Flushes so far. r.mu is
// held.
func (r *Relay) flushLaterLocked(d time.Duration, try int) {
	if r.flushTimer != nil || try > flushRetries {
		return
	}
	r.flushTimer = time.AfterFunc(d, func() {
		r.mu.Lock()
		r.flushTimer = nil
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Flush(ctx); err != nil {
			if r.Log != nil {
				r.Log.Warn("outbox: deleting published rows failed; retrying", "error", err.Error(), "try", try+1)
			}
			r.mu.Lock()
			if r.flushTimer != nil {
				// Flush armed the first retry; count this one instead.
				r.flushTimer.Stop()
				r.flushTimer = nil
			}
			r.flushLaterLocked(time.Duration(try+1)*time.Second, try+1)
			r.mu.Unlock()
		}
	})
}

// Backlog returns how many rows wait and the age of the oldest.
func Backlog(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (n int64, oldest time.Duration, err error) {
	var age *float64
	err = q.QueryRow(ctx, `SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM outbox`).Scan(&n, &age)
	if age != nil {
		oldest = time.Duration(*age * float64(time.Second))
	}
	return n, oldest, err
}

// Parked returns how many rows wait in outbox_parked for an operator: the
// OutboxParked gauge. They stay until deleted by hand.
func Parked(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (n int64, err error) {
	err = q.QueryRow(ctx, `SELECT count(*) FROM outbox_parked`).Scan(&n)
	return n, err
}

// Counts returns how many rows wait to be published and how many are
// parked, in one statement: what GET /api/system shows of each service's
// outbox.
func Counts(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (pending, parked int64, err error) {
	err = q.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM outbox_parked)`).Scan(&pending, &parked)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: count the pending and parked rows: %w", err)
	}
	return pending, parked, nil
}
