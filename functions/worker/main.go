// Command worker is the worker Lambda function: it runs the steps of
// run-job records delivered by a Kafka event-source mapping and serves
// GET /internal/executions/{jobId} for the api. See package worker.
//
// `make build` builds it as bootstrap for provided.al2023; see
// docs/lambda.md.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
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
	if err := cfg.Validate(); err != nil {
		wiring.Fail(name, err)
	}
	deps, err := wiring.FromEnv(context.Background(), name, env, worker.Migrations())
	if err != nil {
		wiring.Fail(name, err)
	}
	svc, err := worker.New(cfg, deps)
	if err != nil {
		wiring.Fail(name, err)
	}
	lambda.Start(trigger.HandleFunc(svc.Handle))
}
