package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// accessLogFormat is one JSON object per request in the access log.
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"requestTime":"$context.requestTime","method":"$context.httpMethod","path":"$context.path",` +
	`"routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol",` +
	`"responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",` +
	`"integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage"}`

// API holds the public entry: an API Gateway HTTP API whose routes (the
// public ones only: /api/..., /health, /actuator/health; the internal
// routes are reached by Lambda Invoke, never over HTTP) go to the api
// function with payload format 2.0, and its $default stage with access
// logging and throttling.
//
// No route has an authorizer: the api function checks every /api/...
// call itself (API keys and the user pool's tokens, API_AUTH=keys,jwt;
// see Auth), and an API Gateway JWT authorizer would refuse API keys
// before they reach it. The stage's throttle (api.throttleRatePerSecond,
// api.throttleBurst) stays as a backstop for the whole stage, in front of
// the api's limits per caller: unauthenticated calls reach the function
// (to be answered 401) but cannot take more than the stage's rate.
type API struct {
	constructs.Construct
	HttpApi    awsapigatewayv2.HttpApi
	Stage      awsapigatewayv2.HttpStage
	AccessLogs awslogs.LogGroup
	// Url is the stage's URL, https://<id>.execute-api.<region>.amazonaws.com/.
	Url *string
}

// Route is one HTTP API route to the api function.
type Route struct {
	Method awsapigatewayv2.HttpMethod
	Path   string
}

// Routes are the HTTP API's routes, all to the api function, none with an
// authorizer: the api function decides who may call what.
var Routes = []Route{
	{awsapigatewayv2.HttpMethod_ANY, "/api/{proxy+}"},
	{awsapigatewayv2.HttpMethod_GET, "/health"},
	{awsapigatewayv2.HttpMethod_GET, "/actuator/health"},
}

// NewAPI builds the HTTP API in front of fns' api function.
func NewAPI(scope constructs.Construct, id string, cfg Config, fns *Functions) *API {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &API{Construct: c}
	a.HttpApi = awsapigatewayv2.NewHttpApi(c, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:            jsii.String(resourceName(cfg, "api")),
		Description:        jsii.String("JobWeaver public REST API"),
		CreateDefaultStage: jsii.Bool(false),
	})
	integration := awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiFunction"), fns.ByName["api"].Function,
		&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
			PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
		})
	for _, r := range Routes {
		a.HttpApi.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
			Path:        jsii.String(r.Path),
			Methods:     &[]awsapigatewayv2.HttpMethod{r.Method},
			Integration: integration,
		})
	}
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	a.AccessLogs = awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: removal,
	})
	a.Stage = awsapigatewayv2.NewHttpStage(c, jsii.String("DefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    a.HttpApi,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(float64(cfg.API.ThrottleRatePerSecond)),
			BurstLimit: jsii.Number(float64(cfg.API.ThrottleBurst)),
		},
	})
	// Access logging through the L1 stage: HTTP APIs write it with their
	// service-linked role, no account-level CloudWatch role needed.
	cfnStage := a.Stage.Node().DefaultChild().(awsapigatewayv2.CfnStage)
	cfnStage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: a.AccessLogs.LogGroupArn(),
		Format:         jsii.String(accessLogFormat),
	})
	a.Url = a.Stage.Url()
	return a
}

// Domain is the API's host name, for the dashboard distribution's origin.
func (a *API) Domain() *string {
	return awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), a.HttpApi.ApiEndpoint(), nil))
}
