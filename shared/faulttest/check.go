package faulttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// DBs is a small pool on each of a stack's four databases
// (<prefix>_api, …), whichever process runs the stack.
type DBs struct {
	// Brokers are the stack's brokers, where Check looks for the events
	// of outbox rows left (see Unsent).
	Brokers []string
	pools   map[string]*pgxpool.Pool
}

// OpenDBs opens pools on the databases of the stack with this prefix on
// the server admin (its maintenance database URL), whose brokers are
// brokers; they close when the test ends.
func OpenDBs(tb testing.TB, admin, prefix string, brokers []string) *DBs {
	tb.Helper()
	d := &DBs{Brokers: brokers, pools: map[string]*pgxpool.Pool{}}
	for _, fn := range devstack.Functions {
		u, err := pgdb.WithDatabase(admin, prefix+"_"+fn)
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		p, err := pgdb.Open(ctx, u, 3)
		cancel()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(p.Close)
		d.pools[fn] = p
	}
	return d
}

// Pool returns the pool on fn's database.
func (d *DBs) Pool(fn string) *pgxpool.Pool { return d.pools[fn] }

// Int runs a query of one integer on fn's database. A connection the
// test itself lost (a case that terminates backends) is retried.
func (d *DBs) Int(tb testing.TB, fn, sql string, args ...any) int {
	tb.Helper()
	var n int
	var err error
	for try := 0; try < 5; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = d.pools[fn].QueryRow(ctx, sql, args...).Scan(&n)
		cancel()
		if err == nil || !lostConnection(err) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("%s: %s: %v", fn, sql, err)
	}
	return n
}

// perJob runs a query of (job ID, count) rows on fn's database.
func (d *DBs) perJob(tb testing.TB, fn, sql string) map[string]int {
	tb.Helper()
	var out map[string]int
	var err error
	for try := 0; try < 5; try++ {
		out = map[string]int{}
		err = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rows, err := d.pools[fn].Query(ctx, sql)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var n int
				if err := rows.Scan(&id, &n); err != nil {
					return err
				}
				out[id] = n
			}
			return rows.Err()
		}()
		if err == nil || !lostConnection(err) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("%s: %s: %v", fn, sql, err)
	}
	return out
}

// lostConnection: the server ended the session (pg_terminate_backend) or
// the connection broke.
func lostConnection(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57P") || strings.HasPrefix(pe.Code, "08")
	}
	return pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") ||
		strings.Contains(err.Error(), "unexpected EOF") || strings.Contains(err.Error(), "connection reset")
}

// Terminal returns how many of jobs are COMPLETED or FAILED in the
// scheduler.
func (d *DBs) Terminal(tb testing.TB, jobs []Job) int {
	tb.Helper()
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return d.Int(tb, "scheduler", `SELECT count(*) FROM jobs WHERE id = ANY($1::text[]::uuid[]) AND status IN ('COMPLETED', 'FAILED')`, ids)
}

