// Package devstack runs the whole platform in one process for `make run`:
// the four functions' handlers, unchanged, behind emulators that produce
// the events AWS would send them.
//
//   - Kafka: an embedded Kafka-protocol broker (franz-go's kfake) that
//     persists its log and committed offsets under DATA_DIR/kafka with
//     every write synced, on :9092 if free; or external KAFKA_BROKERS,
//     which every client of the stack (topic creation, the functions'
//     producers, the mappings' consumers) reaches as KAFKA_AUTH and its
//     settings say.
//   - Postgres: the server at DATABASE_URL, or a private cluster under
//     DATA_DIR/postgres (see pgserver). Each function gets its own
//     database (jobweaver_api, jobweaver_scheduler, jobweaver_worker,
//     jobweaver_dlq), migrated at start, and its own pool.
//   - Event-source mappings (see esm), one per route of the flow table
//     (shared/flow): job-created, job-completed and job-failed to the
//     scheduler, run-job to the worker, job-dead-letter to the dlq; one
//     mapping and consumer group per topic, as in AWS.
//   - A schedule: every TICK_INTERVAL the scheduler gets an EventBridge
//     scheduled event with a deadline of TICK_INTERVAL; ticks never
//     overlap.
//   - HTTP fronts (API Gateway): API_ADDR for the api; SCHEDULER_ADDR and
//     WORKER_ADDR for the scheduler's and worker's internal routes. All
//     three listen on 127.0.0.1 unless told otherwise. The internal
//     fronts answer only loopback clients, whatever their address, and
//     their writes (a cancel) need the run's internal secret, which only
//     DATA_DIR/devstack.json (0600) holds: internal routes are never
//     public (in AWS they are reached only through IAM-authorised Lambda
//     Invoke).
//   - The web dashboard: API_ADDR also serves DASHBOARD_DIR (the built
//     dashboard/dist) at /, with the SPA fallback CloudFront gives it in
//     AWS (see Site).
//
// A hard kill loses nothing: the broker's log and offsets are synced to
// disk, Postgres is durable, uncommitted records are delivered again and
// the handlers are idempotent.
//
// A lock on DATA_DIR/devstack.lock keeps two stacks off one data folder,
// and DATA_DIR/devstack.json tells a one-shot InvokeOnce where a running
// stack's broker and database are.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/esm"
	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

// Stack is a running local stack.
type Stack struct {
	APIURL       string // the public API
	SchedulerURL string // the scheduler's internal routes
	WorkerURL    string // the worker's internal routes
	// InternalSecret is what writes to the internal routes send in
	// InternalSecretHeader; made afresh at each start, and recorded in
	// DATA_DIR/devstack.json (0600).
	InternalSecret string
	Brokers        []string // Kafka
	DatabaseURL    string   // the Postgres server's maintenance database
	DataDir        string   // absolute
	// Invoker reaches the four functions in-process; nil when they run
	// remotely (Config.Remote).
	Invoker *invoke.Local

	remote  invoke.Invoker // Config.Remote's invoker, or nil
	apiOpen bool           // the API listens beyond loopback
	// newAdminKey is the admin key made at this start (API_AUTH=keys, no
	// API_ADMIN_KEY, none in the database), shown once in the summary.
	newAdminKey string

	cfg     Config
	out     io.Writer
	lock    *dataLock
	in      *infra
	deps    []*wiring.Deps
	servers []*http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	once    sync.Once
}

