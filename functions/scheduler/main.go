// Command scheduler is the scheduler Lambda function: it serves Kafka
// batches (job-created, job-completed, job-failed), the EventBridge tick
// and internal HTTP calls with scheduler.Service.Handle.
//
// `make build` builds it as bootstrap for provided.al2023; see
// docs/lambda.md.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

const name = "scheduler"

func main() {
	env := config.FromOS()
	cfg := scheduler.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		wiring.Fail(name, err)
	}
	deps, err := wiring.FromEnv(context.Background(), name, env, scheduler.Migrations())
	if err != nil {
		wiring.Fail(name, err)
	}
	// The tick calls the dlq's maintenance route (DLQ_FUNCTION_NAME).
	if dlq := env.String("DLQ_FUNCTION_NAME", ""); dlq != "" {
		if cfg.DLQ, err = invoke.NewLambda(context.Background(), map[string]string{invoke.DLQ: dlq}); err != nil {
			wiring.Fail(name, err)
		}
	}
	svc, err := scheduler.New(cfg, deps)
	if err != nil {
		wiring.Fail(name, err)
	}
	lambda.Start(trigger.HandleFunc(tracing.Wrap(deps.Tracing, svc.Handle)))
}
