package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/localstack/stack"
	"github.com/jobweaver/jobweaver/shared/kafka"
	"github.com/jobweaver/jobweaver/shared/pgdb"
)

// The parts of the AWS SDK clients the deploy uses; the SDK's clients
// implement them, and so do the dry run's and the tests' fakes.
type lambdaAPI interface {
	GetFunction(context.Context, *lambda.GetFunctionInput, ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	CreateFunction(context.Context, *lambda.CreateFunctionInput, ...func(*lambda.Options)) (*lambda.CreateFunctionOutput, error)
	UpdateFunctionCode(context.Context, *lambda.UpdateFunctionCodeInput, ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error)
	UpdateFunctionConfiguration(context.Context, *lambda.UpdateFunctionConfigurationInput, ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
	AddPermission(context.Context, *lambda.AddPermissionInput, ...func(*lambda.Options)) (*lambda.AddPermissionOutput, error)
	ListEventSourceMappings(context.Context, *lambda.ListEventSourceMappingsInput, ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
	CreateEventSourceMapping(context.Context, *lambda.CreateEventSourceMappingInput, ...func(*lambda.Options)) (*lambda.CreateEventSourceMappingOutput, error)
}

type apiGatewayAPI interface {
	GetApis(context.Context, *apigatewayv2.GetApisInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetApisOutput, error)
	CreateApi(context.Context, *apigatewayv2.CreateApiInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateApiOutput, error)
	GetIntegrations(context.Context, *apigatewayv2.GetIntegrationsInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetIntegrationsOutput, error)
	CreateIntegration(context.Context, *apigatewayv2.CreateIntegrationInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateIntegrationOutput, error)
	GetRoutes(context.Context, *apigatewayv2.GetRoutesInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetRoutesOutput, error)
	CreateRoute(context.Context, *apigatewayv2.CreateRouteInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateRouteOutput, error)
	GetStages(context.Context, *apigatewayv2.GetStagesInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetStagesOutput, error)
	CreateStage(context.Context, *apigatewayv2.CreateStageInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateStageOutput, error)
}

type eventsAPI interface {
	PutRule(context.Context, *eventbridge.PutRuleInput, ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error)
	PutTargets(context.Context, *eventbridge.PutTargetsInput, ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error)
}

// infraAPI is what is not AWS: LocalStack's health, Kafka topics, Postgres
// databases.
type infraAPI interface {
	// Health returns LocalStack's edition ("community", "pro", ...).
	Health(ctx context.Context) (edition string, err error)
	CreateTopics(ctx context.Context, topics []kafka.Topic) error
	CreateDatabase(ctx context.Context, name string) error
	Migrate(ctx context.Context, name string, migrations fs.FS) error
}

type clients struct {
	Lambda  lambdaAPI
	APIGW   apiGatewayAPI
	Events  eventsAPI
	Infra   infraAPI
	closeFn func()
}

// realClients talks to LocalStack at s.Endpoint with test credentials
// (LocalStack checks none; "test" maps to account 000000000000), and to
// Redpanda and Postgres from the host.
func realClients(s settings) (*clients, error) {
	cfg := aws.Config{
		Region:           s.Region,
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String(s.Endpoint),
		RetryMaxAttempts: 3,
	}
	opts, err := s.Kafka.Opts()
	if err != nil {
		return nil, err
	}
	kcl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.Kafka.Brokers...), kgo.ClientID("jobweaver-localstack-deploy")}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &clients{
		Lambda:  lambda.NewFromConfig(cfg),
		APIGW:   apigatewayv2.NewFromConfig(cfg),
		Events:  eventbridge.NewFromConfig(cfg),
		Infra:   &realInfra{endpoint: s.Endpoint, kafka: kcl, adminURL: s.DatabaseURL},
		closeFn: kcl.Close,
	}, nil
}

type realInfra struct {
	endpoint string
	kafka    *kgo.Client
	adminURL string
}

func (r *realInfra) Health(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(r.endpoint, "/")+"/_localstack/health", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("LocalStack does not answer at %s (is it up? make localstack-up): %w", r.endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var h struct {
		Services map[string]string `json:"services"`
		Edition  string            `json:"edition"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &h) != nil {
		return "", fmt.Errorf("LocalStack health at %s answered %s: %.200s", r.endpoint, resp.Status, body)
	}
	for _, svc := range []string{"lambda", "apigateway", "events"} {
		if st := h.Services[svc]; st != "" && st != "available" && st != "running" {
			return "", fmt.Errorf("LocalStack's %s service is %q, not available", svc, st)
		}
	}
	return h.Edition, nil
}

func (r *realInfra) CreateTopics(ctx context.Context, topics []kafka.Topic) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, r.kafka, topics); err != nil {
		return fmt.Errorf("%w (is Redpanda up? make localstack-up)", err)
	}
	return nil
}

func (r *realInfra) CreateDatabase(ctx context.Context, name string) error {
	return pgdb.EnsureDatabase(ctx, r.adminURL, name)
}

func (r *realInfra) Migrate(ctx context.Context, name string, migrations fs.FS) error {
	dsn, err := pgdb.WithDatabase(r.adminURL, name)
	if err != nil {
		return err
	}
	pool, err := pgdb.Open(ctx, dsn, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	return pgdb.Migrate(ctx, pool, migrations)
}

// dryClients answer as a fresh LocalStack would, contacting nothing:
// lookups find nothing, and what is created gets a placeholder ID.
func dryClients(s settings) *clients {
	return &clients{
		Lambda: dryLambda{s},
		APIGW:  dryAPIGW{},
		Events: dryEvents{s},
		Infra:  dryInfra{s},
	}
}

// Placeholders for the IDs LocalStack assigns.
const (
	placeholderAPIID         = "<api-id>"
	placeholderIntegrationID = "<integration-id>"
	placeholderMappingID     = "<uuid>"
)

func functionARN(region, name string) string {
	return "arn:aws:lambda:" + region + ":" + stack.AccountID + ":function:" + name
}

type dryLambda struct{ s settings }

func (d dryLambda) GetFunction(_ context.Context, in *lambda.GetFunctionInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error) {
	return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: " + aws.ToString(in.FunctionName))}
}

func (d dryLambda) CreateFunction(_ context.Context, in *lambda.CreateFunctionInput, _ ...func(*lambda.Options)) (*lambda.CreateFunctionOutput, error) {
	return &lambda.CreateFunctionOutput{FunctionArn: aws.String(functionARN(d.s.Region, aws.ToString(in.FunctionName)))}, nil
}

func (d dryLambda) UpdateFunctionCode(_ context.Context, in *lambda.UpdateFunctionCodeInput, _ ...func(*lambda.Options)) (*lambda.UpdateFunctionCodeOutput, error) {
	return &lambda.UpdateFunctionCodeOutput{FunctionArn: aws.String(functionARN(d.s.Region, aws.ToString(in.FunctionName)))}, nil
}

func (d dryLambda) UpdateFunctionConfiguration(_ context.Context, in *lambda.UpdateFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error) {
	return &lambda.UpdateFunctionConfigurationOutput{FunctionArn: aws.String(functionARN(d.s.Region, aws.ToString(in.FunctionName)))}, nil
}

func (dryLambda) AddPermission(context.Context, *lambda.AddPermissionInput, ...func(*lambda.Options)) (*lambda.AddPermissionOutput, error) {
	return &lambda.AddPermissionOutput{}, nil
}

func (dryLambda) ListEventSourceMappings(context.Context, *lambda.ListEventSourceMappingsInput, ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error) {
	return &lambda.ListEventSourceMappingsOutput{}, nil
}

func (dryLambda) CreateEventSourceMapping(context.Context, *lambda.CreateEventSourceMappingInput, ...func(*lambda.Options)) (*lambda.CreateEventSourceMappingOutput, error) {
	return &lambda.CreateEventSourceMappingOutput{UUID: aws.String(placeholderMappingID)}, nil
}

type dryAPIGW struct{}

func (dryAPIGW) GetApis(context.Context, *apigatewayv2.GetApisInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetApisOutput, error) {
	return &apigatewayv2.GetApisOutput{}, nil
}

func (dryAPIGW) CreateApi(context.Context, *apigatewayv2.CreateApiInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateApiOutput, error) {
	return &apigatewayv2.CreateApiOutput{ApiId: aws.String(placeholderAPIID)}, nil
}

func (dryAPIGW) GetIntegrations(context.Context, *apigatewayv2.GetIntegrationsInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetIntegrationsOutput, error) {
	return &apigatewayv2.GetIntegrationsOutput{}, nil
}

func (dryAPIGW) CreateIntegration(context.Context, *apigatewayv2.CreateIntegrationInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateIntegrationOutput, error) {
	return &apigatewayv2.CreateIntegrationOutput{IntegrationId: aws.String(placeholderIntegrationID)}, nil
}

func (dryAPIGW) GetRoutes(context.Context, *apigatewayv2.GetRoutesInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetRoutesOutput, error) {
	return &apigatewayv2.GetRoutesOutput{}, nil
}

func (dryAPIGW) CreateRoute(context.Context, *apigatewayv2.CreateRouteInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateRouteOutput, error) {
	return &apigatewayv2.CreateRouteOutput{}, nil
}

func (dryAPIGW) GetStages(context.Context, *apigatewayv2.GetStagesInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.GetStagesOutput, error) {
	return &apigatewayv2.GetStagesOutput{}, nil
}

func (dryAPIGW) CreateStage(context.Context, *apigatewayv2.CreateStageInput, ...func(*apigatewayv2.Options)) (*apigatewayv2.CreateStageOutput, error) {
	return &apigatewayv2.CreateStageOutput{}, nil
}

type dryEvents struct{ s settings }

func (d dryEvents) PutRule(_ context.Context, in *eventbridge.PutRuleInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error) {
	return &eventbridge.PutRuleOutput{RuleArn: aws.String("arn:aws:events:" + d.s.Region + ":" + stack.AccountID + ":rule/" + aws.ToString(in.Name))}, nil
}

func (dryEvents) PutTargets(context.Context, *eventbridge.PutTargetsInput, ...func(*eventbridge.Options)) (*eventbridge.PutTargetsOutput, error) {
	return &eventbridge.PutTargetsOutput{}, nil
}

type dryInfra struct{ s settings }

// Health answers with the edition the deploy needs.
func (d dryInfra) Health(context.Context) (string, error) {
	if d.s.Edition == editionPro {
		return "pro", nil
	}
	return "community", nil
}

func (dryInfra) CreateTopics(context.Context, []kafka.Topic) error { return nil }
func (dryInfra) CreateDatabase(context.Context, string) error      { return nil }
func (dryInfra) Migrate(context.Context, string, fs.FS) error      { return nil }
