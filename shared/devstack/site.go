package devstack

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Site serves the web dashboard's build (dashboard/dist: Vite's output)
// on the API's own origin, as CloudFront does in AWS, so that the
// dashboard calls the API with relative URLs (/api/...):
//
//   - the API's paths (/api and /api/..., /internal/..., /health,
//     /actuator/...) and every request that is not a GET or a HEAD go to
//     API, whose answers (its JSON 401, 403, 404) pass unchanged;
//   - a file of Dir is served with its content type; hashed assets
//     (/assets/...) are cached for a year, everything else (index.html)
//     is revalidated on each use (no-cache);
//   - any other extension-less path gets index.html (the SPA fallback:
//     the dashboard's deep links, /jobs/<id>), as the CloudFront Function
//     does in AWS; a missing path with an extension is a JSON 404;
//   - without Dir/index.html (the dashboard not built), those pages
//     answer 503 with how to build it: HTML for a browser, the usual
//     JSON error body otherwise.
//
// Dir is read at each request: a build made while the stack runs is
// served at once.
type Site struct {
	// Dir is the dashboard's build (absolute, or relative to the working
	// directory); empty serves no dashboard.
	Dir string
	API http.Handler
}

// Cache-Control values of the dashboard's files.
const (
	CacheImmutable  = "public, max-age=31536000, immutable" // /assets/...: names carry a content hash
	CacheRevalidate = "no-cache"                            // index.html and the other files
)

// DashboardNotBuiltCode is the error code of a dashboard page asked for
// before the dashboard was built.
const DashboardNotBuiltCode = "API.DASHBOARD_NOT_BUILT"

// contentTypes pins the types of what a Vite build holds, whatever the
// machine's MIME tables say; other extensions fall back to them.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".webp":        "image/webp",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".woff":        "font/woff",
	".txt":         "text/plain; charset=utf-8",
	".wasm":        "application/wasm",
}

// APIPath reports whether p belongs to the API (never to the dashboard).
func APIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/") ||
		p == "/internal" || strings.HasPrefix(p, "/internal/") ||
		p == "/health" || p == "/actuator" || strings.HasPrefix(p, "/actuator/")
}

func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if APIPath(p) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		s.API.ServeHTTP(w, r)
		return
	}
	clean := path.Clean("/" + p)
	name := strings.TrimPrefix(clean, "/")
	if name == "" {
		name = "index.html"
	}
	if s.Dir == "" || !s.built() {
		if name == "index.html" || path.Ext(clean) == "" {
			s.notBuilt(w, r)
			return
		}
		notFound(w, r, fmt.Sprintf("%s is not a file of the dashboard, which is not built (make build)", clean))
		return
	}
	if s.serveFile(w, r, name) {
		return
	}
	if path.Ext(clean) == "" {
		s.serveFile(w, r, "index.html")
		return
	}
	notFound(w, r, fmt.Sprintf("%s is not a file of the dashboard", clean))
}

// built reports whether Dir holds a build (index.html).
func (s *Site) built() bool {
	fi, err := os.Stat(filepath.Join(s.Dir, "index.html"))
	return err == nil && fi.Mode().IsRegular()
}

// serveFile serves Dir/name if it is a regular file, without leaving Dir
// (os.Root) or serving dot files, and reports whether it did.
func (s *Site) serveFile(w http.ResponseWriter, r *http.Request, name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return false
		}
	}
	root, err := os.OpenRoot(s.Dir)
	if err != nil {
		return false
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	h := w.Header()
	ct := contentTypes[strings.ToLower(path.Ext(name))]
	if ct == "" {
		ct = mime.TypeByExtension(path.Ext(name))
	}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if strings.HasPrefix(name, "assets/") {
		h.Set("Cache-Control", CacheImmutable)
	} else {
		h.Set("Cache-Control", CacheRevalidate)
	}
	http.ServeContent(w, r, name, fi.ModTime(), f)
	return true
}

// notBuilt answers a dashboard page asked for before the build exists.
func (s *Site) notBuilt(w http.ResponseWriter, r *http.Request) {
	dir := s.Dir
	if dir == "" {
		dir = "(none: DASHBOARD_DIR is empty)"
	}
	msg := fmt.Sprintf("the dashboard is not built: %s has no index.html. Build it with `make build` (or: cd dashboard && npm ci && npm run build), "+
		"or point DASHBOARD_DIR at a build; make run builds it when its sources change. The API is at /api/...", dir)
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeError(w, r, http.StatusServiceUnavailable, DashboardNotBuiltCode, msg)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>JobWeaver: dashboard not built</title></head>
<body><h1>The JobWeaver dashboard is not built</h1>
<p>%s has no index.html. Build it, then reload this page:</p>
<pre>make build            # or: cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p><code>make run</code> builds it itself when its sources are newer than the build. The API answers meanwhile under <a href="/api/jobs">/api/...</a>.</p>
</body></html>
`, html.EscapeString(dir))
}

func notFound(w http.ResponseWriter, r *http.Request, msg string) {
	writeError(w, r, http.StatusNotFound, "API.NOT_FOUND", msg)
}

// writeError writes the usual JSON error body.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	traceID, _ := trace.FromHeader(r.Header)
	w.Header().Set(trace.HTTPHeader, traceID)
	apierror.WriteBody(w, apierror.Body{
		Timestamp: time.Now().UTC(),
		Status:    status,
		ErrorCode: code,
		Message:   msg,
		TraceID:   traceID,
	})
}

// dashboardNote describes dir for the stack's summary.
func dashboardNote(dir string) string {
	if dir == "" {
		return "not served (DASHBOARD_DIR is empty)"
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); errors.Is(err, fs.ErrNotExist) {
		return "NOT BUILT: " + dir + " has no index.html; make build builds it"
	}
	return "from " + dir
}
