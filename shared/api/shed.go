package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/config"
)

// Load shedding (API_MAX_IN_FLIGHT): one api process serves at most
// MaxInFlight requests at once. A request past that bound is answered at
// once with 503 API.OVERLOADED and Retry-After, instead of queueing for
// the database pool (whose wait would grow without bound while the
// clients' connections, and the process's descriptors, pile up). The
// health checks are never shed. In Lambda each environment serves one
// request at a time, so the bound matters only where one process serves
// many: the local stack (and anything embedding HTTPHandler).
const (
	DefaultMaxInFlight = 256
	MaxMaxInFlight     = 100000
	// OverloadedRetryAfter is the Retry-After of API.OVERLOADED, in seconds.
	OverloadedRetryAfter = 1
)

// maxInFlightFromEnv reads API_MAX_IN_FLIGHT into c.
func (c Config) maxInFlightFromEnv(env *config.Env) Config {
	c.MaxInFlight = env.Int("API_MAX_IN_FLIGHT", DefaultMaxInFlight, 1, MaxMaxInFlight)
	return c
}

// validateMaxInFlight checks API_MAX_IN_FLIGHT (after the defaults).
func (c Config) validateMaxInFlight() error {
	if c.MaxInFlight < 1 || c.MaxInFlight > MaxMaxInFlight {
		return config.Invalid("API_MAX_IN_FLIGHT", "from 1 to 100000 requests", c.MaxInFlight)
	}
	return nil
}

// shedder counts the requests in flight against a bound.
type shedder struct {
	max int64
	n   atomic.Int64
}

// acquire takes a place, or reports false if all max are taken.
func (s *shedder) acquire() bool {
	if s.n.Add(1) > s.max {
		s.n.Add(-1)
		return false
	}
	return true
}

func (s *shedder) release() { s.n.Add(-1) }

// neverShed reports whether a request is served whatever the load: the
// health checks, so that a load balancer or an operator still sees the
// process (an overloaded process is up, not down).
func neverShed(r *http.Request) bool {
	return r.URL.Path == "/health" || r.URL.Path == "/actuator/health"
}

// admit takes a place for r, or answers it 503 API.OVERLOADED with
// Retry-After and reports false. The caller releases an admitted request
// with s.shed.release().
func (s *Service) admit(w http.ResponseWriter, r *http.Request) (admitted, counted bool) {
	if neverShed(r) {
		return true, false
	}
	if s.shed.acquire() {
		return true, true
	}
	s.metrics.Count("RequestsShed", 1)
	w.Header().Set("Retry-After", strconv.Itoa(OverloadedRetryAfter))
	apierror.Write(w, r, s.log, namespace, apierror.New(http.StatusServiceUnavailable, "API.OVERLOADED",
		fmt.Sprintf("the API is serving as many requests as it takes at once (API_MAX_IN_FLIGHT=%d); nothing was done: retry after %d s (Retry-After), with backoff", s.shed.max, OverloadedRetryAfter)))
	return false, false
}
