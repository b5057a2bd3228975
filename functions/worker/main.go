// Command worker is the worker Lambda function: it runs the steps of
// run-job records delivered by a Kafka event-source mapping and serves
// GET /internal/executions/{jobId} for the api. See package worker.
//
// Build it for provided.al2023 as a binary named bootstrap:
//
//	CGO_ENABLED=0 GOOS=linux go build -tags lambda.norpc -o bootstrap ./functions/worker
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
	"github.com/jobweaver/jobweaver/shared/worker"
)

func main() {
	env := config.FromOS()
	cfg := worker.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		fail(err)
	}
	if err := cfg.Validate(); err != nil {
		fail(err)
	}
	deps, err := wiring.FromEnv(context.Background(), "worker", env, worker.Migrations())
	if err != nil {
		fail(err)
	}
	svc, err := worker.New(cfg, deps)
	if err != nil {
		fail(err)
	}
	lambda.Start(trigger.HandleFunc(svc.Handle))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
