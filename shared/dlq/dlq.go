package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/poison"
	"github.com/jobweaver/jobweaver/shared/trace"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// Reasons and codes the dlq itself assigns.
const (
	ReasonPoisonRecord = "POISON_RECORD"
	CodePoisonRecord   = "DLQ.POISON_RECORD"
	StatusNew          = "NEW"
)

// PoisonEventID is the ID under which the undecodable record at
// topic/partition/offset is stored: the same for every delivery
// (poison.EventID, shared by every service).
func PoisonEventID(topic string, partition, offset int64) string {
	return poison.EventID(topic, partition, offset)
}

// Service is the dlq.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool
	log     *slog.Logger
	handler http.Handler
	metrics *metrics.Emitter
	// producer and kafka replay mapping failures (nil producer: no replay).
	producer *kgo.Client
	kafka    kafka.Config
	// triggers routes Handle's payloads by their trigger.
	triggers trigger.Router
	// lastPrune is when Maintain last pruned (UnixNano).
	lastPrune atomic.Int64
	// onStored are called with the entries each batch stored for the
	// first time (entriesStored: the notifications' hook).
	onStored []func(context.Context, []Entry)
	// notify sends new entries to the webhook and SNS (notify.go).
	notify *notifier
}

// New validates cfg and builds the dlq; deps.Pool is required.
func New(cfg Config, deps *wiring.Deps) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps == nil || deps.Pool == nil {
		return nil, errors.New("dlq: deps need a Pool")
	}
	log := deps.Log
	if log == nil {
		log = logging.Discard()
	}
	m := cfg.Metrics
	if m == nil {
		m = metrics.ForMode(cfg.MetricsMode, os.Stdout, "dlq")
	}
	s := &Service{cfg: cfg, pool: deps.Pool, log: log, metrics: m, producer: deps.Producer, kafka: deps.Kafka}
	n, err := newNotifier(cfg.Notify, deps.Pool, log)
	if err != nil {
		return nil, err
	}
	s.notify = n
	s.handler = s.routes()
	s.triggers = trigger.Router{Name: "dlq", Kafka: s.HandleKafka, HTTP: s.handler, SQS: s.HandleSQS}
	return s, nil
}

// Handle is the Lambda entry point (trigger.Router): Kafka events go to
// HandleKafka, SQS events (the mapping-failures queue) to HandleSQS, API
// Gateway v2 events to the internal HTTP routes.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	return s.triggers.Handle(ctx, payload)
}

// HTTPHandler serves the internal routes.
func (s *Service) HTTPHandler() http.Handler { return s.handler }

// HandleKafka stores a batch of job-dead-letter records. It fails only if
// the database does, and then the batch is redelivered and stored once.
func (s *Service) HandleKafka(ctx context.Context, ev events.KafkaEvent) error {
	recs := kafka.Flatten(ev)
	if len(recs) == 0 {
		return nil
	}
	defer s.metrics.Flush()
	s.metrics.Value("BatchSize", float64(len(recs)), metrics.Count)
	now := time.Now().UTC()
	rows := make([]row, 0, len(recs))
	kept := make([]events.KafkaRecord, 0, len(recs)) // rows[i]'s record
	seen := make(map[string]bool, len(recs))
	for _, rec := range recs {
		r := decodeRecord(rec, now)
		if seen[r.eventID] {
			continue
		}
		seen[r.eventID] = true
		kept = append(kept, rec)
		if r.reason == ReasonPoisonRecord && r.errorCode == CodePoisonRecord {
			s.log.WarnContext(ctx, "undecodable dead-letter record stored as poison", "topic", rec.Topic,
				"partition", rec.Partition, "offset", rec.Offset, "id", r.eventID, "error", r.lastError)
		}
		rows = append(rows, r)
	}
	endSpans := startStoreSpans(ctx, kept, rows)
	stored, err := s.store(ctx, rows)
	endSpans(err)
	if err != nil {
		return err
	}
	poison := 0
	for _, r := range rows {
		if r.reason == ReasonPoisonRecord && r.errorCode == CodePoisonRecord {
			poison++
		}
		if stored[r.eventID] {
			s.metrics.Count("DeadLettersStored", 1, metrics.Dim("JobType", r.jobType))
			s.log.LogAttrs(trace.With(ctx, r.traceID, r.jobID), slog.LevelError, "dead letter stored",
				slog.String("id", r.eventID), slog.String("reason", r.reason), slog.String("errorCode", r.errorCode),
				slog.String("jobType", r.jobType), slog.String("lastError", r.lastError))
		}
	}
	s.metrics.Count("PoisonRecords", poison)
	return nil
}

