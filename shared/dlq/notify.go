package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/pgtext"
	"github.com/jobweaver/jobweaver/shared/ssrf"
	"github.com/jobweaver/jobweaver/shared/webhook"
)

// Notification channels (notify_deliveries.channel).
const (
	ChannelWebhook = "webhook"
	ChannelSNS     = "sns"
)

// Delivery states (notify_deliveries.state).
const (
	DeliveryPending   = "PENDING"
	DeliveryDelivered = "DELIVERED"
	DeliveryFailed    = "FAILED" // given up after MaxAttempts
)

const (
	// NotifyMaxBodyBytes caps a webhook body: a batch is cut before its
	// entries would pass it.
	NotifyMaxBodyBytes = 256 << 10
	// NotifyKeep is how long delivered and given-up deliveries are kept
	// (for operators) before the maintenance pass deletes them.
	NotifyKeep = 14 * 24 * time.Hour
	// snsMaxListed is how many entries an SNS message lists one by one.
	snsMaxListed = 20
	// queueChunk is how many queued entries one transaction packs.
	queueChunk = 1000
	// maxSendsPerPass bounds the deliveries one pass sends per channel.
	maxSendsPerPass = 50
	// pruneChunk bounds the deliveries one maintenance pass deletes.
	pruneChunk = 1000
	// bodyOverhead is room for the body's other fields.
	bodyOverhead = 256
)

// NotificationEntry is one new dead letter in a notification: a summary
// (GET /api/dlq/{id} has everything). LastError is cut to MaxListTextLen
// characters.
type NotificationEntry struct {
	ID         string     `json:"id"`
	JobID      string     `json:"jobId,omitempty"`
	TraceID    string     `json:"traceId,omitempty"`
	JobType    string     `json:"jobType,omitempty"`
	Reason     string     `json:"reason"`
	ErrorCode  string     `json:"errorCode,omitempty"`
	LastError  string     `json:"lastError,omitempty"`
	Attempts   int        `json:"attempts"`
	FailedAt   *time.Time `json:"failedAt,omitempty"`
	ReceivedAt time.Time  `json:"receivedAt"`
}

// NotificationBody is the JSON body of a webhook delivery. Its exact
// bytes are signed (X-JobWeaver-Signature); DeliveryID is also the
// X-JobWeaver-Delivery header, the same on every attempt, and SentAt is
// this attempt's time (X-JobWeaver-Timestamp, in Unix seconds).
type NotificationBody struct {
	DeliveryID string              `json:"deliveryId"`
	SentAt     time.Time           `json:"sentAt"`
	Entries    []NotificationEntry `json:"entries"`
}

// NotifyReport is what one delivery pass did.
type NotifyReport struct {
	Queued    int // entries packed into batches
	Batches   int // deliveries made (one per batch and channel)
	Delivered int // deliveries that succeeded
	Failed    int // attempts that failed (to be tried again)
	GaveUp    int // deliveries given up (FAILED) after MaxAttempts
	Pruned    int // old delivered or given-up deliveries deleted
}

// notifier delivers the notifications of one Service.
type notifier struct {
	cfg    NotifyConfig
	pool   *pgxpool.Pool
	log    *slog.Logger
	client *http.Client // nil: no webhook
	sns    SNSPublisher // nil: no topic
	now    func() time.Time
	rnd    func() float64 // uniform in [0, 1), for jitter
}

