// Package outbox implements the transactional outbox: a service writes the
// events a state change causes into its own outbox table in the same
// transaction as the change, and a relay publishes unsent rows to Kafka and
// deletes them once the broker has acknowledged them.
//
// Every service database has an outbox table (see each service's first
// migration). Delivery is at least
// once: a crash between produce and delete publishes a row again, which
// consumers absorb because they are idempotent on the event ID.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
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
	hb, _ := json.Marshal(h)
	return RowValues{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: hb}
}

// Add writes envelopes to the outbox inside tx.
func Add(ctx context.Context, tx pgx.Tx, envs ...envelope.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	rows := make([][]any, len(envs))
	for i, e := range envs {
		r := Row(e)
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

// Relay publishes unsent outbox rows.
type Relay struct {
	Pool     *pgxpool.Pool
	Producer *kgo.Client
	// Batch is how many rows one pass claims; 0 means 500.
	Batch int

	// Rows that Publish sent but has not deleted yet: deletes are grouped
	// (see Publish).
	mu        sync.Mutex
	sent      []int64
	sentSince time.Time
}

// Deletes of published rows are grouped: flushed once this many wait, or
// once the oldest has waited this long (checked on the next Publish).
const (
	deleteBatch = 64
	deleteDelay = 50 * time.Millisecond
)

// Drain publishes unsent rows until none are left that another relay has
// not locked, and returns how many it published. Rows are claimed with
// FOR UPDATE SKIP LOCKED, so concurrent relays split the work; a failed
// produce rolls back and leaves the rows for the next pass.
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
		n, err := r.pass(ctx, age)
		total += n
		if err != nil || n < r.batch() {
			return total, err
		}
	}
}

func (r *Relay) batch() int {
	if r.Batch > 0 {
		return r.Batch
	}
	return 500
}

func (r *Relay) pass(ctx context.Context, age time.Duration) (int, error) {
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("outbox: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, `
		DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE created_at <= now() - $2::interval
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING topic, key, value, headers`, r.batch(), age)
	if err != nil {
		return 0, fmt.Errorf("outbox: claim: %w", err)
	}
	var recs []*kgo.Record
	for rows.Next() {
		var (
			rec kgo.Record
			h   map[string]string
		)
		if err := rows.Scan(&rec.Topic, &rec.Key, &rec.Value, &h); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: scan: %w", err)
		}
		for _, k := range []string{"traceId", "eventId", "type"} {
			if v, ok := h[k]; ok {
				rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
		}
		recs = append(recs, &rec)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: claim: %w", err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.Producer.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("outbox: publish %d records: %w", len(recs), err)
	}
	// Published: delete the rows even if the caller's deadline has just
	// passed, or they would go out a second time.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer ccancel()
	if err := tx.Commit(cctx); err != nil {
		// Published but not deleted: the rows go out again (at least once).
		return 0, fmt.Errorf("outbox: commit after publish: %w", err)
	}
	return len(recs), nil
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
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.Producer.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("outbox: publish %d records: %w", len(recs), err)
	}
	r.mu.Lock()
	if len(r.sent) == 0 {
		r.sentSince = time.Now()
	}
	r.sent = append(r.sent, ids...)
	due := len(r.sent) >= deleteBatch || time.Since(r.sentSince) >= deleteDelay
	r.mu.Unlock()
	if due {
		return r.Flush(ctx)
	}
	return nil
}

// Flush deletes the rows Publish sent and has not deleted yet.
func (r *Relay) Flush(ctx context.Context) error {
	r.mu.Lock()
	ids := r.sent
	r.sent = nil
	r.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if _, err := r.Pool.Exec(ctx, `DELETE FROM outbox WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("outbox: delete %d published rows: %w", len(ids), err)
	}
	return nil
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