// Start brings the stack up and returns once everything serves. Progress
// and the summary go to out. The stack runs until Close; ctx bounds only
// the start.
func Start(ctx context.Context, cfg Config, out io.Writer) (_ *Stack, err error) {
	out = discardIfNil(out)
	cfg = cfg.withDefaults()
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("devstack: DATA_DIR %s: %w", cfg.DataDir, err)
	}
	cfg.DataDir = dir
	if cfg.DashboardDir != "" {
		if cfg.DashboardDir, err = filepath.Abs(cfg.DashboardDir); err != nil {
			return nil, fmt.Errorf("devstack: DASHBOARD_DIR %s: %w", cfg.DashboardDir, err)
		}
	}
	s := &Stack{cfg: cfg, out: out, DataDir: dir, Invoker: &invoke.Local{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.lock, err = lockData(dir)
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("devstack: another local stack (pid %d) is using DATA_DIR %s; stop it or set DATA_DIR", lockHolder(dir), dir)
	}
	if err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(dir, stateName)) // left by a killed stack
	if s.InternalSecret, err = newSecret(); err != nil {
		return nil, err
	}

	// Bind the HTTP addresses first: a taken port fails fast.
	fronts := []struct {
		name, addr, fn, ns string
		internal           bool
		url                *string
	}{
		{"API_ADDR", cfg.APIAddr, invoke.API, "API", false, &s.APIURL},
		{"SCHEDULER_ADDR", cfg.SchedulerAddr, invoke.Scheduler, "SCHEDULER", true, &s.SchedulerURL},
		{"WORKER_ADDR", cfg.WorkerAddr, invoke.Worker, "WORKER", true, &s.WorkerURL},
	}
	lns := make([]net.Listener, len(fronts))
	defer func() {
		if err != nil {
			for _, ln := range lns {
				if ln != nil {
					ln.Close()
				}
			}
		}
	}()
	for i, f := range fronts {
		if lns[i], err = listen(f.name, f.addr); err != nil {
			return nil, err
		}
		*f.url = httpURL(lns[i])
	}
	s.apiOpen = !loopbackListener(lns[0])

	if s.in, err = openInfra(ctx, cfg, out); err != nil {
		return nil, err
	}
	s.Brokers, s.DatabaseURL = s.in.brokers, s.in.dbURL
	// inv reaches the functions: in-process handlers, or the remote ones.
	var inv invoke.Invoker = s.Invoker
	tickTimeout := cfg.TickInterval
	if cfg.Remote != nil {
		s.Invoker = nil
		if s.remote, err = startRemote(ctx, cfg, s.in, Functions); err != nil {
			return nil, err
		}
		inv = s.remote
		tickTimeout = cfg.FunctionTimeout
	} else if s.deps, err = openFunctions(ctx, cfg, s.in, Functions, s.Invoker); err != nil {
		return nil, err
	}

	if cfg.API.KeysOn() && cfg.API.AdminKey == "" {
		if s.newAdminKey, err = firstAdminKey(ctx, s.in.dbURL, cfg.DatabasePrefix); err != nil {
			return nil, err
		}
	}

	logs := cfg.Logs
	if logs == nil {
		logs = os.Stdout
	}
	// A broker that lost its log: re-drive the work it held, before the
	// mappings and the schedule start.
	bc, err := s.in.checkBroker(ctx, cfg, logging.New("devstack", logs))
	if err != nil {
		return nil, err
	}
	if bc.New && bc.Redriven+bc.Reingested+bc.DeadLettered+bc.Resent > 0 {
		fmt.Fprintf(out, "The Kafka broker is new (cluster %s; the databases had sent their records to %s): re-drove %d RUNNING jobs at once (same attempt, no attempt charged), sent %d accepted jobs the scheduler had not ingested and %d dead letters the dlq had not stored again, and re-sent %d outbox rows in all.\n",
			bc.ClusterID, orNone(bc.Recorded), bc.Redriven, bc.Reingested, bc.DeadLettered, bc.Resent)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	esmLog := logging.New("esm", logs)
	ms := mappings(cfg, s.in, inv, esmLog)
	for _, m := range ms {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := m.Run(runCtx); err != nil {
				esmLog.Error("event-source mapping failed", "esm", m.Name, "error", err.Error())
			}
		}()
	}
	// Serve once every consumer group has settled: a member joining later
	// would stop the group's deliveries for a rebalance. A group that
	// cannot settle (a batch that its function keeps failing holds the
	// rebalance) does not stop the stack: it starts, serves what it can,
	// and says what is wrong.
	if err := s.in.waitGroupsStable(ctx, ms, esmLog); err != nil {
		return nil, err
	}
	ticker := &Ticker{Invoker: inv, Function: invoke.Scheduler, Interval: cfg.TickInterval, Timeout: tickTimeout, Log: logging.New("schedule", logs)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ticker.Run(runCtx)
	}()

	frontLog := logging.New("gateway", logs)
	for i, f := range fronts {
		var h http.Handler = &Front{
			Invoker: inv, Function: f.fn, Namespace: f.ns, Internal: f.internal, Secret: s.InternalSecret,
			SecretOnReads: cfg.API.Auth != api.AuthNone,
			BodyLimit:     cfg.APIBodyLimit, Timeout: cfg.FunctionTimeout, Log: frontLog,
		}
		if !f.internal {
			h = &Site{Dir: cfg.DashboardDir, API: h}
		}
		// Bounded connections, idle keep-alives closed (connlimit.go).
		h = shedOverflow(h, f.ns, cfg.APIMaxConns)
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: FrontIdleTimeout, ConnContext: connContext}
		s.servers = append(s.servers, srv)
		ln := net.Listener(limitConns(lns[i], cfg.APIMaxConns))
		lns[i] = nil
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				frontLog.Error("HTTP front stopped", "function", f.fn, "error", err.Error())
			}
		}()
	}

	if err := writeState(dir, state{
		PID: os.Getpid(), Brokers: s.Brokers, DatabaseURL: s.DatabaseURL,
		APIURL: s.APIURL, SchedulerURL: s.SchedulerURL, WorkerURL: s.WorkerURL,
		KafkaAuth: kafkaAuth(s.in.kafka), InternalSecret: s.InternalSecret,
	}); err != nil {
		return nil, err
	}
	s.printSummary()
	return s, nil
}

