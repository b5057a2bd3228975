package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/trace"
)

// Connection bounds of the HTTP fronts (API_MAX_CONNS): a front holds at
// most MaxConns client connections. The next ConnReserve connections are
// still taken, but each serves one request and is closed: a health check
// is answered, anything else gets 503 <NS>.OVERLOADED with Retry-After.
// Past both, the front stops accepting until a connection closes (the
// kernel's backlog holds the rest). So however many clients connect, the
// process's descriptors stay bounded, and idle keep-alive connections
// are closed after FrontIdleTimeout.
const (
	DefaultMaxConns  = 4096
	ConnReserve      = 64
	FrontIdleTimeout = 60 * time.Second
)

// connLimiter is a listener that holds at most max+reserve connections.
type connLimiter struct {
	net.Listener
	max   int64
	slots chan struct{} // max+reserve
	open  atomic.Int64
	done  chan struct{}
	once  sync.Once
}

func limitConns(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, max: int64(max), slots: make(chan struct{}, max+ConnReserve), done: make(chan struct{})}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	over := l.open.Add(1) > l.max
	return &limitedConn{Conn: c, l: l, overflow: over}, nil
}

func (l *connLimiter) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn gives its slot back when closed; overflow marks a
// connection taken past max.
type limitedConn struct {
	net.Conn
	l        *connLimiter
	overflow bool
	once     sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		<-c.l.slots
	})
	return err
}

type overflowKey struct{}

// connContext marks the requests of an overflow connection
// (http.Server.ConnContext).
func connContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok && lc.overflow {
		return context.WithValue(ctx, overflowKey{}, true)
	}
	return ctx
}

// shedOverflow serves a request of an overflow connection only if it is a
// health check, answers any other 503 <ns>.OVERLOADED with Retry-After,
// and closes the connection either way.
func shedOverflow(h http.Handler, ns string, max int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if over, _ := r.Context().Value(overflowKey{}).(bool); !over {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		if r.URL.Path == "/health" || r.URL.Path == "/actuator/health" {
			h.ServeHTTP(w, r)
			return
		}
		traceID, _ := trace.FromHeader(r.Header)
		w.Header().Set("Retry-After", strconv.Itoa(api.OverloadedRetryAfter))
		f := &Front{Namespace: ns}
		f.fail(w, traceID, http.StatusServiceUnavailable, "OVERLOADED",
			fmt.Sprintf("the local API holds as many connections as it takes (API_MAX_CONNS=%d); retry after %d s (Retry-After), reusing connections (keep-alive)",
				max, api.OverloadedRetryAfter))
	})
}
