package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/jobspec"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// IdempotencyKeyHeader names the header that makes a submission
// idempotent; MaxIdempotencyKeyLen bounds it.
const (
	IdempotencyKeyHeader = "Idempotency-Key"
	MaxIdempotencyKeyLen = 255
)

// The outbox is drained after every submission (for at most
// drainTimeout) and, briefly, when a job is read that the scheduler has
// not ingested yet: its JobCreated event may be stuck in the outbox after
// a broker outage, and the api has no other invocation that drains.
const (
	drainTimeout      = 10 * time.Second
	stuckDrainTimeout = 2 * time.Second
	// A submission publishes its own event; a sweep for rows older than
	// sweepAge (left by a failed publish) runs at most every sweepEvery.
	sweepEvery = time.Second
	sweepAge   = 2 * time.Second
)

// maxCallerFilterLen bounds GET /api/jobs?createdBy=.
const maxCallerFilterLen = 300

func badRequest(format string, args ...any) *apierror.Error {
	return apierror.New(http.StatusBadRequest, "API.INVALID_REQUEST", fmt.Sprintf(format, args...))
}

// checkJSON accepts application/json with an optional UTF-8 charset.
func checkJSON(contentType string) error {
	mt, params, err := mime.ParseMediaType(contentType)
	ok := err == nil && mt == "application/json"
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			ok = false
		}
	}
	if !ok {
		return apierror.New(http.StatusUnsupportedMediaType, "API.UNSUPPORTED_MEDIA_TYPE",
			fmt.Sprintf("Content-Type must be application/json (got %q)", contentType))
	}
	return nil
}

// submitJob is POST /api/jobs.
func (s *Service) submitJob(w http.ResponseWriter, r *http.Request) error {
	if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	key := strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader))
	if len(key) > MaxIdempotencyKeyLen {
		return badRequest("%s must be at most %d characters (got %d)", IdempotencyKeyHeader, MaxIdempotencyKeyLen, len(key))
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	job, err := jobspec.Decode(body, jobspec.Default)
	var je *jobspec.Error
	if errors.As(err, &je) {
		e := badRequest("invalid job submission: %s", je.Error())
		e.Details = je.Problems
		return e
	}
	if err != nil {
		return err
	}
	if err := checkSize(job, -1); err != nil {
		return err
	}

	ctx := r.Context()
	sub, pub, err := createJob(ctx, s.pool, job, key, trace.TraceID(ctx), auth.CallerOf(ctx).ID)
	if err != nil {
		return err
	}
	r = withJob(r, sub.ID)
	ctx = r.Context()
	if pub != nil {
		s.metrics.Count("JobsSubmitted", 1, metrics.Dim("JobType", sub.JobType))
		s.log.InfoContext(ctx, "job accepted", "jobType", sub.JobType, "steps", len(job.Steps), "maxRetryCount", sub.MaxRetryCount)
		s.publish(ctx, pub)
	} else {
		s.log.InfoContext(ctx, "idempotent repeat of a submission", "originalTraceId", sub.TraceID)
		w.Header().Set("Idempotent-Replayed", "true")
		// Its first event may still wait in the outbox.
		s.drain(ctx, drainTimeout)
	}
	w.Header().Set("Location", "/api/jobs/"+sub.ID)
	httpjson.Write(w, http.StatusAccepted, Accepted{JobID: sub.ID, TraceID: sub.TraceID})
	return nil
}

// readBody reads a JSON request body of at most the body limit.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := apierror.New(http.StatusRequestEntityTooLarge, "API.PAYLOAD_TOO_LARGE",
		fmt.Sprintf("the request body must be at most %d bytes", s.cfg.BodyLimit))
	if r.ContentLength > s.cfg.BodyLimit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.BodyLimit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case err != nil:
		return nil, badRequest("could not read the request body: %v", err)
	}
	return body, nil
}

