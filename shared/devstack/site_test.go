package devstack

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testDist is a stand-in for dashboard/dist: index.html, two hashed
// assets, a favicon and a dot file.
const testDist = "testdata/dist"

func readTestFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testDist, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSiteServesTheDashboardBesideTheAPI runs the site in front of the
// api front (with the echo function standing in for the api handler):
// files, the SPA fallback, and what stays the API's.
func TestSiteServesTheDashboardBesideTheAPI(t *testing.T) {
	inv, calls := echo(t)
	site := &Site{Dir: testDist, API: &Front{Invoker: inv, Function: "fn", Namespace: "API", BodyLimit: 1024, Timeout: time.Minute}}
	index := readTestFile(t, "index.html")
	const api = "API" // the request reached the api front (echo answers 201)
	tests := []struct {
		method, path string
		accept       string
		wantStatus   int
		wantBody     string // the whole body; api: the echo's path; "" not checked
		wantType     string // Content-Type prefix
		wantCache    string
		wantCode     string // errorCode of a JSON error
	}{
		{"GET", "/", "", 200, index, "text/html; charset=utf-8", CacheRevalidate, ""},
		{"HEAD", "/", "", 200, "", "text/html; charset=utf-8", CacheRevalidate, ""},
		{"GET", "/index.html", "", 200, index, "text/html; charset=utf-8", CacheRevalidate, ""},
		{"GET", "/assets/index-Bx3f9a1c.js", "", 200, readTestFile(t, "assets/index-Bx3f9a1c.js"), "text/javascript; charset=utf-8", CacheImmutable, ""},
		{"GET", "/assets/index-D4e5f6a7.css", "", 200, readTestFile(t, "assets/index-D4e5f6a7.css"), "text/css; charset=utf-8", CacheImmutable, ""},
		{"GET", "/favicon.svg", "", 200, readTestFile(t, "favicon.svg"), "image/svg+xml", CacheRevalidate, ""},
		// Deep links: extension-less paths get index.html.
		{"GET", "/jobs/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "text/html", 200, index, "text/html; charset=utf-8", CacheRevalidate, ""},
		{"GET", "/dlq", "", 200, index, "text/html; charset=utf-8", CacheRevalidate, ""},
		{"GET", "/assets", "", 200, index, "text/html; charset=utf-8", CacheRevalidate, ""},
		// A missing file with an extension is a JSON 404, not the page.
		{"GET", "/assets/gone-123.js", "", 404, "", "application/json", "", "API.NOT_FOUND"},
		{"GET", "/robots.txt", "", 404, "", "application/json", "", "API.NOT_FOUND"},
		// Never a dot file, never outside the folder.
		{"GET", "/.private", "", 404, "", "application/json", "", "API.NOT_FOUND"},
		{"GET", "/../site_test.go", "", 404, "", "application/json", "", "API.NOT_FOUND"},
		{"GET", "/assets/../../site_test.go", "", 404, "", "application/json", "", "API.NOT_FOUND"},
		// The API's paths, and every write, go to the api function.
		{"GET", "/api/jobs", "text/html", 201, api, "application/json", "", ""},
		{"GET", "/api/nothing-here", "", 201, api, "application/json", "", ""},
		{"GET", "/api", "", 201, api, "application/json", "", ""},
		{"GET", "/health", "", 201, api, "application/json", "", ""},
		{"GET", "/actuator/health", "", 201, api, "application/json", "", ""},
		{"GET", "/internal/jobs/x/status", "", 201, api, "application/json", "", ""},
		{"POST", "/", "", 201, api, "application/json", "", ""},
		{"DELETE", "/jobs/x", "", 201, api, "application/json", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			before := calls.Load()
			req := httptest.NewRequest(tc.method, "http://localhost"+tc.path, nil)
			req.URL.Path = tc.path // keep the dot segments as a raw client could send them
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			site.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d; want %d (body %.200s)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			reachedAPI := calls.Load() != before
			if reachedAPI != (tc.wantBody == api) {
				t.Errorf("reached the api function: %v; want %v", reachedAPI, tc.wantBody == api)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q; want %q", ct, tc.wantType)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != tc.wantCache {
				t.Errorf("Cache-Control %q; want %q", cc, tc.wantCache)
			}
			switch {
			case tc.wantBody == api:
				var got map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["path"] != tc.path {
					t.Errorf("api function saw %v (%v); want path %s", got, err, tc.path)
				}
			case tc.wantCode != "":
				if b := decodeError(t, rec); b.ErrorCode != tc.wantCode {
					t.Errorf("errorCode %s; want %s", b.ErrorCode, tc.wantCode)
				}
			case tc.method == "HEAD":
				if rec.Body.Len() != 0 {
					t.Errorf("HEAD has a body of %d bytes", rec.Body.Len())
				}
			case rec.Body.String() != tc.wantBody:
				t.Errorf("body %.200q; want %.200q", rec.Body.String(), tc.wantBody)
			}
			if tc.wantStatus == 200 && rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no X-Content-Type-Options: nosniff")
			}
		})
	}
}

