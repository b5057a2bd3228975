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
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/internalhttp"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// HTTPHandler serves the internal routes (internalapi.PathJobStatus,
// PathJobs, PathJobCancel, PathJobRetry, PathJobHistory, PathAttemptsStart
// and PathAttemptsRelease) and
// GET /health and /actuator/health. Every error, unknown routes included,
// is an apierror body with a SCHEDULER.* code (internalhttp.Routes).
func (s *Service) HTTPHandler() http.Handler { return s.http }

func (s *Service) routes() http.Handler {
	return internalhttp.Routes{
		Namespace: errorNamespace,
		Handlers: map[string]http.HandlerFunc{
			"GET " + internalapi.PathJobStatus:        s.serveStatus,
			"GET " + internalapi.PathJobs:             s.serveList,
			"POST " + internalapi.PathJobCancel:       s.serveCancel,
			"POST " + internalapi.PathJobCallback:     s.serveCallback,
			"POST " + internalapi.PathJobRetry:        s.serveRetry,
			"GET " + internalapi.PathJobHistory:       s.serveHistory,
			"POST " + internalapi.PathAttemptsStart:   s.serveStart,
			"POST " + internalapi.PathAttemptsRelease: s.serveRelease,
			"GET " + internalapi.PathStats:            s.serveStats,
		},
		Health: pgdb.HealthHandler(s.pool, s.log),
		Log:    s.log,
	}.Handler()
}

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
	if err == nil {
		err = openCallback(r.Context(), s.pool, &st)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
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
	out := internalapi.JobPage{Page: paging.New(res.Jobs, page.Page, page.Size, res.Total), AsOf: res.AsOf}
	out.TotalIsEstimate = res.TotalEstimate
	if res.Next != nil {
		out.NextCursor = res.Next.Encode()
	}
	httpjson.Write(w, http.StatusOK, out)
}

// parseListQuery reads page, size, type, status, traceId, createdBy, createdFrom and
// createdTo (RFC 3339, both inclusive, as the public API documents them),
// and updatedSince (RFC 3339, inclusive: the list is then ordered by
// updatedAt and says asOf);
// serveList reads cursor (paging.ParseCursor).
func parseListQuery(q url.Values, maxSize int) (paging.Request, jobFilter, error) {
	page, err := paging.Parse(q, min(internalapi.DefaultPageSize, maxSize), maxSize, errorNamespace)
	if err != nil {
		return page, jobFilter{}, err
	}
	f := jobFilter{JobType: q.Get("type"), TraceID: q.Get("traceId"), CreatedBy: q.Get("createdBy")}
	if v := q.Get("status"); v != "" {
		f.Status = strings.ToUpper(v)
		if !validStatus(f.Status) {
			return page, f, invalid("status must be one of %s (got %q)", strings.Join(internalapi.Statuses, ", "), v)
		}
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"createdFrom", &f.CreatedFrom}, {"createdTo", &f.CreatedTo}, {"updatedSince", &f.UpdatedSince}} {
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
	for _, v := range []string{f.JobType, f.TraceID, f.CreatedBy} {
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

func validStatus(s string) bool { return slices.Contains(internalapi.Statuses, s) }