// publish sends a just-committed event, then, at most once per
// sweepEvery, sweeps the outbox for older rows a failed or interrupted
// publish left behind. A failure is only logged: the row stays for a
// later sweep.
func (s *Service) publish(ctx context.Context, pub *pendingEvent) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	if err := s.relay.Publish(pctx, pub.ids, pub.envs...); err != nil {
		s.log.WarnContext(ctx, "publish failed; the event stays in the outbox for the next sweep", "error", err.Error())
		s.sweepLater(ctx, 1)
	}
	now := time.Now().UnixNano()
	last := s.lastSweep.Load()
	if now-last < int64(s.sweepEvery) || !s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	if n, err := s.relay.DrainOlder(pctx, s.sweepAge); err != nil {
		s.log.WarnContext(ctx, "outbox sweep failed; the rows stay for the next sweep", "published", n, "error", err.Error())
	} else if n > 0 {
		s.log.InfoContext(ctx, "outbox sweep published left-over events", "published", n)
	}
}

// sweepRetries bounds sweepLater's tries in a row.
const sweepRetries = 5

// sweepLater drains the outbox once the rows a failed publish left are
// sweepAge old, and again (try counts) while that fails: an api that gets
// no more requests still sends them. In Lambda the timer runs when the
// environment next thaws, as the next request's sweep would.
func (s *Service) sweepLater(ctx context.Context, try int) {
	if try > sweepRetries {
		return
	}
	ctx = context.WithoutCancel(ctx)
	time.AfterFunc(time.Duration(try)*s.sweepAge, func() {
		dctx, cancel := context.WithTimeout(ctx, drainTimeout)
		defer cancel()
		if n, err := s.relay.DrainOlder(dctx, s.sweepAge); err != nil {
			s.log.WarnContext(ctx, "outbox sweep after a failed publish failed; trying again", "published", n, "error", err.Error(), "try", try)
			s.sweepLater(ctx, try+1)
		} else if n > 0 {
			s.log.InfoContext(ctx, "outbox sweep published the events a failed publish left", "published", n)
		}
	})
}

// drain publishes the outbox, for at most timeout. A failure is only
// logged: the rows stay and go out with a later drain.
func (s *Service) drain(ctx context.Context, timeout time.Duration) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	// Only rows older than sweepAge: a younger one is being published by
	// the request that wrote it, and sending it here too would duplicate it.
	if n, err := s.relay.DrainOlder(dctx, s.sweepAge); err != nil {
		s.log.WarnContext(ctx, "outbox relay failed; the event stays in the outbox for the next drain", "published", n, "error", err.Error())
	}
}

// jobRequest parses the {id} of a job route and loads the submission.
func (s *Service) jobRequest(r *http.Request) (*http.Request, submission, error) {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return r, submission{}, apierror.New(http.StatusBadRequest, "API.INVALID_JOB_ID",
			fmt.Sprintf("job id must be a UUID (got %q)", raw))
	}
	r = withJob(r, id.String())
	sub, err := jobByID(r.Context(), s.pool, id.String())
	if errors.Is(err, errJobNotFound) {
		return r, sub, apierror.New(http.StatusNotFound, "API.JOB_NOT_FOUND",
			fmt.Sprintf("no job with id %s", id)).WithJob(id.String())
	}
	return r, sub, err
}

// liveStatus asks the scheduler for a job's state; nil means the scheduler
// has not ingested the job yet.
func (s *Service) liveStatus(ctx context.Context, id string) (*internalapi.JobStatus, error) {
	path := internalapi.JobStatusPath(id)
	status, body, err := s.call(ctx, invoke.Scheduler, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, s.unavailable(ctx, invoke.Scheduler, path, 0, nil, err)
	}
	if status == http.StatusNotFound {
		return nil, nil
	}
	var live internalapi.JobStatus
	if err := s.decodeOK(ctx, invoke.Scheduler, path, status, body, &live); err != nil {
		return nil, err
	}
	return &live, nil
}

// getJob is GET /api/jobs/{id}.
func (s *Service) getJob(w http.ResponseWriter, r *http.Request) error {
	r, sub, err := s.jobRequest(r)
	if err != nil {
		return err
	}
	live, err := s.liveStatus(r.Context(), sub.ID)
	if err != nil {
		return err
	}
	view := pendingView(sub)
	if live != nil {
		view = mergeView(sub, *live)
		view.Callback = callbackView(r, sub.ID, live.Callback)
	} else {
		s.drain(r.Context(), stuckDrainTimeout)
	}
	httpjson.Write(w, http.StatusOK, view)
	return nil
}

