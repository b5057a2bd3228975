package dlq_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/webhook"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

const testSecret = "test-webhook-secret-0123456789"

// receiver is a webhook target: a real HTTP server that keeps what it
// gets and answers with status.
type receiver struct {
	srv    *httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []received
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.status.Store(http.StatusNoContent)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// webhookConfig aims the notifications at r; loopback is allowlisted, as
// WORKER_HTTP_ALLOWLIST does for HTTP_CALL tests.
func webhookConfig(r *receiver) dlq.Config {
	return dlq.Config{Notify: dlq.NotifyConfig{WebhookURL: r.srv.URL + "/hooks/dlq?token=abc", WebhookSecret: testSecret, WebhookAllowlist: "127.0.0.1/32"}}
}

// clock is a settable clock for the notifications.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// delivery is a notify_deliveries row.
type delivery struct {
	ID, Channel, State string
	Count, Attempts    int
	Next               time.Time
	Last               *time.Time
	Status             *int
	LastError          *string
	Entries            []dlq.NotificationEntry
}

func deliveryRows(tb testing.TB, pool *pgxpool.Pool) []delivery {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id::text, channel, state, entry_count, attempts, next_attempt_at,
		last_attempt_at, last_status, last_error, entries FROM notify_deliveries ORDER BY created_at, id`)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery, error) {
		var d delivery
		var entries []byte
		err := row.Scan(&d.ID, &d.Channel, &d.State, &d.Count, &d.Attempts, &d.Next, &d.Last, &d.Status, &d.LastError, &entries)
		if err == nil {
			err = json.Unmarshal(entries, &d.Entries)
		}
		return d, err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func queued(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM notify_queue`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// checkSigned verifies a delivery as a receiver would, and returns its body.
func checkSigned(t *testing.T, got received) dlq.NotificationBody {
	t.Helper()
	if !webhook.Verify([]byte(testSecret), got.body, got.header.Get(webhook.HeaderSignature)) {
		t.Fatalf("signature %q does not verify over %s", got.header.Get(webhook.HeaderSignature), got.body)
	}
	if webhook.Verify([]byte("another-secret-0123456789"), got.body, got.header.Get(webhook.HeaderSignature)) {
		t.Fatal("the signature verifies under another secret")
	}
	var body dlq.NotificationBody
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if got.header.Get("Content-Type") != "application/json" || got.header.Get(webhook.HeaderDelivery) != body.DeliveryID ||
		got.header.Get(webhook.HeaderTimestamp) != strconv.FormatInt(body.SentAt.Unix(), 10) {
		t.Fatalf("headers %v for body %s", got.header, got.body)
	}
	return body
}

func TestNotifyWebhookSignedBatches(t *testing.T) {
	r := newReceiver(t)
	cfg := webhookConfig(r)
	cfg.Notify.BatchSize = 2
	svc, pool := setup(t, cfg)
	ctx := context.Background()

	envs := []envelope.Envelope{deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE"), deadLetter(t, "RETRIES_EXHAUSTED"),
		deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE")}
	ev := batch(0, envs...)
	if err := svc.HandleKafka(ctx, ev); err != nil {
		t.Fatal(err)
	}
	// Delivered right after the ingest: 5 entries in batches of 2.
	got := r.deliveries()
	if len(got) != 3 {
		t.Fatalf("%d deliveries after the ingest, want 3", len(got))
	}
	seen := map[string]int{}
	ids := map[string]bool{}
	for _, g := range got {
		body := checkSigned(t, g)
		if ids[body.DeliveryID] || g.header.Get(webhook.HeaderAttempt) != "1" {
			t.Fatalf("delivery %s twice, or attempt %s", body.DeliveryID, g.header.Get(webhook.HeaderAttempt))
		}
		ids[body.DeliveryID] = true
		for _, e := range body.Entries {
			seen[e.ID]++
			if e.Reason == "" || e.JobID == "" || e.JobType != "SIMULATION" || e.ErrorCode != "WORKER.STEP_FAILED" || e.Attempts != 2 ||
				e.FailedAt == nil || e.ReceivedAt.IsZero() {
				t.Fatalf("entry %+v", e)
			}
		}
	}
	for _, e := range envs {
		if seen[e.EventID] != 1 {
			t.Fatalf("entry %s delivered %d times; all: %v", e.EventID, seen[e.EventID], seen)
		}
	}
	for _, d := range deliveryRows(t, pool) {
		if d.State != dlq.DeliveryDelivered || d.Attempts != 1 || d.Status == nil || *d.Status != http.StatusNoContent || d.LastError != nil {
			t.Fatalf("delivery %+v", d)
		}
	}
	if n := queued(t, pool); n != 0 {
		t.Fatalf("%d entries still queued", n)
	}

	// Nothing is delivered twice: not by a maintenance pass, nor by the
	// same batch delivered again.
	rep, err := svc.DeliverNotifications(ctx)
	if err != nil || rep != (dlq.NotifyReport{}) {
		t.Fatalf("maintenance pass = %+v, %v; want nothing done", rep, err)
	}
	if err := svc.HandleKafka(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := len(r.deliveries()); n != 3 {
		t.Fatalf("%d deliveries after a maintenance pass and a redelivery, want still 3", n)
	}
}

func TestNotifyRetriesWithGrowingBackoff(t *testing.T) {
	r := newReceiver(t)
	r.status.Store(http.StatusServiceUnavailable)
	cfg := webhookConfig(r)
	cfg.Notify.BackoffBase, cfg.Notify.BackoffCap, cfg.Notify.MaxAttempts = time.Minute, 5*time.Minute, 6 // Jitter 0
	svc, pool := setup(t, cfg)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	dlq.SetNotifyClock(svc, clk.now, nil)

	if err := svc.HandleKafka(ctx, batch(0, deadLetter(t, "RETRIES_EXHAUSTED"))); err != nil {
		t.Fatalf("a failing webhook failed the ingest: %v", err)
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	var id string
	for attempt := 1; ; attempt++ {
		rows := deliveryRows(t, pool)
		if len(rows) != 1 {
			t.Fatalf("%d deliveries, want 1", len(rows))
		}
		d := rows[0]
		if id == "" {
			id = d.ID
		}
		if d.ID != id || d.Attempts != attempt || d.Last == nil || !d.Last.Equal(clk.now()) ||
			d.Status == nil || *d.Status != http.StatusServiceUnavailable || d.LastError == nil || !strings.Contains(*d.LastError, "503") {
			t.Fatalf("after attempt %d: %+v", attempt, d)
		}
		if strings.Contains(*d.LastError, "token=abc") {
			t.Fatalf("the recorded error shows the URL's query: %s", *d.LastError)
		}
		if attempt == cfg.Notify.MaxAttempts {
			if d.State != dlq.DeliveryFailed {
				t.Fatalf("after the last attempt: state %s, want FAILED", d.State)
			}
			break
		}
		if d.State != dlq.DeliveryPending {
			t.Fatalf("after attempt %d: state %s", attempt, d.State)
		}
		if gap := d.Next.Sub(*d.Last); gap != want[attempt-1] {
			t.Fatalf("after attempt %d the next is %v later, want %v", attempt, gap, want[attempt-1])
		}
		// Not due yet: a pass sends nothing.
		clk.set(d.Next.Add(-time.Second))
		if rep, err := svc.DeliverNotifications(ctx); err != nil || rep.Failed+rep.Delivered != 0 {
			t.Fatalf("early pass = %+v, %v", rep, err)
		}
		clk.set(d.Next)
		if _, err := svc.DeliverNotifications(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := r.deliveries()
	if len(got) != cfg.Notify.MaxAttempts {
		t.Fatalf("the target got %d attempts, want %d", len(got), cfg.Notify.MaxAttempts)
	}
	for i, g := range got {
		body := checkSigned(t, g) // each attempt signed anew, with its own sentAt
		if body.DeliveryID != id || g.header.Get(webhook.HeaderAttempt) != strconv.Itoa(i+1) {
			t.Fatalf("attempt %d: delivery %s, attempt header %s", i+1, body.DeliveryID, g.header.Get(webhook.HeaderAttempt))
		}
	}
	// Given up: no pass sends it again.
	clk.set(clk.now().Add(48 * time.Hour))
	if _, err := svc.DeliverNotifications(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(r.deliveries()); n != cfg.Notify.MaxAttempts {
		t.Fatalf("a given-up delivery was sent again (%d attempts)", n)
	}
	// And the maintenance pass deletes it once NotifyKeep has passed.
	clk.set(clk.now().Add(dlq.NotifyKeep))
	if rep, err := svc.DeliverNotifications(ctx); err != nil || rep.Pruned != 1 || len(deliveryRows(t, pool)) != 0 {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
}

// A batch made while the target is failing waits for the failing
// delivery's retry, and both go once it answers.
func TestNotifyFailingTargetHoldsNewBatches(t *testing.T) {
	r := newReceiver(t)
	r.status.Store(http.StatusInternalServerError)
	cfg := webhookConfig(r)
	cfg.Notify.BackoffBase = time.Minute
	svc, pool := setup(t, cfg)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	dlq.SetNotifyClock(svc, clk.now, nil)

	if err := svc.HandleKafka(ctx, batch(0, deadLetter(t, "RETRIES_EXHAUSTED"))); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(10 * time.Second))
	if err := svc.HandleKafka(ctx, batch(1, deadLetter(t, "PERMANENT_FAILURE"))); err != nil {
		t.Fatal(err)
	}
	rows := deliveryRows(t, pool)
	if len(rows) != 2 || rows[1].Attempts != 0 || !rows[1].Next.Equal(rows[0].Next) {
		t.Fatalf("deliveries %+v; want the second held until the first's retry", rows)
	}
	if n := len(r.deliveries()); n != 1 {
		t.Fatalf("the failing target got %d attempts, want 1", n)
	}
	r.status.Store(http.StatusOK)
	clk.set(rows[0].Next)
	rep, err := svc.DeliverNotifications(ctx)
	if err != nil || rep.Delivered != 2 {
		t.Fatalf("pass = %+v, %v; want 2 delivered", rep, err)
	}
	for _, d := range deliveryRows(t, pool) {
		if d.State != dlq.DeliveryDelivered || d.LastError != nil {
			t.Fatalf("delivery %+v", d)
		}
	}
}

func TestNotifySSRFGuard(t *testing.T) {
	r := newReceiver(t)
	cases := []struct {
		name, url, allow, want string
	}{
		{"private address", "http://10.1.2.3:8080/hook", "", "private (RFC 1918)"},
		{"loopback", r.srv.URL + "/hook", "", "loopback"},
		{"metadata", "http://169.254.169.254/latest", "", "link-local"},
		{"private address allowlisted for another range", "http://192.168.7.7/hook", "10.0.0.0/8", "private (RFC 1918)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, pool := setup(t, dlq.Config{Notify: dlq.NotifyConfig{WebhookURL: c.url, WebhookSecret: testSecret, WebhookAllowlist: c.allow}})
			if err := svc.HandleKafka(context.Background(), batch(0, deadLetter(t, "RETRIES_EXHAUSTED"))); err != nil {
				t.Fatal(err)
			}
			rows := deliveryRows(t, pool)
			if len(rows) != 1 {
				t.Fatalf("%d deliveries", len(rows))
			}
			d := rows[0]
			if d.State != dlq.DeliveryPending || d.Attempts != 1 || d.Status != nil || d.LastError == nil ||
				!strings.Contains(*d.LastError, "ssrf: refused") || !strings.Contains(*d.LastError, c.want) {
				t.Fatalf("delivery %+v; want a recorded %s refusal", d, c.want)
			}
		})
	}
	if n := len(r.deliveries()); n != 0 {
		t.Fatalf("the guarded loopback target got %d requests", n)
	}
}

func TestNotifyNothingQueuedWithoutChannel(t *testing.T) {
	svc, pool := setup(t, dlq.Config{})
	if err := svc.HandleKafka(context.Background(), batch(0, deadLetter(t, "RETRIES_EXHAUSTED"))); err != nil {
		t.Fatal(err)
	}
	if n := queued(t, pool); n != 0 || len(deliveryRows(t, pool)) != 0 {
		t.Fatalf("%d queued, deliveries %v; want none without a channel", n, deliveryRows(t, pool))
	}
	if rep, err := svc.DeliverNotifications(context.Background()); err != nil || rep != (dlq.NotifyReport{}) {
		t.Fatalf("pass = %+v, %v", rep, err)
	}
}

// fakeSNS speaks SNS's query protocol: it answers Publish like SNS, or
// with an error while failing is set.
type fakeSNS struct {
	srv     *httptest.Server
	failing atomic.Bool
	mu      sync.Mutex
	got     []url.Values
}

func newFakeSNS(t *testing.T) *fakeSNS {
	t.Helper()
	f := &fakeSNS{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := req.ParseForm(); err != nil || req.Method != http.MethodPost || !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.got = append(f.got, req.PostForm)
		n := len(f.got)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if f.failing.Load() {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>not authorized to publish</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-%d</MessageId></PublishResult><ResponseMetadata><RequestId>r-%d</RequestId></ResponseMetadata></PublishResponse>`, n, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSNS) published() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.got...)
}

func (f *fakeSNS) client() *sns.Client {
	return sns.New(sns.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(f.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func TestNotifySNS(t *testing.T) {
	f := newFakeSNS(t)
	const topic = "arn:aws:sns:us-east-1:123456789012:jobweaver-dev-alarms"
	svc, pool := setup(t, dlq.Config{Notify: dlq.NotifyConfig{SNSTopicARN: topic, SNS: f.client()}})
	ctx := context.Background()
	a, b := deadLetter(t, "RETRIES_EXHAUSTED"), deadLetter(t, "PERMANENT_FAILURE")
	if err := svc.HandleKafka(ctx, batch(0, a, b)); err != nil {
		t.Fatal(err)
	}
	got := f.published()
	if len(got) != 1 {
		t.Fatalf("%d publishes, want 1", len(got))
	}
	p := got[0]
	if p.Get("Action") != "Publish" || p.Get("TopicArn") != topic || p.Get("Subject") != "JobWeaver: 2 new dead letters" ||
		!strings.Contains(p.Get("Message"), a.EventID) || !strings.Contains(p.Get("Message"), b.EventID) {
		t.Fatalf("published %v", p)
	}
	rows := deliveryRows(t, pool)
	if len(rows) != 1 || rows[0].Channel != dlq.ChannelSNS || rows[0].State != dlq.DeliveryDelivered {
		t.Fatalf("deliveries %+v", rows)
	}

	// A refused publish is recorded and tried again later.
	f.failing.Store(true)
	if err := svc.HandleKafka(ctx, batch(2, deadLetter(t, "RETRIES_EXHAUSTED"))); err != nil {
		t.Fatal(err)
	}
	rows = deliveryRows(t, pool)
	if len(rows) != 2 || rows[1].State != dlq.DeliveryPending || rows[1].Attempts != 1 || rows[1].LastError == nil ||
		!strings.Contains(*rows[1].LastError, "AuthorizationError") || !rows[1].Next.After(*rows[1].Last) {
		t.Fatalf("deliveries %+v", rows)
	}
}

// Both channels get every batch, each with its own delivery.
func TestNotifyWebhookAndSNS(t *testing.T) {
	r, f := newReceiver(t), newFakeSNS(t)
	cfg := webhookConfig(r)
	cfg.Notify.SNSTopicARN, cfg.Notify.SNS = "arn:aws:sns:us-east-1:123456789012:t", f.client()
	svc, pool := setup(t, cfg)
	if err := svc.HandleKafka(context.Background(), batch(0, deadLetter(t, "RETRIES_EXHAUSTED"))); err != nil {
		t.Fatal(err)
	}
	if len(r.deliveries()) != 1 || len(f.published()) != 1 {
		t.Fatalf("webhook got %d, SNS %d; want 1 each", len(r.deliveries()), len(f.published()))
	}
	channels := map[string]bool{}
	for _, d := range deliveryRows(t, pool) {
		channels[d.Channel] = d.State == dlq.DeliveryDelivered
	}
	if !channels[dlq.ChannelWebhook] || !channels[dlq.ChannelSNS] || len(channels) != 2 {
		t.Fatalf("deliveries by channel: %v", channels)
	}
}

func TestNotifyConfigFromEnv(t *testing.T) {
	env := config.FromMap(map[string]string{
		"DLQ_WEBHOOK_URL": "https://hooks.example.com/dlq", "DLQ_WEBHOOK_SECRET": testSecret,
		"DLQ_WEBHOOK_ALLOWLIST": "10.0.0.0/8, hooks.internal", "DLQ_WEBHOOK_TIMEOUT": "5s", "DLQ_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t",
		"DLQ_NOTIFY_BATCH_SIZE": "50", "DLQ_NOTIFY_BACKOFF_BASE": "10s", "DLQ_NOTIFY_BACKOFF_CAP": "10m",
		"DLQ_NOTIFY_BACKOFF_JITTER": "0.1", "DLQ_NOTIFY_MAX_ATTEMPTS": "7",
	})
	n := dlq.ConfigFromEnv(env).Notify
	if env.Err() != nil || n.WebhookURL != "https://hooks.example.com/dlq" || n.WebhookSecret != testSecret ||
		n.WebhookAllowlist != "10.0.0.0/8,hooks.internal" || n.WebhookTimeout != 5*time.Second || n.SNSTopicARN != "arn:aws:sns:us-east-1:1:t" ||
		n.BatchSize != 50 || n.BackoffBase != 10*time.Second || n.BackoffCap != 10*time.Minute || n.Jitter != 0.1 || n.MaxAttempts != 7 {
		t.Fatalf("notify config = %+v, %v", n, env.Err())
	}
	if d := dlq.DefaultConfig().Notify; d.WebhookURL != "" || d.BatchSize != 100 || d.BackoffBase != 30*time.Second || d.BackoffCap != time.Hour ||
		d.Jitter != 0.2 || d.MaxAttempts != 24 || d.WebhookTimeout != 10*time.Second {
		t.Fatalf("defaults = %+v", d)
	}

	for name, v := range map[string]string{"DLQ_WEBHOOK_TIMEOUT": "0s", "DLQ_NOTIFY_BATCH_SIZE": "101", "DLQ_NOTIFY_BACKOFF_BASE": "1ms",
		"DLQ_NOTIFY_BACKOFF_JITTER": "2", "DLQ_NOTIFY_MAX_ATTEMPTS": "0"} {
		env := config.FromMap(map[string]string{name: v})
		dlq.ConfigFromEnv(env)
		if err := env.Err(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming it", name, v, err)
		}
	}
}

func TestNotifyConfigValidate(t *testing.T) {
	base := dlq.NotifyConfig{WebhookURL: "https://hooks.example.com/x", WebhookSecret: testSecret}
	with := func(f func(*dlq.NotifyConfig)) dlq.Config {
		c := base
		f(&c)
		return dlq.Config{Notify: c}
	}
	cases := []struct {
		name string
		cfg  dlq.Config
		want string
	}{
		{"no secret", with(func(c *dlq.NotifyConfig) { c.WebhookSecret = "" }), "DLQ_WEBHOOK_SECRET"},
		{"short secret", with(func(c *dlq.NotifyConfig) { c.WebhookSecret = "hunter2" }), "DLQ_WEBHOOK_SECRET must be at least 16 bytes"},
		{"ftp", with(func(c *dlq.NotifyConfig) { c.WebhookURL = "ftp://hooks.example.com/x" }), "DLQ_WEBHOOK_URL"},
		{"no host", with(func(c *dlq.NotifyConfig) { c.WebhookURL = "https:///x" }), "DLQ_WEBHOOK_URL"},
		{"user info", with(func(c *dlq.NotifyConfig) { c.WebhookURL = "https://me:pw@hooks.example.com/x" }), "DLQ_WEBHOOK_URL"},
		{"bad allowlist", with(func(c *dlq.NotifyConfig) { c.WebhookAllowlist = "10.0.0.0/99" }), "DLQ_WEBHOOK_ALLOWLIST"},
		{"cap below base", with(func(c *dlq.NotifyConfig) { c.BackoffBase, c.BackoffCap = time.Hour, time.Minute }), "DLQ_NOTIFY_BACKOFF_CAP"},
		{"ARN not read", with(func(c *dlq.NotifyConfig) {
			c.WebhookSecret, c.WebhookSecretARN = "", "arn:aws:secretsmanager:us-east-1:1:secret:s"
		}), "LoadWebhookSecret"},
	}
	_, pool := setup(t, dlq.Config{})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := dlq.New(c.cfg, &wiring.Deps{Pool: pool, Log: logging.Discard()})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error with %q", err, c.want)
			}
			for _, secret := range []string{"hunter2", "pw", testSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error shows a secret: %v", err)
				}
			}
		})
	}
}

// secretGetter answers GetSecretValue as Secrets Manager would.
type secretGetter struct {
	value *string
	err   error
}

func (g secretGetter) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, SecretString: g.value}, g.err
}

func TestLoadWebhookSecret(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobweaver-dev-dlq-webhook"
	cases := []struct {
		name string
		g    secretGetter
		want string // the secret, or a part of the error
		ok   bool
	}{
		{"plain string", secretGetter{value: aws.String(testSecret + "\n")}, testSecret, true},
		{"JSON", secretGetter{value: aws.String(`{"secret":"` + testSecret + `"}`)}, testSecret, true},
		{"JSON without secret", secretGetter{value: aws.String(`{"password":"x"}`)}, `"secret" field`, false},
		{"too short", secretGetter{value: aws.String("short")}, "at least 16 bytes", false},
		{"binary", secretGetter{}, "no string value", false},
		{"denied", secretGetter{err: fmt.Errorf("AccessDeniedException")}, "AccessDeniedException", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := dlq.Config{Notify: dlq.NotifyConfig{WebhookSecretARN: arn}}
			err := dlq.LoadWebhookSecretWith(context.Background(), c.g, &cfg)
			if c.ok {
				if err != nil || cfg.Notify.WebhookSecret != c.want {
					t.Fatalf("secret %q, %v; want %q", cfg.Notify.WebhookSecret, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "DLQ_WEBHOOK_SECRET_ARN") || cfg.Notify.WebhookSecret != "" {
				t.Fatalf("err = %v, secret %q; want an error with %q", err, cfg.Notify.WebhookSecret, c.want)
			}
			if c.g.value != nil && len(*c.g.value) > 3 && strings.Contains(err.Error(), *c.g.value) {
				t.Fatalf("the error shows the secret: %v", err)
			}
		})
	}
}

// docs/openapi.yaml describes the webhook's body as the code sends it.
func TestNotifyOpenAPI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Webhooks map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Ref string `yaml:"$ref"`
					} `yaml:"schema"`
				} `yaml:"content"`
			} `yaml:"requestBody"`
			Parameters []struct {
				Name string `yaml:"name"`
				In   string `yaml:"in"`
			} `yaml:"parameters"`
		} `yaml:"webhooks"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Webhooks["deadLetters"]["post"]
	if !ok || op.RequestBody.Content["application/json"].Schema.Ref != "#/components/schemas/DlqNotification" {
		t.Fatalf("webhooks.deadLetters.post = %+v", op)
	}
	var headers []string
	for _, p := range op.Parameters {
		if p.In == "header" {
			headers = append(headers, p.Name)
		}
	}
	sort.Strings(headers)
	want := []string{webhook.HeaderAttempt, webhook.HeaderDelivery, webhook.HeaderSignature, webhook.HeaderTimestamp}
	sort.Strings(want)
	if !slices.Equal(headers, want) {
		t.Errorf("documented headers %v, want %v", headers, want)
	}
	for schema, typ := range map[string]reflect.Type{
		"DlqNotification":      reflect.TypeFor[dlq.NotificationBody](),
		"DlqNotificationEntry": reflect.TypeFor[dlq.NotificationEntry](),
	} {
		var fields []string
		for f := range typ.Fields() {
			fields = append(fields, strings.Split(f.Tag.Get("json"), ",")[0])
		}
		var documented []string
		for k := range doc.Components.Schemas[schema].Properties {
			documented = append(documented, k)
		}
		sort.Strings(fields)
		sort.Strings(documented)
		if !slices.Equal(fields, documented) {
			t.Errorf("%s documents %v, the code sends %v", schema, documented, fields)
		}
	}
}

// Passes running at once (two invocations) never send one delivery twice.
func TestNotifyConcurrentPassesSendOnce(t *testing.T) {
	r := newReceiver(t)
	r.status.Store(http.StatusServiceUnavailable)
	cfg := webhookConfig(r)
	cfg.Notify.BatchSize = 1
	svc, pool := setup(t, cfg)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	dlq.SetNotifyClock(svc, clk.now, nil)

	// The first attempt fails; every later batch waits for its retry.
	var envs []envelope.Envelope
	for i := range 20 {
		envs = append(envs, deadLetter(t, "RETRIES_EXHAUSTED"))
		if err := svc.HandleKafka(ctx, batch(int64(i), envs[i])); err != nil {
			t.Fatal(err)
		}
	}
	rows := deliveryRows(t, pool)
	if len(rows) != 20 || len(r.deliveries()) != 1 {
		t.Fatalf("%d deliveries, %d attempts; want 20 held after 1 failed attempt", len(rows), len(r.deliveries()))
	}
	r.status.Store(http.StatusOK)
	clk.set(rows[0].Next)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			if _, err := svc.DeliverNotifications(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	perDelivery := map[string]int{}
	perEntry := map[string]int{}
	for _, g := range r.deliveries()[1:] {
		body := checkSigned(t, g)
		perDelivery[body.DeliveryID]++
		for _, e := range body.Entries {
			perEntry[e.ID]++
		}
	}
	if len(perDelivery) != 20 || len(perEntry) != 20 {
		t.Fatalf("%d deliveries with %d entries sent, want 20 and 20", len(perDelivery), len(perEntry))
	}
	for id, n := range perDelivery {
		if n != 1 {
			t.Fatalf("delivery %s sent %d times", id, n)
		}
	}
	for _, d := range deliveryRows(t, pool) {
		if d.State != dlq.DeliveryDelivered {
			t.Fatalf("delivery %+v", d)
		}
	}
}
