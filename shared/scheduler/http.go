package scheduler

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// defaultPageSize is the list's page size when the request sets none.
const defaultPageSize = 20

// HTTPHandler serves the internal routes: PathJobStatus, PathJobs,
// PathJobCancel, PathAttemptsStart and PathAttemptsRelease, plus GET /health and /actuator/health. Every error,
// unknown routes included, is an apierror body with a SCHEDULER.* code.
func (s *Service) HTTPHandler() http.Handler { return s.http }

func (s *Service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathJobStatus, s.serveStatus)
	mux.HandleFunc("GET "+PathJobs, s.serveList)
	mux.HandleFunc("POST "+PathJobCancel, s.serveCancel)
	mux.HandleFunc("POST "+PathAttemptsStart, s.serveStart)
	mux.HandleFunc("POST "+PathAttemptsRelease, s.serveRelease)
	health := pgdb.HealthHandler(s.pool, s.log)
	mux.HandleFunc("GET /health", health)
	mux.HandleFunc("GET /actuator/health", health)
	return trace.Middleware(s.withErrorBodies(mux))
}

// withErrorBodies answers requests that match no route (404) or no method
// of their route (405) with an apierror body instead of the mux's text.
func (s *Service) withErrorBodies(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &statusProbe{header: http.Header{}, code: http.StatusNotFound}
		h.ServeHTTP(probe, r)
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		code, msg := CodeRouteNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)
		if probe.code == http.StatusMethodNotAllowed {
			code, msg = CodeMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)
		}
		s.fail(w, r, apierror.New(probe.code, code, msg))
	})
}

// statusProbe records the status a handler writes and drops its body.
type statusProbe struct {
	header http.Header
	code   int
}

func (p *statusProbe) Header() http.Header         { return p.header }
func (p *statusProbe) WriteHeader(code int)        { p.code = code }
func (p *statusProbe) Write(b []byte) (int, error) { return len(b), nil }

func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	apierror.Write(w, r, s.log, errorNamespace, err)
}

func invalid(format string, args ...any) *apierror.Error {
	return apierror.New(http.StatusBadRequest, CodeInvalidRequest, fmt.Sprintf(format, args...))
}

func notFound(id string) *apierror.Error {
	return apierror.New(http.StatusNotFound, CodeJobNotFound, fmt.Sprintf("job %s not found", id)).WithJob(id)
}

// pathJobID returns the {id} of the route as a canonical UUID.
func pathJobID(r *http.Request) (string, error) {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return "", invalid("job id must be a UUID (got %q)", raw)
	}
	return id.String(), nil
}

func (s *Service) serveStatus(w http.ResponseWriter, r *http.Request) {
	id, err := pathJobID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	st, err := jobGetByID(r.Context(), s.pool, id)
	if errors.Is(err, errJobNotFound) {
		err = notFound(id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	apierror.WriteJSON(w, http.StatusOK, st)
}

func (s *Service) serveList(w http.ResponseWriter, r *http.Request) {
	page, f, err := parseListQuery(r.URL.Query(), s.cfg.PageSizeMax)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	after, err := paging.ParseCursor(r.URL.Query(), errorNamespace)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := jobListPage(r.Context(), s.pool, jobListQuery{Filter: f, Limit: page.Size, Offset: page.Offset(), After: after})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := paging.New(res.Jobs, page.Page, page.Size, res.Total)
	out.TotalIsEstimate = res.TotalEstimate
	if res.Next != nil {
		out.NextCursor = res.Next.Encode()
	}
	apierror.WriteJSON(w, http.StatusOK, out)
}

// parseListQuery reads page, size, type, status, traceId, createdFrom and
// createdTo (RFC 3339, both inclusive, as the public API documents them);
// serveList reads cursor (paging.ParseCursor).
func parseListQuery(q url.Values, maxSize int) (paging.Request, jobFilter, error) {
	page, err := paging.Parse(q, min(defaultPageSize, maxSize), maxSize, errorNamespace)
	if err != nil {
		return page, jobFilter{}, err
	}
	f := jobFilter{JobType: q.Get("type"), TraceID: q.Get("traceId")}
	if v := q.Get("status"); v != "" {
		f.Status = strings.ToUpper(v)
		if !validStatus(f.Status) {
			return page, f, invalid("status must be one of %s (got %q)", strings.Join(Statuses, ", "), v)
		}
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"createdFrom", &f.CreatedFrom}, {"createdTo", &f.CreatedTo}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			return page, f, invalid("%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z (got %q)", p.name, v)
		}
		*p.dst = &t
	}
	for _, v := range []string{f.JobType, f.TraceID} {
		if strings.ContainsRune(v, 0) {
			return page, f, invalid("filters must not hold NUL characters")
		}
	}
	return page, f, nil
}

// parseTime parses RFC 3339, also when an unescaped '+' of the offset
// arrived as a space.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil && strings.Contains(v, " ") {
		t, err = time.Parse(time.RFC3339Nano, strings.Replace(v, " ", "+", 1))
	}
	return t, err
}

func validStatus(s string) bool { return slices.Contains(Statuses, s) }
