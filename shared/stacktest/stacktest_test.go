package stacktest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/devstack"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/pgtest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

func TestDoSendsJSONAndHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = b.WriteString(r.Method + " " + r.URL.String() + " " + r.Header.Get("Content-Type") + " " + r.Header.Get("X-Trace-Id"))
		w.Header().Set("X-Echo", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte(`{"got":"` + b.String() + `"}`))
	}))
	defer srv.Close()

	r := Do(t, srv.URL, http.MethodPost, "/x?y=1", `{}`, "X-Trace-Id", "t1")
	if r.Status != http.StatusTeapot || r.Header.Get("X-Echo") != "yes" {
		t.Errorf("Do = %d %v", r.Status, r.Header)
	}
	if got := r.JSON(t)["got"]; got != "POST /x?y=1 application/json t1" {
		t.Errorf("the server saw %q", got)
	}
	if got := Do(t, srv.URL, http.MethodGet, "/", "").JSON(t)["got"]; got != "GET /  " {
		t.Errorf("a request without a body has a content type: %q", got)
	}
}

func TestConfigIsPrivateAndDropsItsDatabases(t *testing.T) {
	var cfg devstack.Config
	t.Run("config", func(t *testing.T) {
		cfg = Config(t, "stacktest", map[string]string{"TICK_INTERVAL": "75ms"})
		if !regexp.MustCompile(`^jwtest_stacktest_\d+_\d+$`).MatchString(cfg.DatabasePrefix) {
			t.Errorf("DatabasePrefix = %q", cfg.DatabasePrefix)
		}
		if cfg.TickInterval != 75*time.Millisecond {
			t.Errorf("TickInterval = %v; vars are not applied", cfg.TickInterval)
		}
		if cfg.APIAddr != "127.0.0.1:0" || cfg.SchedulerAddr != "127.0.0.1:0" || cfg.WorkerAddr != "127.0.0.1:0" || cfg.KafkaPort != 0 {
			t.Errorf("ports are not free ones: %+v", cfg)
		}
		if cfg.DataDir == "" || cfg.DatabaseURL != pgtest.AdminDSN(t) || cfg.Logs == nil {
			t.Errorf("DataDir %q DatabaseURL %q Logs %v", cfg.DataDir, cfg.DatabaseURL, cfg.Logs)
		}
		if other := Config(t, "stacktest", nil); other.DatabasePrefix == cfg.DatabasePrefix {
			t.Errorf("two configs share the prefix %s", cfg.DatabasePrefix)
		}
		for _, fn := range devstack.Functions {
			if err := pgdb.EnsureDatabase(context.Background(), cfg.DatabaseURL, dbName(cfg.DatabasePrefix, fn)); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, fn := range devstack.Functions {
		if exists(t, cfg.DatabaseURL, dbName(cfg.DatabasePrefix, fn)) {
			t.Errorf("the database of %s is left behind", fn)
		}
	}
}

func TestStackRunsJobs(t *testing.T) {
	s := Start(t, Config(t, "stacktest", map[string]string{
		"TICK_INTERVAL":          "50ms",
		"ESM_BATCH_WINDOW":       "1ms",
		"ESM_POLLERS":            "1",
		"SCHEDULER_BACKOFF_BASE": "100ms",
		"SCHEDULER_IDLE_POLL":    "20ms",
	}))
	if len(s.DBs) != len(devstack.Functions) || s.Admin != pgtest.AdminDSN(t) || !strings.HasPrefix(s.Prefix, "jwtest_stacktest_") {
		t.Fatalf("Stack = %+v", s)
	}
	ok := s.Submit(t, JobJSON(`{"action":"LOG","message":"stacktest"}`, 0), "X-Trace-Id", "trace-stacktest")
	failing := s.Submit(t, JobJSON(`{"action":"FAIL","message":"stacktest"}`, 0))
	if got := s.WaitStatus(t, ok, "COMPLETED", "FAILED"); got["status"] != "COMPLETED" {
		t.Errorf("the LOG job ended %v", got)
	}
	s.WaitStatus(t, failing, "FAILED")
	if n := s.Count(t, "api", `SELECT count(*) FROM jobs WHERE id::text = $1`, ok); n != 1 {
		t.Errorf("the api database holds %d rows for job %s", n, ok)
	}
	dl := s.WaitDeadLetter(t, "the failed job", func(e map[string]any) bool { return e["jobId"] == failing })
	if len(s.DeadLetters(t)) != 1 {
		t.Errorf("the DLQ holds more than %v", dl)
	}
	testwait.Eventually(t, Bound, "the job is listed", func() bool {
		return s.Do(t, http.MethodGet, "/api/jobs/"+ok, "").Status == http.StatusOK
	})
	if r := s.Do(t, http.MethodGet, "/api/jobs/not-a-job", ""); r.Status < 400 {
		t.Errorf("GET an unknown job = %d %s", r.Status, r.Body)
	}
}

func exists(t *testing.T, admin, db string) bool {
	t.Helper()
	p, err := pgdb.Open(context.Background(), admin, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var n int
	if err := p.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname = $1`, db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
