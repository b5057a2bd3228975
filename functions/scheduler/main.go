// Command scheduler is the scheduler Lambda function: it serves Kafka
// batches (job-created, job-completed, job-failed), the EventBridge tick
// and internal HTTP calls with scheduler.Service.Handle.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/scheduler"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

func main() {
	env := config.FromOS()
	cfg := scheduler.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		exit(err)
	}
	deps, err := wiring.FromEnv(context.Background(), "scheduler", env, scheduler.Migrations())
	if err != nil {
		exit(err)
	}
	svc, err := scheduler.New(cfg, deps)
	if err != nil {
		exit(err)
	}
	lambda.Start(trigger.HandleFunc(svc.Handle))
}

func exit(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
