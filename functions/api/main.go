// Command api is the JobWeaver api function: API Gateway HTTP API (v2)
// events in, the public REST API out. It reaches the scheduler, worker and
// dlq functions through the Lambda Invoke API (SCHEDULER_FUNCTION_NAME,
// WORKER_FUNCTION_NAME, DLQ_FUNCTION_NAME; the endpoint, region and
// credentials come from the standard AWS configuration chain). GET
// /api/system reads the mappings' consumer lag as LAG_SOURCE says
// (shared/lag: cloudwatch in AWS, with LAG_MAPPINGS and
// KAFKA_GROUP_PREFIX; kafka; or none). With API_ADMIN_KEY_SECRET_ARN (set
// by the stack in AWS) it reads the stage's first admin key from that
// Secrets Manager secret at cold start and seeds it as API_ADMIN_KEY
// would (shared/adminkey); the key is never logged. With AUTH_JWT_JWKS
// (set by the stack: the user pool's keys, copied at deploy) it checks
// JWTs against that copy instead of fetching the issuer's keys, which the
// function cannot reach from its private subnets (shared/oidcstatic).
//
// `make build` builds it as bootstrap for provided.al2023; see
// docs/lambda.md.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/jobweaver/jobweaver/shared/adminkey"
	"github.com/jobweaver/jobweaver/shared/api"
	envconfig "github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/lag"
	"github.com/jobweaver/jobweaver/shared/oidcstatic"
	"github.com/jobweaver/jobweaver/shared/tracing"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

const name = "api"

func main() {
	ctx := context.Background()
	env := envconfig.FromOS()
	cfg := api.ConfigFromEnv(env)
	adminKeySecret := env.String("API_ADMIN_KEY_SECRET_ARN", "")
	jwks := env.String("AUTH_JWT_JWKS", "")
	functions := invoke.FunctionNamesFromEnv(env)
	lagSettings := lag.SettingsFromEnv(env)
	if err := env.Err(); err != nil {
		wiring.Fail(name, err)
	}
	if jwks != "" {
		var err error
		if cfg.JWTClient, err = oidcstatic.Client(cfg.JWTIssuer, jwks); err != nil {
			wiring.Fail(name, fmt.Errorf("AUTH_JWT_JWKS: %w", err))
		}
	}
	if adminKeySecret != "" {
		if cfg.AdminKey != "" {
			wiring.Fail(name, errors.New("set API_ADMIN_KEY or API_ADMIN_KEY_SECRET_ARN, not both"))
		}
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			wiring.Fail(name, err)
		}
		if cfg.AdminKey, err = adminkey.Read(ctx, secretsmanager.NewFromConfig(awsCfg), adminKeySecret); err != nil {
			wiring.Fail(name, err)
		}
	}
	deps, err := wiring.FromEnv(ctx, name, env, api.Migrations())
	if err != nil {
		wiring.Fail(name, err)
	}
	inv, err := invoke.NewLambda(ctx, functions)
	if err != nil {
		wiring.Fail(name, err)
	}
	if cfg.Lag, err = lag.New(ctx, lagSettings, functions, deps.Producer); err != nil {
		wiring.Fail(name, err)
	}
	svc, err := api.New(cfg, deps, inv)
	if err != nil {
		wiring.Fail(name, err)
	}
	lambda.Start(trigger.HandleFunc(tracing.Wrap(deps.Tracing, svc.Handle)))
}
