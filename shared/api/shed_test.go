package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
)

func TestMaxInFlightConfig(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		want    int
		wantErr string
	}{
		{nil, DefaultMaxInFlight, ""},
		{map[string]string{"API_MAX_IN_FLIGHT": "1"}, 1, ""},
		{map[string]string{"API_MAX_IN_FLIGHT": "100000"}, 100000, ""},
		{map[string]string{"API_MAX_IN_FLIGHT": "0"}, 0, "API_MAX_IN_FLIGHT"},
		{map[string]string{"API_MAX_IN_FLIGHT": "100001"}, 0, "API_MAX_IN_FLIGHT"},
		{map[string]string{"API_MAX_IN_FLIGHT": "lots"}, 0, "API_MAX_IN_FLIGHT"},
	} {
		env := config.FromMap(c.env)
		cfg := ConfigFromEnv(env)
		err := env.Err()
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v: error %v, want one naming %s", c.env, err, c.wantErr)
			}
			continue
		}
		if err != nil || cfg.MaxInFlight != c.want {
			t.Errorf("%v: MaxInFlight %d, error %v; want %d", c.env, cfg.MaxInFlight, err, c.want)
		}
		if err := cfg.validate(); err != nil {
			t.Errorf("%v: validate: %v", c.env, err)
		}
	}
	if err := (Config{MaxInFlight: -1}).withDefaults().validate(); err == nil || !strings.Contains(err.Error(), "API_MAX_IN_FLIGHT") {
		t.Errorf("MaxInFlight -1: validate = %v, want an error naming API_MAX_IN_FLIGHT", err)
	}
}

func TestShedder(t *testing.T) {
	s := shedder{max: 2}
	for i, want := range []bool{true, true, false, false} {
		if got := s.acquire(); got != want {
			t.Fatalf("acquire %d = %v, want %v", i+1, got, want)
		}
	}
	s.release()
	if !s.acquire() {
		t.Fatal("acquire after a release = false, want true")
	}
	if s.acquire() {
		t.Fatal("acquire past the bound = true")
	}
	if n := s.n.Load(); n != 2 {
		t.Fatalf("in flight = %d after refusals, want 2 (a refusal takes no place)", n)
	}
}