// TestSiteRevalidatesIndex: index.html carries Last-Modified, so a
// reload asks again and gets 304 when nothing changed.
func TestSiteRevalidatesIndex(t *testing.T) {
	inv, _ := echo(t)
	site := &Site{Dir: testDist, API: &Front{Invoker: inv, Function: "fn", Namespace: "API"}}
	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	lm := rec.Header().Get("Last-Modified")
	if rec.Code != 200 || lm == "" {
		t.Fatalf("status %d, Last-Modified %q", rec.Code, lm)
	}
	req := httptest.NewRequest("GET", "/jobs/x", nil)
	req.Header.Set("If-Modified-Since", lm)
	rec = httptest.NewRecorder()
	site.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("revalidation: status %d, %d bytes; want 304 and no body", rec.Code, rec.Body.Len())
	}
}

// TestSiteWithoutABuildSaysHowToBuildIt: no dist (or no index.html in
// it) answers the pages with how to build the dashboard, as HTML for a
// browser and JSON otherwise; the API is unaffected; a build made later
// is served without a restart.
func TestSiteWithoutABuildSaysHowToBuildIt(t *testing.T) {
	inv, _ := echo(t)
	dir := filepath.Join(t.TempDir(), "dist")
	site := &Site{Dir: dir, API: &Front{Invoker: inv, Function: "fn", Namespace: "API"}}
	tests := []struct {
		path, accept string
		wantStatus   int
		wantType     string
		wantText     string
	}{
		{"/", "text/html,application/xhtml+xml,*/*;q=0.8", 503, "text/html; charset=utf-8", "make build"},
		{"/jobs/x", "text/html", 503, "text/html; charset=utf-8", "npm run build"},
		{"/", "", 503, "application/json", DashboardNotBuiltCode},
		{"/", "application/json", 503, "application/json", "make build"},
		{"/assets/x.js", "", 404, "application/json", "API.NOT_FOUND"},
		{"/api/jobs", "text/html", 201, "application/json", `"path":"/api/jobs"`},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.accept, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			site.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.wantType) || !strings.Contains(rec.Body.String(), tc.wantText) {
				t.Errorf("%d %q %.300s; want %d %q containing %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.wantStatus, tc.wantType, tc.wantText)
			}
			if strings.Contains(rec.Body.String(), dir) != (tc.wantStatus == 503) {
				t.Errorf("the message should name the folder exactly when the dashboard is missing: %.300s", rec.Body.String())
			}
		})
	}

	// Built while the stack runs: served at the next request.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>built</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	site.ServeHTTP(rec, httptest.NewRequest("GET", "/jobs/x", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "built") {
		t.Errorf("after the build: %d %.200s", rec.Code, rec.Body.String())
	}
}

func TestAPIPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/api": true, "/api/": true, "/api/jobs": true, "/health": true, "/actuator": true, "/actuator/health": true,
		"/internal/jobs": true, "/": false, "/apis": false, "/jobs": false, "/healthz": false, "/assets/api.js": false,
	} {
		if got := APIPath(p); got != want {
			t.Errorf("APIPath(%q) = %v; want %v", p, got, want)
		}
	}
}