func newNotifier(cfg NotifyConfig, pool *pgxpool.Pool, log *slog.Logger) (*notifier, error) {
	n := &notifier{cfg: cfg, pool: pool, log: log, now: time.Now, rnd: rand.Float64}
	if cfg.WebhookURL != "" {
		if cfg.WebhookSecret == "" {
			return nil, errors.New("dlq: DLQ_WEBHOOK_SECRET_ARN is set but the secret was not read (LoadWebhookSecret before New)")
		}
		guard, err := ssrf.NewGuard(cfg.allowlist())
		if err != nil {
			return nil, fmt.Errorf("config: DLQ_WEBHOOK_ALLOWLIST: %w", err)
		}
		n.client = guard.Client(cfg.WebhookTimeout)
		// A redirect is an answer that is not 2xx: a failed attempt.
		n.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if cfg.SNSTopicARN != "" {
		n.sns = cfg.SNS
		if n.sns == nil {
			awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
			if err != nil {
				return nil, fmt.Errorf("dlq: DLQ_SNS_TOPIC_ARN: load AWS configuration: %w", err)
			}
			n.sns = sns.NewFromConfig(awsCfg)
		}
	}
	return n, nil
}

// channels lists the configured channels.
func (n *notifier) channels() []string {
	var out []string
	if n.client != nil {
		out = append(out, ChannelWebhook)
	}
	if n.sns != nil {
		out = append(out, ChannelSNS)
	}
	return out
}

// queueNotifications queues the newly stored entries inside the
// transaction that stores them. Nothing is queued without a channel.
func (s *Service) queueNotifications(ctx context.Context, tx pgx.Tx, stored map[string]bool) error {
	if len(stored) == 0 || len(s.notify.channels()) == 0 {
		return nil
	}
	ids := make([]string, 0, len(stored))
	for id := range stored {
		ids = append(ids, id)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO notify_queue (entry_id) SELECT unnest($1::text[])::uuid ON CONFLICT DO NOTHING`, ids); err != nil {
		return fmt.Errorf("queue notifications: %w", err)
	}
	return nil
}

// afterStore delivers the notifications of newly stored entries right
// after their commit. It never fails the ingest: what it cannot deliver
// now stays queued for the next pass (DeliverNotifications).
func (s *Service) afterStore(ctx context.Context, stored int) {
	if stored == 0 || len(s.notify.channels()) == 0 {
		return
	}
	if _, err := s.notify.pass(ctx, false); err != nil {
		s.log.WarnContext(ctx, "dlq notifications: delivery pass failed; the next pass retries", "error", err.Error())
	}
}

// DeliverNotifications is the notifications' maintenance pass, for the
// scheduled tick (POST /internal/dlq/maintain): it packs queued entries
// into batches, sends the deliveries that are due (new ones and retries
// whose backoff has passed), and deletes delivered and given-up
// deliveries older than NotifyKeep. It is bounded: a few thousand
// entries, maxSendsPerPass deliveries per channel, and it stops sending
// when ctx's deadline is nearer than one attempt's timeout. A channel
// whose attempt fails gets no more attempts in the same pass.
func (s *Service) DeliverNotifications(ctx context.Context) (NotifyReport, error) {
	return s.notify.pass(ctx, true)
}

func (n *notifier) pass(ctx context.Context, maintenance bool) (NotifyReport, error) {
	var rep NotifyReport
	chans := n.channels()
	if len(chans) > 0 {
		for range 10 { // at most 10 chunks of the queue per pass
			queued, batches, err := n.batch(ctx, chans)
			rep.Queued += queued
			rep.Batches += batches
			if err != nil {
				return rep, err
			}
			if queued < queueChunk {
				break
			}
		}
		for _, ch := range chans {
			if err := n.sendDue(ctx, ch, &rep); err != nil {
				return rep, err
			}
		}
	}
	if maintenance {
		tag, err := n.pool.Exec(ctx, `DELETE FROM notify_deliveries WHERE id IN (
			SELECT id FROM notify_deliveries WHERE state <> 'PENDING' AND last_attempt_at < $1 LIMIT $2)`,
			n.now().Add(-NotifyKeep), pruneChunk)
		if err != nil {
			return rep, fmt.Errorf("dlq notifications: prune: %w", err)
		}
		rep.Pruned = int(tag.RowsAffected())
	}
	return rep, nil
}

const queuedSummarySQL = `
SELECT d.event_id::text, coalesce(d.job_id::text, ''), d.trace_id, coalesce(d.job_type, ''), d.reason,
       coalesce(d.error_code, ''), coalesce(d.last_error, ''),
       CASE WHEN jsonb_typeof(d.attempts) = 'array' THEN jsonb_array_length(d.attempts) ELSE 0 END,
       d.failed_at, d.received_at
FROM notify_queue q JOIN dead_letters d ON d.event_id = q.entry_id
ORDER BY q.queued_at, q.entry_id
LIMIT $1
FOR UPDATE OF q SKIP LOCKED`

// batch packs up to queueChunk queued entries into deliveries, one per
// batch and channel, in one transaction, and returns how many entries
// and deliveries it made.
func (n *notifier) batch(ctx context.Context, chans []string) (int, int, error) {
	tx, err := n.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("dlq notifications: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, err := tx.Query(ctx, queuedSummarySQL, queueChunk)
	if err != nil {
		return 0, 0, fmt.Errorf("dlq notifications: read the queue: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (NotificationEntry, error) {
		var e NotificationEntry
		var failedAt pgtype.Timestamptz
		err := row.Scan(&e.ID, &e.JobID, &e.TraceID, &e.JobType, &e.Reason, &e.ErrorCode, &e.LastError, &e.Attempts, &failedAt, &e.ReceivedAt)
		if r := []rune(e.LastError); len(r) > MaxListTextLen {
			e.LastError = string(r[:MaxListTextLen])
		}
		if failedAt.Valid {
			t := failedAt.Time.UTC()
			e.FailedAt = &t
		}
		e.ReceivedAt = e.ReceivedAt.UTC()
		return e, err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("dlq notifications: read the queue: %w", err)
	}
	if len(entries) == 0 {
		return 0, 0, nil
	}
	now := n.now().UTC()
	made := 0
	for _, b := range packBatches(entries, n.cfg.BatchSize, NotifyMaxBodyBytes-bodyOverhead) {
		for _, ch := range chans {
			// A channel whose last attempt failed holds new deliveries
			// until its retry: a failing target gets one attempt per
			// backoff step, not one per new batch.
			var held pgtype.Timestamptz
			if err := tx.QueryRow(ctx, `SELECT max(next_attempt_at) FROM notify_deliveries
				WHERE channel = $1 AND state = 'PENDING' AND last_error IS NOT NULL AND next_attempt_at > $2`, ch, now).Scan(&held); err != nil {
				return 0, 0, fmt.Errorf("dlq notifications: %w", err)
			}
			due := now
			if held.Valid && held.Time.After(due) {
				due = held.Time
			}
			id, err := uuid.NewV7()
			if err != nil {
				return 0, 0, err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO notify_deliveries (id, channel, entries, entry_count, created_at, next_attempt_at)
				VALUES ($1::text::uuid, $2, $3::jsonb, $4, $5, $6)`, id.String(), ch, string(b.json), b.count, now, due); err != nil {
				return 0, 0, fmt.Errorf("dlq notifications: make a delivery: %w", err)
			}
			made++
		}
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	if _, err := tx.Exec(ctx, `DELETE FROM notify_queue WHERE entry_id = ANY($1::text[]::uuid[])`, ids); err != nil {
		return 0, 0, fmt.Errorf("dlq notifications: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("dlq notifications: %w", err)
	}
	return len(entries), made, nil
}

// packed is one batch: a JSON array of entries.
type packed struct {
	json  []byte
	count int
}

// packBatches cuts entries into JSON arrays of at most size entries and
// maxBytes bytes (an entry alone is always far smaller).
func packBatches(entries []NotificationEntry, size, maxBytes int) []packed {
	var out []packed
	var cur bytes.Buffer
	count := 0
	flush := func() {
		if count > 0 {
			cur.WriteByte(']')
			out = append(out, packed{json: bytes.Clone(cur.Bytes()), count: count})
		}
		cur.Reset()
		count = 0
	}
	for _, e := range entries {
		b, _ := json.Marshal(e) // plain strings, numbers and times
		if count > 0 && (count >= size || cur.Len()+1+len(b)+1 > maxBytes) {
			flush()
		}
		if count == 0 {
			cur.WriteByte('[')
		} else {
			cur.WriteByte(',')
		}
		cur.Write(b)
		count++
	}
	flush()
	return out
}

// claimed is a delivery claimed for one attempt.
type claimed struct {
	id      string
	entries json.RawMessage
	count   int
	attempt int
}

// sendDue sends the due deliveries of a channel, one at a time, until
// none is due, the pass's budget is spent, or an attempt fails.
func (n *notifier) sendDue(ctx context.Context, ch string, rep *NotifyReport) error {
	for range maxSendsPerPass {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < n.cfg.WebhookTimeout+2*time.Second {
			return nil
		}
		now := n.now().UTC()
		var d claimed
		// The claim pushes next_attempt_at past the attempt (a lease): a
		// pass that dies mid-send leaves the delivery due again after it.
		err := n.pool.QueryRow(ctx, `UPDATE notify_deliveries SET attempts = attempts + 1, last_attempt_at = $2, next_attempt_at = $3
			WHERE id = (SELECT id FROM notify_deliveries WHERE state = 'PENDING' AND channel = $1 AND next_attempt_at <= $2
			            ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING id::text, entries, entry_count, attempts`, ch, now, now.Add(2*n.cfg.WebhookTimeout+30*time.Second)).
			Scan(&d.id, &d.entries, &d.count, &d.attempt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dlq notifications: claim a %s delivery: %w", ch, err)
		}
		var status int
		switch ch {
		case ChannelWebhook:
			status, err = n.sendWebhook(ctx, d, now)
		case ChannelSNS:
			err = n.publishSNS(ctx, d)
		}
		if err := n.record(ctx, ch, d, status, err, rep); err != nil {
			return err
		}
		if err != nil {
			return nil // one failed attempt per channel and pass
		}
	}
	return nil
}

// record stores an attempt's outcome: delivered, due again after the
// backoff, or given up.
func (n *notifier) record(ctx context.Context, ch string, d claimed, status int, sendErr error, rep *NotifyReport) error {
	now := n.now().UTC()
	var st *int
	if status != 0 {
		st = &status
	}
	log := n.log.With("deliveryId", d.id, "channel", ch, "entries", d.count, "attempt", d.attempt)
	if sendErr == nil {
		if _, err := n.pool.Exec(ctx, `UPDATE notify_deliveries SET state = 'DELIVERED', delivered_at = $2, next_attempt_at = $2,
			last_status = $3, last_error = NULL WHERE id = $1::text::uuid AND attempts = $4`, d.id, now, st, d.attempt); err != nil {
			return fmt.Errorf("dlq notifications: record delivery %s: %w", d.id, err)
		}
		rep.Delivered++
		log.InfoContext(ctx, "dlq notification delivered")
		return nil
	}
	msg := pgtext.Clean(sendErr.Error(), 1000)
	state, next := DeliveryPending, now.Add(notifyBackoff(d.attempt, n.cfg.BackoffBase, n.cfg.BackoffCap, n.cfg.Jitter, n.rnd()))
	if d.attempt >= n.cfg.MaxAttempts {
		state, next = DeliveryFailed, now
	}
	if _, err := n.pool.Exec(ctx, `UPDATE notify_deliveries SET state = $2, next_attempt_at = $3, last_status = $4, last_error = $5
		WHERE id = $1::text::uuid AND attempts = $6`, d.id, state, next, st, msg, d.attempt); err != nil {
		return fmt.Errorf("dlq notifications: record failed delivery %s: %w", d.id, err)
	}
	if state == DeliveryFailed {
		rep.GaveUp++
		log.ErrorContext(ctx, "dlq notification given up", "error", msg, "maxAttempts", n.cfg.MaxAttempts)
		return nil
	}
	rep.Failed++
	log.WarnContext(ctx, "dlq notification failed; will retry", "error", msg, "nextAttemptAt", next)
	return nil
}

// notifyBackoff is the delay after failed attempt n (1-based):
// min(base·2^(n-1), cap), scaled by a factor in [1-jitter, 1+jitter] that
// rnd (uniform in [0, 1)) picks, and never above cap.
func notifyBackoff(n int, base, cap time.Duration, jitter, rnd float64) time.Duration {
	d := base
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	if jitter > 0 {
		d = time.Duration(float64(d) * (1 + jitter*(2*rnd-1)))
	}
	return min(max(d, 0), cap)
}

// sendWebhook POSTs one attempt of d, signed, and returns the answer's
// status (0 without one). Any answer but 2xx is an error.
func (n *notifier) sendWebhook(ctx context.Context, d claimed, now time.Time) (int, error) {
	var entries []NotificationEntry
	if err := json.Unmarshal(d.entries, &entries); err != nil {
		return 0, fmt.Errorf("delivery %s holds unreadable entries: %v", d.id, err)
	}
	body, err := json.Marshal(NotificationBody{DeliveryID: d.id, SentAt: now, Entries: entries})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("POST %s: %v", redactURL(n.cfg.WebhookURL), err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "JobWeaver-DLQ/1")
	req.Header.Set(webhook.HeaderSignature, webhook.Sign([]byte(n.cfg.WebhookSecret), body))
	req.Header.Set(webhook.HeaderTimestamp, fmt.Sprint(now.Unix()))
	req.Header.Set(webhook.HeaderDelivery, d.id)
	req.Header.Set(webhook.HeaderAttempt, fmt.Sprint(d.attempt))
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %s", redactURL(n.cfg.WebhookURL), sendError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("POST %s: answered %s", redactURL(n.cfg.WebhookURL), resp.Status)
	}
	return resp.StatusCode, nil
}

