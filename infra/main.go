// Command infra is JobWeaver's AWS CDK app (cdk.json: "app": "go run
// ./infra"): one stack per stage with the network, the database, Kafka,
// the deploy-time provisioning, the four functions and their triggers,
// the HTTP API, the dashboard hosting and the observability. Its settings
// come from CDK context (cdk.json's "stages", and -c stage=..., -c
// region=..., -c alarmEmail=...); see Config. `make synth`, `make diff`,
// `make deploy` and `make destroy` run it through the CDK CLI.
//
// The functions never import this package or the CDK: they are built by
// `make build` into build/<fn>/bootstrap, which the stack takes as assets.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	if err := CheckAssets(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	NewStack(app, cfg)
	app.Synth(nil)
}
