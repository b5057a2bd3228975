// Command api is the JobWeaver api function: API Gateway HTTP API (v2)
// events in, the public REST API out. Build it as bootstrap for
// provided.al2023 (-tags lambda.norpc, CGO_ENABLED=0).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/api"
	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
	"github.com/jobweaver/jobweaver/shared/trigger"
	"github.com/jobweaver/jobweaver/shared/wiring"
)

func main() {
	ctx := context.Background()
	env := config.FromOS()
	cfg := api.ConfigFromEnv(env)
	functions := invoke.FunctionNamesFromEnv(env)
	// FromEnv reports the first bad variable read so far before connecting.
	deps, err := wiring.FromEnv(ctx, "api", env, api.Migrations())
	if err != nil {
		fail(err)
	}
	inv, err := invoke.NewLambda(ctx, functions)
	if err != nil {
		fail(err)
	}
	svc, err := api.New(cfg, deps, inv)
	if err != nil {
		fail(err)
	}
	lambda.Start(trigger.HandleFunc(svc.Handle))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "api:", err)
	os.Exit(1)
}
