// Package ratelimit limits each caller's request rate across every process
// that serves it: a token bucket per caller (rate tokens a second, at most
// burst at once) whose state lives in a shared Store, the api's Postgres
// database in production (PG), so that the limit holds across concurrent
// Lambda environments.
//
// A Limiter never asks the store for every request. It leases small
// batches of tokens (one atomic INSERT ... ON CONFLICT DO UPDATE ...
// RETURNING, GCRA arithmetic on the database's clock) and spends them
// locally; a lease starts at one token and doubles each time a process
// spends its whole lease before it expires (at most rate×LeaseWindow
// tokens, and half the burst), so a busy caller costs one round trip
// every few requests and an idle environment holds at most one token.
// Leased tokens expire after LeaseTTL: over any window of w seconds, every
// process together admits at most burst + rate×(w + LeaseTTL) requests
// of one caller, that is at most rate×LeaseTTL more than a single bucket.
// A denial is remembered until its retry time, so a caller past its limit
// costs no round trip either.
//
// Each caller also has a golang.org/x/time/rate bucket in each process
// with the same rate and burst, checked first: it bounds what one process
// admits even when the store cannot be reached, in which case the Limiter
// fails open to that local bucket (Decision.Degraded), reports the error
// through Config.OnStoreError and asks the store again for that caller
// only after LeaseTTL.
package ratelimit
