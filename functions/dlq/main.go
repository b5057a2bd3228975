// Command dlq is the dead-letter Lambda function: it stores the
// job-dead-letter records delivered by a Kafka event-source mapping,
// serves the entries and their management (retry, dismiss, bulk
// operations) on /internal/dlq... for the api, and its maintenance route
// for the scheduler's tick; new entries are notified to DLQ_WEBHOOK_URL
// and DLQ_SNS_TOPIC_ARN. See package dlq.
//
// `make build` builds it as bootstrap for provided.al2023; see
// docs/lambda.md.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/dlq"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

const name = "dlq"

func main() {
	env := config.FromOS()
	cfg := dlq.ConfigFromEnv(env)
	if err := env.Err(); err != nil {
		wiring.Fail(name, err)
	}
	// In AWS the webhook's signing key is a Secrets Manager secret, read
	// once here (DLQ_WEBHOOK_SECRET_ARN).
	if err := dlq.LoadWebhookSecret(context.Background(), &cfg); err != nil {
		wiring.Fail(name, err)
	}
	deps, err := wiring.FromEnv(context.Background(), name, env, dlq.Migrations())
	if err != nil {
		wiring.Fail(name, err)
	}
	// An entry's retry asks the scheduler (SCHEDULER_FUNCTION_NAME).
	if sched := env.String("SCHEDULER_FUNCTION_NAME", ""); sched != "" {
		if cfg.Scheduler, err = invoke.NewLambda(context.Background(), map[string]string{invoke.Scheduler: sched}); err != nil {
			wiring.Fail(name, err)
		}
	}
	svc, err := dlq.New(cfg, deps)
	if err != nil {
		wiring.Fail(name, err)
	}
	lambda.Start(trigger.HandleFunc(tracing.Wrap(deps.Tracing, svc.Handle)))
}