// GroupPrefix prefixes the mappings' consumer groups:
// jobweaver-<function>-<topic>.
const GroupPrefix = "jobweaver-"

// mappings are the event-source mappings of the platform: one per route
// of the flow table (shared/flow), consuming in's brokers with its
// security options.
func mappings(cfg Config, in *infra, inv invoke.Invoker, log *slog.Logger) []*esm.Mapping {
	var ms []*esm.Mapping
	for _, r := range flow.Routes {
		timeout, batch, pollers := cfg.FunctionTimeout, cfg.ESMBatchSize, cfg.ESMPollers
		if r.Consumer == invoke.Worker {
			timeout, batch, pollers = cfg.WorkerTimeout, cfg.RunJobBatchSize, cfg.RunJobPollers
		}
		ms = append(ms, &esm.Mapping{
			Name:            r.Topic + "->" + r.Consumer,
			Topics:          []string{r.Topic},
			Group:           r.Group(GroupPrefix),
			Function:        r.Consumer,
			BatchSize:       batch,
			Window:          cfg.ESMBatchWindow,
			Pollers:         pollers,
			Brokers:         in.brokers,
			ClientOpts:      in.kafkaOpts,
			Invoker:         inv,
			Log:             log,
			FunctionTimeout: timeout,
			Health:          &esm.Health{},
		})
	}
	return ms
}

