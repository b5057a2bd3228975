// Package faults is the fault suite: the whole local stack (devstack, on
// the test Postgres server and a Kafka-protocol broker) under the faults
// of docs/reliability.md — records delivered again and out of order, a
// SIGKILL mid-batch, a broker restart, Postgres sessions terminated,
// concurrent ticks, poison records and hostile request bodies — and after
// each, the same invariants (faulttest.Check): every job reaches exactly
// one right terminal state, no finished step runs again, no dead letter
// appears twice, nothing is left stuck.
//
// `go test ./shared/faults` (part of make test) runs it at a reduced scale;
// FAULTS_SCALE=full (make test-faults) runs the full matrix.
package faults
