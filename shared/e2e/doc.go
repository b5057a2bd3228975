// Package e2e holds the end-to-end tests: the whole platform (the four
// handlers, their event-source mappings, the schedule and the HTTP front)
// started in-process by devstack on real Postgres and a real Kafka-protocol
// broker, driven over HTTP as a client would.
package e2e