// row is one dead_letters row; empty strings and nil JSON are NULL.
type row struct {
	eventID, jobID, traceID, jobType string
	reason, errorCode, lastError     string
	job, attempts, source            []byte
	detail                           []byte // rowDetail, or nil
	failedAt                         time.Time
}

// rowDetail is the detail column: what only some dead letters carry.
type rowDetail struct {
	Parked  *envelope.ParkedRow `json:"parked,omitempty"`
	Trimmed *envelope.Trimmed   `json:"trimmed,omitempty"`
}

// decodeRecord turns a record into a row. It never fails: a record that
// is not a decodable JobDeadLetter becomes a poison row.
func decodeRecord(rec events.KafkaRecord, now time.Time) row {
	env, err := kafka.Decode(rec)
	var dl envelope.JobDeadLetter
	if err == nil && env.Type != envelope.TypeJobDeadLetter {
		err = fmt.Errorf("%w: type %q on %s (want %s)", envelope.ErrInvalid, env.Type, rec.Topic, envelope.TypeJobDeadLetter)
	}
	if err == nil {
		err = env.DecodePayload(&dl)
	}
	var eventID uuid.UUID
	if err == nil {
		if eventID, err = uuid.Parse(env.EventID); err != nil { // Decode validated it; stay safe
			err = fmt.Errorf("%w: eventId %q", envelope.ErrInvalid, env.EventID)
		}
	}
	traceID := env.TraceID
	if traceID == "" {
		traceID = kafka.Header(rec, trace.KafkaTraceHeader)
	}
	r := row{jobID: canonicalUUID(env.JobID), traceID: pgtext.Clean(traceID, 200)}
	if err != nil {
		// The dead letter every service makes of a poison record, stored
		// here rather than published.
		e, pdl := poison.DeadLetter(rec, err, CodePoisonRecord, now)
		src, _ := envelope.JSON(pdl.Source)
		r.eventID, r.jobID, r.traceID = e.EventID, e.JobID, e.TraceID
		r.reason, r.errorCode, r.lastError = pdl.Reason, pdl.ErrorCode, pdl.LastError
		r.attempts, r.source, r.failedAt = []byte("[]"), src, pdl.FailedAt
		if pdl.Trimmed != nil {
			r.detail, _ = envelope.JSON(rowDetail{Trimmed: pdl.Trimmed})
		}
		return r
	}
	r.eventID = eventID.String()
	r.jobType = pgtext.Clean(dl.JobType, 200)
	r.reason = pgtext.Clean(dl.Reason, 100)
	if r.reason == "" {
		r.reason = "UNKNOWN"
	}
	r.errorCode = pgtext.Clean(dl.ErrorCode, 200)
	r.lastError = pgtext.Clean(dl.LastError, maxText)
	r.failedAt = dl.FailedAt
	hasPayload := len(dl.Payload) > 0 && string(dl.Payload) != "null"
	if dl.JobType != "" || hasPayload || dl.MaxRetryCount != 0 {
		r.job, _ = json.Marshal(envelope.JobSpec{JobType: r.jobType, Payload: cleanJSON(dl.Payload), MaxRetryCount: dl.MaxRetryCount})
	}
	attempts := dl.Attempts
	if attempts == nil {
		attempts = []envelope.AttemptSummary{}
	}
	for i := range attempts {
		attempts[i].Outcome = pgtext.Clean(attempts[i].Outcome, 100)
		attempts[i].ErrorCode = pgtext.Clean(attempts[i].ErrorCode, 200)
		attempts[i].Error = pgtext.Clean(attempts[i].Error, maxText)
	}
	r.attempts, _ = json.Marshal(attempts)
	if src := dl.Source; src != nil {
		src.Topic, src.Value = pgtext.Clean(src.Topic, 255), pgtext.Clean(src.Value, -1)
		r.source, _ = json.Marshal(src)
	}
	if dl.Parked != nil || dl.Trimmed != nil {
		if p := dl.Parked; p != nil {
			p.Service, p.Topic, p.Key = pgtext.Clean(p.Service, 100), pgtext.Clean(p.Topic, 255), pgtext.Clean(p.Key, 255)
			p.EventID, p.EventType, p.Error = pgtext.Clean(p.EventID, 100), pgtext.Clean(p.EventType, 100), pgtext.Clean(p.Error, maxText)
		}
		r.detail, _ = envelope.JSON(rowDetail{Parked: dl.Parked, Trimmed: dl.Trimmed})
	}
	return r
}