func (s *Stack) printSummary() {
	cfg, w := s.cfg, s.out
	kafkaNote := "external, auth " + s.in.kafka.Describe()
	if s.in.embedded != nil {
		kafkaNote = "embedded; log and offsets in " + filepath.Join(s.DataDir, "kafka")
	}
	pgNote := "databases " + strings.Join(dbNames(cfg.DatabasePrefix), ", ")
	if s.in.pg != nil && s.in.pg.Private {
		pgNote = "private cluster in " + filepath.Join(s.DataDir, "postgres") + "; " + pgNote
	}
	fmt.Fprintf(w, "\nJobWeaver local stack is up.\n")
	apiNote := "this machine only; API_ADDR=0.0.0.0:8080 opens it"
	switch {
	case s.apiOpen && cfg.API.Auth == api.AuthNone:
		apiNote = "OPEN on " + cfg.APIAddr + ": anyone who reaches this machine can submit, read and cancel jobs (API_AUTH=none)"
	case s.apiOpen:
		apiNote = "open on " + cfg.APIAddr + " to the network; every /api route but health needs a credential (API_AUTH=" + cfg.API.Auth + ")"
	}
	fmt.Fprintf(w, "  API          %s  (%s)\n", s.APIURL, apiNote)
	fmt.Fprintf(w, "  auth         %s\n", authNote(cfg.API))
	switch {
	case s.newAdminKey != "":
		fmt.Fprintf(w, "  admin key    %s  (made now, as no admin key existed; shown only this once: keep it, and send it as Authorization: Bearer <key>)\n", s.newAdminKey)
	case cfg.API.KeysOn() && cfg.API.AdminKey == "":
		fmt.Fprintf(w, "  admin key    one exists (made earlier, shown then); API_ADMIN_KEY=$(go run ./localstack/newkey) seeds another\n")
	}
	fmt.Fprintf(w, "  dashboard    %s/  (%s)\n", s.APIURL, dashboardNote(cfg.DashboardDir))
	if note := consoleSignIn(cfg.API, s.newAdminKey != ""); note != "" {
		fmt.Fprintf(w, "               %s\n", note)
	}
	needs := "writes need"
	if cfg.API.Auth != api.AuthNone {
		needs = "with auth on, reads and writes need"
	}
	fmt.Fprintf(w, "  scheduler    %s  (internal routes: /internal/jobs/...; loopback clients only, %s the %s header)\n", s.SchedulerURL, needs, InternalSecretHeader)
	fmt.Fprintf(w, "  worker       %s  (internal routes: /internal/executions/...; loopback clients only, %s the %s header)\n", s.WorkerURL, needs, InternalSecretHeader)
	fmt.Fprintf(w, "  Kafka        %s  (%s)\n", strings.Join(s.Brokers, ","), kafkaNote)
	fmt.Fprintf(w, "  Postgres     %s  (%s)\n", pgdb.Redact(s.DatabaseURL), pgNote)
	fmt.Fprintf(w, "  data folder  %s\n", s.DataDir)
	fmt.Fprintf(w, "  schedule every %s; event-source mappings: batch %d (run-job %d), window %s, %d pollers (run-job %d); function timeout %s (worker %s); at most %d jobs in flight\n",
		cfg.TickInterval, cfg.ESMBatchSize, cfg.RunJobBatchSize, cfg.ESMBatchWindow, cfg.ESMPollers, cfg.RunJobPollers, cfg.FunctionTimeout, cfg.WorkerTimeout, cfg.Scheduler.MaxInFlight)
	fmt.Fprintf(w, "\nTry:\n")
	// With auth on, the examples carry the credentials they need: the
	// caller's key (KEY, set first) on the public API, the internal
	// secret on every internal route.
	apiAuth, internalAuth := "", ""
	secret := fmt.Sprintf(" -H \"%s: $(jq -r .internalSecret %s)\"", InternalSecretHeader, filepath.Join(s.DataDir, stateName))
	if cfg.API.Auth != api.AuthNone {
		key := "<your API key>"
		if s.newAdminKey != "" {
			key = s.newAdminKey
		}
		fmt.Fprintf(w, "  KEY=%s\n", key)
		apiAuth = " -H \"Authorization: Bearer $KEY\""
		internalAuth = secret
	}
	fmt.Fprintf(w, "  curl -s -X POST %s/api/jobs -H 'Content-Type: application/json'%s \\\n", s.APIURL, apiAuth)
	fmt.Fprintf(w, "    -d '{\"jobType\":\"SIMULATION\",\"payload\":{\"steps\":[{\"action\":\"LOG\",\"message\":\"hello\"},{\"action\":\"SLEEP\",\"durationMs\":500}]},\"maxRetryCount\":3}'\n")
	fmt.Fprintf(w, "  curl -s %s/api/jobs/<jobId>%s\n", s.APIURL, apiAuth)
	fmt.Fprintf(w, "  curl -s '%s/api/jobs?page=0&size=20'%s\n", s.APIURL, apiAuth)
	fmt.Fprintf(w, "  curl -s %s/api/dlq%s\n", s.APIURL, apiAuth)
	fmt.Fprintf(w, "  curl -s %s/internal/jobs/<jobId>/status%s\n", s.SchedulerURL, internalAuth)
	fmt.Fprintf(w, "  curl -s '%s/internal/executions/<jobId>?page=0&size=20'%s\n", s.WorkerURL, internalAuth)
	fmt.Fprintf(w, "  curl -s -X POST %s/internal/jobs/<jobId>/cancel%s\n", s.SchedulerURL, secret)
	fmt.Fprintf(w, "Ctrl-C stops it.\n\n")
}

func dbNames(prefix string) []string {
	var out []string
	for _, f := range Functions {
		out = append(out, prefix+"_"+f)
	}
	return out
}

// orNone is s, or a phrase for a cluster ID that was not recorded.
func orNone(s string) string {
	if s == "" {
		return "a broker not recorded"
	}
	return s
}