// holdScheduler makes the bundle's scheduler block every call until
// release is closed; each call entering is sent on entered.
func holdScheduler(b *bundle) (entered chan struct{}, release chan struct{}) {
	entered, release = make(chan struct{}, 100), make(chan struct{})
	b.local.Register(invoke.Scheduler, lambda.NewHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		entered <- struct{}{}
		<-release
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"content":[],"page":0,"size":20,"totalElements":0,"totalPages":0}`}, nil
	}))
	return entered, release
}

// TestShedPastMaxInFlight: with API_MAX_IN_FLIGHT requests held, a
// submission is answered 503 API.OVERLOADED with Retry-After and stores
// nothing; health still answers; once they finish, submissions pass.
func TestShedPastMaxInFlight(t *testing.T) {
	b := setup(t, Config{MaxInFlight: 2})
	entered, release := holdScheduler(b)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.do(http.MethodGet, "/api/jobs", "")
		}()
	}
	<-entered
	<-entered
	for _, c := range []struct {
		name, method, path, body string
	}{
		{"submit", http.MethodPost, "/api/jobs", `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]}}`},
		{"batch", http.MethodPost, "/api/jobs/batch", `{"jobs":[{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]}}]}`},
		{"read", http.MethodGet, "/api/jobs", ""},
		{"unknown route", http.MethodGet, "/api/nothing", ""},
	} {
		w := b.do(c.method, c.path, c.body, "Content-Type", "application/json")
		e := wantError(t, w, http.StatusServiceUnavailable, "API.OVERLOADED")
		if w.Header().Get("Retry-After") != "1" {
			t.Errorf("%s: Retry-After %q, want 1", c.name, w.Header().Get("Retry-After"))
		}
		if !strings.Contains(e.Message, "API_MAX_IN_FLIGHT=2") || !strings.Contains(e.Message, "retry") {
			t.Errorf("%s: message %q, want it to name API_MAX_IN_FLIGHT=2 and say to retry", c.name, e.Message)
		}
	}
	for _, p := range []string{"/health", "/actuator/health"} {
		if w := b.do(http.MethodGet, p, ""); w.Code != http.StatusOK {
			t.Errorf("%s while overloaded = %d %s, want 200 (health is never shed)", p, w.Code, w.Body.String())
		}
	}
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d jobs stored by shed submissions, want 0", n)
	}
	close(release)
	wg.Wait()
	if w := b.post(`{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]}}`); w.Code != http.StatusAccepted {
		t.Fatalf("submit after the load passed = %d %s, want 202", w.Code, w.Body.String())
	}
	if got := b.svc.shed.n.Load(); got != 0 {
		t.Fatalf("in flight after every request ended = %d, want 0", got)
	}
}

// TestShedRealServerFlood floods a real HTTP server past the bound: the
// answers are 202 or 503 API.OVERLOADED with Retry-After, nothing else,
// and every 202's job is stored with its outbox event while no shed one
// is.
func TestShedRealServerFlood(t *testing.T) {
	b := setup(t, Config{MaxInFlight: 3})
	srv := httptest.NewServer(b.svc.HTTPHandler())
	defer srv.Close()
	entered, release := holdScheduler(b)
	// Hold every place, so that the first wave is shed whole.
	var held sync.WaitGroup
	for i := 0; i < 3; i++ {
		held.Add(1)
		go func() {
			defer held.Done()
			resp, err := http.Get(srv.URL + "/api/jobs")
			if err == nil {
				resp.Body.Close()
			}
		}()
		<-entered
	}
	const job = `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"flood"}]}}`
	flood := func(n int) (accepted []string, shed int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Post(srv.URL+"/api/jobs", "application/json", strings.NewReader(job))
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				switch resp.StatusCode {
				case http.StatusAccepted:
					var a struct {
						JobID string `json:"jobId"`
					}
					if err := json.Unmarshal(body, &a); err != nil || a.JobID == "" {
						t.Errorf("202 without a jobId: %s", body)
					}
					accepted = append(accepted, a.JobID)
				case http.StatusServiceUnavailable:
					var e errorBody
					if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != "API.OVERLOADED" || resp.Header.Get("Retry-After") == "" {
						t.Errorf("503 %s with Retry-After %q, want API.OVERLOADED with Retry-After", body, resp.Header.Get("Retry-After"))
					}
					shed++
				default:
					t.Errorf("answer %d %s, want 202 or 503", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		return accepted, shed
	}
	acc1, shed1 := flood(60)
	if len(acc1) != 0 || shed1 != 60 {
		t.Fatalf("with every place held: %d accepted, %d shed; want 0 and 60", len(acc1), shed1)
	}
	close(release)
	held.Wait()
	acc2, shed2 := flood(200)
	if len(acc2)+shed2 != 200 || len(acc2) == 0 {
		t.Fatalf("flood of 200: %d accepted + %d shed, want 200 with some accepted", len(acc2), shed2)
	}
	var stored int
	ctx := context.Background()
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM jobs`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	var found int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE id = ANY($1::uuid[])`, acc2).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if stored != len(acc2) || found != len(acc2) {
		t.Fatalf("jobs stored %d, of the accepted %d found %d; want exactly the accepted ones", stored, len(acc2), found)
	}
	// Every accepted job's JobCreated event reaches the broker, and no
	// other: none lost, none made by a shed request.
	want := map[string]bool{}
	for _, id := range acc2 {
		want[id] = true
	}
	recs := kafkatest.ReadAll(t, b.brokers, envelope.TopicJobCreated, len(acc2), 15*time.Second)
	for _, r := range recs {
		if !want[string(r.Key)] {
			t.Errorf("job-created record for %s, which was not accepted", r.Key)
		}
		delete(want, string(r.Key))
	}
	if len(want) > 0 {
		t.Fatalf("%d accepted jobs have no job-created record (of %d accepted, %d shed)", len(want), len(acc2), shed2)
	}
}
