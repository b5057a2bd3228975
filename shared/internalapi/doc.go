// Package internalapi is the contract of the internal HTTP routes through
// which the functions call each other: the api calls the scheduler (job
// status, job list, cancel), the worker (executions) and the dlq (dead
// letters), and each of the three for its stats (PathStats, for GET
// /api/system); the worker calls the scheduler (attempt starts and
// releases).
//
// It holds the route patterns and the paths built from them, the job
// status values, the default page size of every list and the wire types
// both sides encode and decode. A service imports this package, never
// another service.
package internalapi
