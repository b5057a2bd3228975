// Command worker is the worker Lambda function: it runs the steps of
// run-job records delivered by a Kafka event-source mapping and serves
// GET /internal/executions/{jobId} for the api. It starts each attempt
// through the scheduler function (SCHEDULER_FUNCTION_NAME, through the
// Lambda Invoke API). See package worker.
//
// `make build` builds it as bootstrap for provided.al2023; see
// docs/lambda.md.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

const name = "worker"

func main() {
	env := config.FromOS()
	cfg := worker.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		wiring.Fail(name, err)
	}
	ctx := context.Background()
	// In AWS the WEBHOOK signing keys are a Secrets Manager secret, read
	// once here (WEBHOOK_SIGNING_KEYS_SECRET_ARN).
	if err := worker.LoadSigningKeys(ctx, &cfg); err != nil {
		wiring.Fail(name, err)
	}
	deps, err := wiring.FromEnv(ctx, name, env, worker.Migrations())
	if err != nil {
		wiring.Fail(name, err)
	}
	// Attempts start through the scheduler (SCHEDULER_FUNCTION_NAME).
	scheduler := env.Required("SCHEDULER_FUNCTION_NAME")
	if err := env.Err(); err != nil {
		wiring.Fail(name, err)
	}
	if cfg.Scheduler, err = invoke.NewLambda(ctx, map[string]string{invoke.Scheduler: scheduler}); err != nil {
		wiring.Fail(name, err)
	}
	svc, err := worker.New(cfg, deps)
	if err != nil {
		wiring.Fail(name, err)
	}
	lambda.Start(trigger.HandleFunc(tracing.Wrap(deps.Tracing, svc.Handle)))
}
