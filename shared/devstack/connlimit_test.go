package devstack

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
)

// TestConnLimit: past API_MAX_CONNS a connection answers health and
// 503 API.OVERLOADED with Retry-After for anything else, then closes; once
// connections close, new ones are served again.
func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}, 10), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	srv := &http.Server{Handler: shedOverflow(h, "API", 2), ReadHeaderTimeout: 10 * time.Second, ConnContext: connContext}
	lim := limitConns(ln, 2)
	go func() { _ = srv.Serve(lim) }()
	defer func() { _ = srv.Close() }()
	url := "http://" + ln.Addr().String()

	// Two clients, each with a connection of its own, hold the two places.
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		c := &http.Client{Transport: &http.Transport{}}
		go func() {
			resp, err := c.Get(url + "/hold")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-entered
	}
	fresh := func() *http.Client { return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} }
	for _, c := range []struct {
		path   string
		status int
	}{{"/api/jobs", http.StatusServiceUnavailable}, {"/health", http.StatusOK}, {"/actuator/health", http.StatusOK}, {"/internal/jobs", http.StatusServiceUnavailable}} {
		resp, err := fresh().Get(url + c.path)
		if err != nil {
			t.Fatalf("%s past the bound: %v", c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !resp.Close {
			t.Fatalf("%s past the bound: %d (close %v) %s; want %d and the connection closed", c.path, resp.StatusCode, resp.Close, body, c.status)
		}
		if c.status == http.StatusServiceUnavailable {
			var e apierror.Body
			if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != "API.OVERLOADED" || resp.Header.Get("Retry-After") != "1" {
				t.Fatalf("%s past the bound: %s with Retry-After %q; want API.OVERLOADED and 1", c.path, body, resp.Header.Get("Retry-After"))
			}
		}
	}
	if n := lim.open.Load(); n < 2 || n > 2+ConnReserve {
		t.Fatalf("%d connections open, want between 2 and %d", n, 2+ConnReserve)
	}
	close(release)
	for i := 0; i < 2; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// The holders' connections may idle in their pools: a new client is
	// served once they are closed.
	srv.SetKeepAlivesEnabled(false)
	for deadline := time.Now().Add(10 * time.Second); lim.open.Load() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after every request ended", lim.open.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := fresh().Get(url + "/api/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the load passed: %d, want 200", resp.StatusCode)
	}
}
