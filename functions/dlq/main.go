// Command dlq is the dead-letter Lambda function: it stores the
// job-dead-letter records delivered by a Kafka event-source mapping and
// serves GET /internal/dlq and GET /internal/dlq/{id} for the api. See
// package dlq.
//
// Build it for provided.al2023 as a binary named bootstrap:
//
//	CGO_ENABLED=0 GOOS=linux go build -tags lambda.norpc -o bootstrap ./functions/dlq
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

func main() {
	env := config.FromOS()
	cfg := dlq.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		fail(err)
	}
	deps, err := wiring.FromEnv(context.Background(), "dlq", env, dlq.Migrations())
	if err != nil {
		fail(err)
	}
	svc, err := dlq.New(cfg, deps)
	if err != nil {
		fail(err)
	}
	lambda.Start(trigger.HandleFunc(svc.Handle))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