// listJobs is GET /api/jobs: validated here, answered by the scheduler.
// Items are summaries (JobSummary); a page starts at page*size or, with a
// cursor, after the item the cursor names. With updatedSince, only jobs
// updated at or after it, newest update first, and asOf (JobPage).
func (s *Service) listJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pr, err := paging.Parse(q, s.cfg.DefaultPageSize, s.cfg.PageSizeMax, namespace)
	if err != nil {
		return err
	}
	after, err := paging.ParseCursor(q, namespace)
	if err != nil {
		return err
	}
	fwd := url.Values{"size": {strconv.Itoa(pr.Size)}}
	if after != nil {
		fwd.Set("cursor", after.Encode())
	} else {
		fwd.Set("page", strconv.Itoa(pr.Page))
	}
	if v := q.Get("type"); v != "" {
		if !jobspec.JobTypes[v] {
			return badRequest("type must be a known job type (got %q)", v)
		}
		fwd.Set("type", v)
	}
	if v := q.Get("status"); v != "" {
		if !slices.Contains(internalapi.Statuses, v) {
			return badRequest("status must be one of %s (got %q)", strings.Join(internalapi.Statuses, ", "), v)
		}
		fwd.Set("status", v)
	}
	if v := q.Get("traceId"); v != "" {
		if !validTraceFilter(v) {
			return badRequest("traceId must be 1 to %d visible ASCII characters", MaxTraceIDLen)
		}
		fwd.Set("traceId", v)
	}
	if v := q.Get("createdBy"); v != "" {
		if len(v) > maxCallerFilterLen || strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
			return badRequest("createdBy must be a caller (a key ID, jwt:<subject> or anonymous) of at most %d bytes", maxCallerFilterLen)
		}
		fwd.Set("createdBy", v)
	}
	var from, to, since time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"createdFrom", &from}, {"createdTo", &to}, {"updatedSince", &since}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		// An unencoded "+01:00" offset arrives as " 01:00".
		t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+"))
		if err != nil {
			return badRequest("%s must be an RFC 3339 time such as 2024-05-01T12:00:00Z (got %q)", p.name, v)
		}
		*p.t = t
		fwd.Set(p.name, t.UTC().Format(time.RFC3339Nano))
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return badRequest("createdFrom must not be after createdTo")
	}

	ctx := r.Context()
	const path = internalapi.PathJobs
	status, body, err := s.call(ctx, invoke.Scheduler, http.MethodGet, path, fwd, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.Scheduler, path, 0, nil, err)
	}
	if status == http.StatusBadRequest {
		// Our validation let through something the scheduler refuses.
		msg := errorMessage(body)
		if msg == "" {
			msg = "the list query was refused"
		}
		return badRequest("%s", msg)
	}
	var page internalapi.JobPage
	if err := s.decodeOK(ctx, invoke.Scheduler, path, status, body, &page); err != nil {
		return err
	}
	views := make([]JobSummary, len(page.Content))
	for i, j := range page.Content {
		views[i] = summaryView(j)
	}
	out := JobPage{Page: paging.Page[JobSummary]{
		Content: views, Page: page.Page.Page, Size: page.Size,
		TotalElements: page.TotalElements, TotalPages: page.TotalPages,
		TotalIsEstimate: page.TotalIsEstimate, NextCursor: page.NextCursor,
	}}
	if !since.IsZero() {
		out.AsOf = page.AsOf
		if out.AsOf == nil { // a scheduler from before updatedSince: it ignored the filter
			return s.unavailable(ctx, invoke.Scheduler, path, status, body, errors.New("no asOf in an updatedSince list"))
		}
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// JobPage is GET /api/jobs: a page of job summaries and, with
// updatedSince, asOf: the updatedSince of the next poll. It is the
// scheduler's time less a few seconds (UpdatedSinceOverlap), so a change
// that committed while the list was read is listed by the next poll
// instead of missed; the overlap lists some jobs twice, so clients merge
// by jobId. While nothing changes, asOf repeats updatedSince (for up to a
// minute), so the answer and its ETag stay the same.
type JobPage struct {
	paging.Page[JobSummary]
	AsOf *time.Time `json:"asOf,omitempty"`
}

// listExecutions is GET /api/jobs/{id}/executions, answered by the worker.
func (s *Service) listExecutions(w http.ResponseWriter, r *http.Request) error {
	pr, err := paging.Parse(r.URL.Query(), s.cfg.DefaultPageSize, s.cfg.PageSizeMax, namespace)
	if err != nil {
		return err
	}
	r, sub, err := s.jobRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	path := internalapi.ExecutionsPath(sub.ID)
	status, body, err := s.call(ctx, invoke.Worker, http.MethodGet, path,
		url.Values{"page": {strconv.Itoa(pr.Page)}, "size": {strconv.Itoa(pr.Size)}}, nil)
	if err != nil {
		return s.unavailable(ctx, invoke.Worker, path, 0, nil, err)
	}
	if status == http.StatusNotFound {
		// No attempt has finished yet.
		httpjson.Write(w, http.StatusOK, paging.New[Execution](nil, pr.Page, pr.Size, 0))
		return nil
	}
	var page paging.Page[Execution]
	if err := s.decodeOK(ctx, invoke.Worker, path, status, body, &page); err != nil {
		return err
	}
	for i, e := range page.Content {
		page.Content[i] = e.normalized()
	}
	if page.Content == nil {
		page.Content = []Execution{}
	}
	httpjson.Write(w, http.StatusOK, page)
	return nil
}

// cancelJob is DELETE /api/jobs/{id}: the scheduler cancels a PENDING or
// RUNNING job.
func (s *Service) cancelJob(w http.ResponseWriter, r *http.Request) error {
	r, sub, err := s.jobRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	path := internalapi.JobCancelPath(sub.ID)
	caller := auth.CallerOf(ctx).ID
	reqBody, err := json.Marshal(internalapi.CancelRequest{JobCreated: sub.jobCreated(), TraceID: sub.TraceID, By: caller})
	if err != nil {
		return err
	}
	status, body, err := s.call(ctx, invoke.Scheduler, http.MethodPost, path, nil, reqBody)
	if err != nil {
		return s.unavailable(ctx, invoke.Scheduler, path, 0, nil, err)
	}
	switch status {
	case http.StatusOK:
		var live internalapi.JobStatus
		view := pendingView(sub)
		view.Status = internalapi.StatusCancelled
		if json.Unmarshal(body, &live) == nil && live.Status != "" {
			view = mergeView(sub, live)
		}
		s.log.InfoContext(ctx, "job cancelled")
		s.auditDone(ctx, caller, ActionJobCancel, sub.ID, map[string]any{"jobType": sub.JobType})
		httpjson.Write(w, http.StatusOK, view)
		return nil
	case http.StatusConflict:
		current := s.conflictStatus(ctx, sub.ID, body)
		msg := "the job has finished and can no longer be cancelled"
		if current != "" {
			msg = fmt.Sprintf("the job is %s and can no longer be cancelled; only PENDING or RUNNING jobs can be", current)
		}
		return apierror.New(http.StatusConflict, "API.JOB_NOT_CANCELLABLE", msg).WithJob(sub.ID)
	}
	return s.unavailable(ctx, invoke.Scheduler, path, status, body, nil)
}

// conflictStatus finds the status that kept a job from being cancelled:
// from the scheduler's 409 body if it names it, else from its status route.
func (s *Service) conflictStatus(ctx context.Context, id string, body []byte) string {
	var fields map[string]any
	if json.Unmarshal(body, &fields) == nil {
		for _, k := range []string{"currentStatus", "jobStatus", "status"} {
			if v, ok := fields[k].(string); ok && slices.Contains(internalapi.Statuses, v) {
				return v
			}
		}
	}
	if live, err := s.liveStatus(ctx, id); err == nil && live != nil {
		return live.Status
	}
	return ""
}