// sendError describes a failed request without the URL (which may hold a
// token) and, for an SSRF refusal, without the resolved address.
func sendError(err error) string {
	var blocked *ssrf.BlockedError
	if errors.As(err, &blocked) {
		return blocked.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		return ue.Err.Error()
	}
	return err.Error()
}

// publishSNS publishes d's short summary to the topic.
func (n *notifier) publishSNS(ctx context.Context, d claimed) error {
	var entries []NotificationEntry
	if err := json.Unmarshal(d.entries, &entries); err != nil {
		return fmt.Errorf("delivery %s holds unreadable entries: %v", d.id, err)
	}
	subject, msg := snsMessage(d.id, entries)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.WebhookTimeout)
	defer cancel()
	if _, err := n.sns.Publish(ctx, &sns.PublishInput{TopicArn: &n.cfg.SNSTopicARN, Subject: &subject, Message: &msg}); err != nil {
		return fmt.Errorf("SNS publish: %v", err)
	}
	return nil
}

// snsMessage is the subject (ASCII, under SNS's 100 characters) and the
// text of a batch's SNS message: a count, then up to snsMaxListed
// entries, one per line. It stays far below SNS's 256 KB.
func snsMessage(deliveryID string, entries []NotificationEntry) (string, string) {
	noun := "dead letters"
	if len(entries) == 1 {
		noun = "dead letter"
	}
	subject := fmt.Sprintf("JobWeaver: %d new %s", len(entries), noun)
	var b strings.Builder
	fmt.Fprintf(&b, "%d new %s in the JobWeaver DLQ (delivery %s).\n\n", len(entries), noun, deliveryID)
	for i, e := range entries {
		if i == snsMaxListed {
			fmt.Fprintf(&b, "... and %d more.\n", len(entries)-snsMaxListed)
			break
		}
		line := e.ID + "  " + e.Reason
		if e.JobType != "" {
			line += "  " + e.JobType
		}
		if e.ErrorCode != "" {
			line += "  " + e.ErrorCode
		}
		if e.LastError != "" {
			last := []rune(strings.Join(strings.Fields(e.LastError), " "))
			if len(last) > 120 {
				last = append(last[:120], '…')
			}
			line += ": " + string(last)
		}
		b.WriteString("- " + line + "\n")
	}
	b.WriteString("\nGET /api/dlq lists them; GET /api/dlq/{id} shows one.\n")
	return subject, b.String()
}