// newSecret returns 32 random bytes in hex.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("devstack: make the internal secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Close stops the stack in order: the HTTP fronts, the mappings and the
// schedule (waiting for running invocations), the functions' connections,
// the embedded broker (which flushes) and a private Postgres.
func (s *Stack) Close() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			_ = srv.Shutdown(ctx)
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		closeAll(s.deps)
		closeRemote(s.remote)
		if s.in != nil {
			s.in.close()
		}
		if s.lock != nil {
			_ = os.Remove(filepath.Join(s.DataDir, stateName))
			s.lock.unlock()
		}
	})
}

// waitGroupsStable waits until each mapping's consumer group is Stable with
// all its pollers as members. It gives up waiting, logs why and returns
// nil, when a group that has not settled belongs to a mapping whose
// function keeps failing a batch (the poller holding it blocks the
// rebalance until the batch goes through), or after a minute; it fails
// only if ctx ends or the broker cannot be reached.
func (in *infra) waitGroupsStable(ctx context.Context, ms []*esm.Mapping, log *slog.Logger) error {
	cl, err := in.kafkaClient("jobweaver-devstack")
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	want := map[string]int{}
	byGroup := map[string]*esm.Mapping{}
	var groups []string
	for _, m := range ms {
		want[m.Group] = max(m.Pollers, 1)
		byGroup[m.Group] = m
		groups = append(groups, m.Group)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		described, err := adm.DescribeGroups(ctx, groups...)
		var unsettled []string // "group: state, n of m members"
		var stuck []string     // what a failing batch says
		for _, g := range groups {
			d, ok := described[g]
			switch {
			case err != nil:
				unsettled = append(unsettled, fmt.Sprintf("%s: %v", g, err))
			case !ok || d.Err != nil:
				unsettled = append(unsettled, fmt.Sprintf("%s: not described (%v)", g, d.Err))
			case d.State != "Stable" || len(d.Members) != want[g]:
				unsettled = append(unsettled, fmt.Sprintf("%s: %s, %d of %d members", g, d.State, len(d.Members), want[g]))
			default:
				continue
			}
			for _, f := range byGroup[g].Health.Failing() {
				if f.Attempts >= 3 {
					stuck = append(stuck, byGroup[g].Name+": "+f.String())
				}
			}
		}
		switch {
		case len(unsettled) == 0:
			return nil
		case len(stuck) > 0:
			log.Error("starting anyway: an event-source mapping keeps failing a batch, which holds its consumer group's rebalance; "+
				"the records behind it wait until the function stops failing (see the function's log)",
				"groups", strings.Join(unsettled, "; "), "failing", strings.Join(stuck, "; "))
			return nil
		case time.Now().After(deadline):
			log.Error("starting anyway: the event-source mappings' consumer groups did not settle within a minute; "+
				"their deliveries may pause until they do", "groups", strings.Join(unsettled, "; "))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// authNote describes the API's access control for the banner.
func authNote(c api.Config) string {
	if c.JWTOn() {
		note := "API_AUTH=" + c.Auth + ": every /api route needs Authorization: Bearer <JWT from " + c.JWTIssuer + ">"
		if c.KeysOn() {
			note += " or <API key>"
		}
		return note + " with a role (docs/security.md)"
	}
	if c.Auth == api.AuthKeys {
		note := "API_AUTH=keys: every /api route needs Authorization: Bearer <API key> with a role (docs/security.md)"
		if c.AdminKey != "" {
			note += "; API_ADMIN_KEY is an admin key"
		}
		return note
	}
	return "OFF (API_AUTH=none): every caller may do anything, as anonymous; API_AUTH=keys turns API keys and roles on"
}

// firstAdminKey makes an admin key in the api database if it has no
// usable one (api.EnsureAdminKey), for the banner to show once.
func firstAdminKey(ctx context.Context, serverURL, prefix string) (string, error) {
	u, err := pgdb.WithDatabase(serverURL, prefix+"_"+invoke.API)
	if err != nil {
		return "", err
	}
	pool, err := pgdb.Open(ctx, u, 1)
	if err != nil {
		return "", fmt.Errorf("devstack: the api database: %w", err)
	}
	defer pool.Close()
	key, err := api.EnsureAdminKey(ctx, pool, "make run")
	if err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	return key, nil
}