// Unfinished returns the IDs of jobs not yet COMPLETED or FAILED in the
// scheduler.
func (d *DBs) Unfinished(tb testing.TB, jobs []Job) []string {
	tb.Helper()
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	done := d.perJob(tb, "scheduler", `SELECT id::text, 1 FROM jobs WHERE status IN ('COMPLETED', 'FAILED')`)
	var out []string
	for _, id := range ids {
		if done[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Outboxes returns the outbox rows of the four databases.
func (d *DBs) Outboxes(tb testing.TB) int {
	tb.Helper()
	n := 0
	for _, fn := range devstack.Functions {
		n += d.Int(tb, fn, `SELECT count(*) FROM outbox`)
	}
	return n
}

// Unsent returns, by function, the outbox rows whose event is not on the
// broker: work that waits to be published. A row whose event is already
// there was published and waits only for its delete: the api groups the
// deletes of what it publishes and runs them on a later request or sweep,
// so an idle api keeps its last published rows, which are not stuck work.
func (d *DBs) Unsent(tb testing.TB, brokers []string) (unsent map[string]int, published int) {
	tb.Helper()
	type row struct{ fn, topic, eventID string }
	var rows []row
	topics := map[string]bool{}
	for _, fn := range devstack.Functions {
		if d.Int(tb, fn, `SELECT count(*) FROM outbox`) == 0 {
			continue
		}
		r, err := d.pools[fn].Query(context.Background(), `SELECT topic, coalesce(headers->>'eventId', '') FROM outbox`)
		if err != nil {
			tb.Fatalf("%s outbox: %v", fn, err)
		}
		for r.Next() {
			x := row{fn: fn}
			if err := r.Scan(&x.topic, &x.eventID); err != nil {
				tb.Fatal(err)
			}
			rows = append(rows, x)
			topics[x.topic] = true
		}
		r.Close()
	}
	unsent = map[string]int{}
	if len(rows) == 0 {
		return unsent, 0
	}
	onBroker := map[string]bool{}
	if len(brokers) > 0 {
		for topic := range topics {
			for _, rec := range ReadTopic(tb, brokers, topic) {
				if id := Header(rec, "eventId"); id != "" {
					onBroker[topic+"/"+id] = true
				}
			}
		}
	}
	for _, x := range rows {
		if x.eventID != "" && onBroker[x.topic+"/"+x.eventID] {
			published++
		} else {
			unsent[x.fn]++
		}
	}
	return unsent, published
}

// Settle waits until every job is terminal in the scheduler, every dead
// job's dead letter is stored, every outbox is empty (published rows are
// deleted, not left for a later sweep to send again) and every consumer
// group has consumed everything: the stack is at rest.
func Settle(tb testing.TB, d *DBs, brokers []string, jobs []Job, within time.Duration) {
	tb.Helper()
	dead := 0
	for _, j := range jobs {
		if j.Kind.DeadLetter {
			dead++
		}
	}
	ids := make([]string, 0, dead)
	for _, j := range jobs {
		if j.Kind.DeadLetter {
			ids = append(ids, j.ID)
		}
	}
	deadline := time.Now().Add(within)
	var last string
	for {
		term := d.Terminal(tb, jobs)
		letters := d.Int(tb, "dlq", `SELECT count(DISTINCT job_id) FROM dead_letters WHERE job_id = ANY($1::text[]::uuid[])`, ids)
		out := d.Outboxes(tb)
		lag := int64(0)
		if term == len(jobs) && letters == dead && len(brokers) > 0 {
			var err error
			if lag, err = Lag(brokers); err != nil {
				lag = -1
			}
		}
		last = fmt.Sprintf("%d of %d jobs terminal, %d of %d dead letters, %d outbox rows, consumer lag %d", term, len(jobs), letters, dead, out, lag)
		if term == len(jobs) && letters == dead && out == 0 && lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the stack did not settle within %s: %s%s", within, last, d.Describe(tb, jobs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Describe says where the unfinished jobs and unsent rows are.
func (d *DBs) Describe(tb testing.TB, jobs []Job) string {
	tb.Helper()
	var b strings.Builder
	for _, fn := range devstack.Functions {
		if n := d.Int(tb, fn, `SELECT count(*) FROM outbox`); n > 0 {
			age := d.Int(tb, fn, `SELECT extract(epoch FROM now() - min(created_at))::int FROM outbox`)
			fmt.Fprintf(&b, "\n  %s outbox: %d rows, the oldest %d s old", fn, n, age)
		}
	}
	for i, id := range d.Unfinished(tb, jobs) {
		if i == 5 {
			b.WriteString("\n  …")
			break
		}
		var st string
		var attempts int
		err := d.pools["scheduler"].QueryRow(context.Background(), `SELECT status, attempts FROM jobs WHERE id = $1::uuid`, id).Scan(&st, &attempts)
		if err != nil {
			st = "unknown to the scheduler (" + err.Error() + ")"
		}
		api := "unknown"
		_ = d.pools["api"].QueryRow(context.Background(), `SELECT 'stored' FROM jobs WHERE id = $1::uuid`, id).Scan(&api)
		fmt.Fprintf(&b, "\n  job %s: scheduler %s after %d attempts; api: %s; %d executions", id, st, attempts, api,
			d.Int(tb, "worker", `SELECT count(*) FROM executions WHERE job_id = $1::uuid`, id))
	}
	return b.String()
}

// Lag returns the total lag of every consumer group on brokers.
func Lag(brokers []string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		return 0, err
	}
	if len(groups) < 5 {
		return 0, fmt.Errorf("%d consumer groups, want 5", len(groups))
	}
	lags, err := adm.Lag(ctx, groups.Groups()...)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range lags {
		if l.Error() != nil {
			return 0, l.Error()
		}
		total += l.Lag.Total()
	}
	return total, nil
}

// Tolerance is what a case allows beyond the invariants' exact counts.
//
// A step cut off by a fault (a kill, a lost database session) after its
// side effect and before its checkpoint was stored runs again in the next
// attempt: steps are at-least-once within themselves, exactly-once once
// checkpointed (durable resume, docs/reliability.md). A checkpointed step
// never runs again. So a job may show at most one extra run of its
// counted step per fault that happened while it was unfinished.
type Tolerance struct {
	Rerun  int            // extra step runs allowed for a job not in PerJob
	PerJob map[string]int // by job ID: faults that hit while it was unfinished
}

func (t Tolerance) allowed(id string) int {
	if n, ok := t.PerJob[id]; ok {
		return n
	}
	return t.Rerun
}

// Check asserts the invariants of the fault matrix over jobs, on a settled
// stack (see Settle):
//   - every job reaches exactly one right terminal state, after the right
//     number of attempts, each attempt recorded once and finished;
//   - no finished step runs again: the steps of each finished attempt ran
//     once (counted at target), beyond what tol allows for attempts cut
//     off by a fault;
//   - no dead letter appears twice: one per dead job, none for the others,
//     and no two with the same source record;
//   - nothing is left stuck: no job of the scheduler PENDING or RUNNING,
//     no attempt open, and no outbox row left: unsent, or published and
//     never deleted (Unsent tells which, for the report).
//
// It returns how many extra step runs it saw (allowed by tol).
func Check(tb testing.TB, d *DBs, target *Target, jobs []Job, tol Tolerance) (reruns int) {
	tb.Helper()
	type row struct {
		status   string
		attempts int
	}
	states := map[string]row{}
	{
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		rows, err := d.pools["scheduler"].Query(ctx, `SELECT id::text, status, attempts FROM jobs`)
		if err != nil {
			cancel()
			tb.Fatal(err)
		}
		for rows.Next() {
			var id string
			var r row
			if err := rows.Scan(&id, &r.status, &r.attempts); err != nil {
				tb.Fatal(err)
			}
			states[id] = r
		}
		rows.Close()
		cancel()
		if rows.Err() != nil {
			tb.Fatal(rows.Err())
		}
	}
	attemptRows := d.perJob(tb, "scheduler", `SELECT job_id::text, count(*) FROM job_attempts GROUP BY job_id`)
	openAttempts := d.perJob(tb, "scheduler", `SELECT job_id::text, count(*) FROM job_attempts WHERE outcome IS NULL GROUP BY job_id`)
	execs := d.perJob(tb, "worker", `SELECT job_id::text, count(*) FROM executions GROUP BY job_id`)
	execAttempts := d.perJob(tb, "worker", `SELECT job_id::text, count(DISTINCT attempt) FROM executions GROUP BY job_id`)
	letters := d.perJob(tb, "dlq", `SELECT job_id::text, count(*) FROM dead_letters WHERE job_id IS NOT NULL AND reason <> 'POISON_RECORD' GROUP BY job_id`)

	var bad []string
	report := func(format string, args ...any) {
		if len(bad) < 30 {
			bad = append(bad, fmt.Sprintf(format, args...))
		} else if len(bad) == 30 {
			bad = append(bad, "…")
		}
	}
	for _, j := range jobs {
		k := j.Kind
		st, ok := states[j.ID]
		switch {
		case !ok:
			report("job %s (%s, %s): unknown to the scheduler", j.Token, j.ID, k.Name)
			continue
		case st.status != k.Status || st.attempts != k.Attempts:
			report("job %s (%s, %s): %s after %d attempts; want %s after %d", j.Token, j.ID, k.Name, st.status, st.attempts, k.Status, k.Attempts)
		}
		if attemptRows[j.ID] != k.Attempts || openAttempts[j.ID] != 0 {
			report("job %s (%s): %d attempt rows (%d open); want %d, all finished", j.Token, k.Name, attemptRows[j.ID], openAttempts[j.ID], k.Attempts)
		}
		if execs[j.ID] != k.Attempts || execAttempts[j.ID] != k.Attempts {
			report("job %s (%s): %d executions for %d distinct attempts; want %d, one each", j.Token, k.Name, execs[j.ID], execAttempts[j.ID], k.Attempts)
		}
		// Durable resume: the counted HTTP_CALL (step 0) is checkpointed
		// when it ends, and no later attempt runs it again. So it runs once
		// per job, however many attempts follow.
		h, once := execs[j.ID], execs[j.ID]
		if !k.NoCall {
			h, once = target.Hits(j.Token), 1
		}
		extra := h - once
		switch {
		case extra < 0:
			report("job %s (%s): its counted step ran %d times; want %d", j.Token, k.Name, h, once)
		case extra > tol.allowed(j.ID):
			report("job %s (%s): steps ran %d times for %d finished attempts; at most %d reruns of a step cut off by a fault allowed", j.Token, k.Name, h, execs[j.ID], tol.allowed(j.ID))
		}
		reruns += max(extra, 0)
		want := 0
		if k.DeadLetter {
			want = 1
		}
		if letters[j.ID] != want {
			report("job %s (%s): %d dead letters, want %d", j.Token, k.Name, letters[j.ID], want)
		}
	}
	for id, n := range letters {
		if n > 1 {
			report("job %s: %d dead letters", id, n)
		}
	}
	if n := d.Int(tb, "dlq", `SELECT count(*) FROM (SELECT 1 FROM dead_letters WHERE source IS NOT NULL AND source ? 'topic'
		GROUP BY source->>'topic', source->>'partition', source->>'offset' HAVING count(*) > 1) dup`); n > 0 {
		report("%d poison records have more than one dead letter", n)
	}
	if n := d.Int(tb, "scheduler", `SELECT count(*) FROM jobs WHERE status IN ('PENDING', 'RUNNING')`); n > 0 {
		report("%d jobs are stuck PENDING or RUNNING", n)
	}
	if n := d.Int(tb, "scheduler", `SELECT count(*) FROM job_attempts WHERE outcome IS NULL`); n > 0 {
		report("%d attempts are still open", n)
	}
	unsent, _ := d.Unsent(tb, d.Brokers)
	for _, fn := range devstack.Functions {
		if n := d.Int(tb, fn, `SELECT count(*) FROM outbox`); n > 0 {
			report("%s: %d outbox rows left (%d of them unsent)", fn, n, unsent[fn])
		}
	}
	if len(bad) > 0 {
		tb.Errorf("%d jobs checked; the invariants do not hold:\n  %s", len(jobs), strings.Join(bad, "\n  "))
	}
	return reruns
}