const insertSQL = `
INSERT INTO dead_letters (event_id, job_id, trace_id, job_type, reason, error_code, last_error,
                          job, attempts, source, failed_at, detail)
SELECT e::uuid, NULLIF(j, '')::uuid, t, NULLIF(jt, ''), r, NULLIF(ec, ''), NULLIF(le, ''),
       NULLIF(jb, '')::jsonb, a::jsonb, NULLIF(s, '')::jsonb, f, NULLIF(d, '')::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::text[])
     AS x(e, j, t, jt, r, ec, le, jb, a, s, f, d)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id::text`

// store inserts rows in one transaction and returns the IDs that were
// new. If Postgres refuses a value (a data error), it stores the rows one
// by one, dropping only the refused parts of an entry.
func (s *Service) store(ctx context.Context, rows []row) (map[string]bool, error) {
	stored, err := s.insert(ctx, rows, false)
	var pgErr *pgconn.PgError
	if err != nil && errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		s.log.WarnContext(ctx, "a dead letter holds a value Postgres refuses; storing the batch row by row", "error", pgErr.Message)
		stored, err = s.insert(ctx, rows, true)
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: store %d dead letters: %w", len(rows), err)
	}
	s.entriesStored(ctx, rows, stored)
	s.afterStore(ctx, len(stored))
	return stored, nil
}

func (s *Service) insert(ctx context.Context, rows []row, oneByOne bool) (map[string]bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	stored := make(map[string]bool, len(rows))
	if !oneByOne {
		if err := insertRows(ctx, tx, rows, stored); err != nil {
			return nil, err
		}
	} else {
		for _, r := range rows {
			sp, err := tx.Begin(ctx) // a savepoint
			if err != nil {
				return nil, err
			}
			err = insertRows(ctx, sp, []row{r}, stored)
			var pgErr *pgconn.PgError
			if err != nil && errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
				if rerr := sp.Rollback(ctx); rerr != nil {
					return nil, rerr
				}
				if sp, err = tx.Begin(ctx); err != nil {
					return nil, err
				}
				err = insertRows(ctx, sp, []row{degrade(r, pgErr.Message)}, stored)
			}
			if err != nil {
				return nil, err
			}
			if err := sp.Commit(ctx); err != nil {
				return nil, err
			}
		}
	}
	if err := s.queueNotifications(ctx, tx, stored); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return stored, nil
}

// degrade drops the free-form JSON of an entry that Postgres refused.
func degrade(r row, why string) row {
	r.job = nil
	r.attempts = []byte("[]")
	r.source = nil
	r.detail = nil
	r.lastError = pgtext.Clean(r.lastError+" [dlq: the job, attempts and source of this entry could not be stored: "+why+"]", maxText)
	return r
}

func insertRows(ctx context.Context, tx pgx.Tx, rows []row, stored map[string]bool) error {
	n := len(rows)
	var (
		ids, jobIDs, traceIDs, jobTypes = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		reasons, codes, lastErrors      = make([]string, n), make([]string, n), make([]string, n)
		jobs, attempts, sources         = make([]string, n), make([]string, n), make([]string, n)
		details                         = make([]string, n)
		failedAt                        = make([]pgtype.Timestamptz, n)
	)
	for i, r := range rows {
		ids[i], jobIDs[i], traceIDs[i], jobTypes[i] = r.eventID, r.jobID, r.traceID, r.jobType
		reasons[i], codes[i], lastErrors[i] = r.reason, r.errorCode, r.lastError
		jobs[i], attempts[i], sources[i], details[i] = string(r.job), string(r.attempts), string(r.source), string(r.detail)
		failedAt[i] = pgtype.Timestamptz{Time: r.failedAt, Valid: !r.failedAt.IsZero()}
	}
	res, err := tx.Query(ctx, insertSQL, ids, jobIDs, traceIDs, jobTypes, reasons, codes, lastErrors,
		jobs, attempts, sources, failedAt, details)
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(res, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, id := range got {
		stored[id] = true
	}
	return nil
}

const maxText = 8192

func canonicalUUID(s string) string {
	if id, err := uuid.Parse(s); err == nil {
		return id.String()
	}
	return ""
}

// cleanJSON re-encodes a JSON value so that jsonb accepts it: strings and
// keys lose NUL characters, invalid UTF-8 and lone surrogates. Numbers
// keep their text. It returns nil for empty or invalid input.
func cleanJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	b, err := json.Marshal(scrub(v))
	if err != nil {
		return nil
	}
	return b
}

func scrub(v any) any {
	switch x := v.(type) {
	case string:
		return pgtext.Clean(x, -1)
	case []any:
		for i := range x {
			x[i] = scrub(x[i])
		}
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[pgtext.Clean(k, -1)] = scrub(val)
		}
		return m
	}
	return v
}
