// Command migrate is JobWeaver's deploy-time provisioning function: the
// CDK custom-resource provider (infra/) calls it on every deploy that
// changes the databases, roles, migrations or topics it provisions
// (Custom::JobWeaverDatabases, Custom::JobWeaverTopics). Its logic is
// shared/provision.
//
// `make build` builds it as build/migrate/bootstrap for provided.al2023,
// like the four functions.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jobweaver/jobweaver/shared/logging"
	"github.com/jobweaver/jobweaver/shared/provision"
)

const name = "migrate"

func main() {
	lambda.Start(provision.NewHandler(logging.New(name, nil)).Handle)
}
