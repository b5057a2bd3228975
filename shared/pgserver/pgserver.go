// Package pgserver finds a Postgres server to use: the one at a given URL
// if it answers, or else a private cluster it starts under a data folder
// from the installed Postgres binaries.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// DefaultURL is where a local Postgres usually listens.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ErrNoPostgres says neither a server nor binaries were found.
var ErrNoPostgres = errors.New("no Postgres found")

// Server is a reachable Postgres server.
type Server struct {
	URL     string // maintenance database URL
	Private bool   // true if we started it
	stop    func() error
}

// Stop stops a private cluster; it does nothing for an external server.
func (s *Server) Stop() error {
	if s.stop == nil {
		return nil
	}
	return s.stop()
}

// Find returns the server at url if it answers. Otherwise, if Postgres's
// binaries are installed, it starts (or restarts) a private cluster under
// dataDir and returns that. Progress goes to log (may be nil).
func Find(ctx context.Context, url, dataDir string, log io.Writer) (*Server, error) {
	if err := ping(ctx, url); err == nil {
		return &Server{URL: url}, nil
	}
	return nil, fmt.Errorf("%w at %s: TODO private cluster", ErrNoPostgres, url)
}
