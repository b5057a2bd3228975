package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/jobweaver/jobweaver/shared/config"
)

// LambdaClient is the part of the AWS SDK's Lambda client that Lambda
// uses; *lambda.Client implements it, and tests pass a fake.
type LambdaClient interface {
	Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error)
}

// Lambda invokes deployed functions synchronously through the Lambda
// Invoke API. Functions maps the platform's names (Scheduler, Worker, DLQ)
// to function names or ARNs.
type Lambda struct {
	Client    LambdaClient
	Functions map[string]string
}

// FunctionNamesFromEnv reads the deployed names of the functions the api
// calls: SCHEDULER_FUNCTION_NAME, WORKER_FUNCTION_NAME and
// DLQ_FUNCTION_NAME, all required. A missing one is recorded in env.Err.
func FunctionNamesFromEnv(env *config.Env) map[string]string {
	return map[string]string{
		Scheduler: env.Required("SCHEDULER_FUNCTION_NAME"),
		Worker:    env.Required("WORKER_FUNCTION_NAME"),
		DLQ:       env.Required("DLQ_FUNCTION_NAME"),
	}
}

// NewLambda builds a Lambda invoker with the SDK's default configuration
// (region and credentials from the function's environment).
func NewLambda(ctx context.Context, functions map[string]string) (*Lambda, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("invoke: load AWS configuration: %w", err)
	}
	return &Lambda{Client: awslambda.NewFromConfig(cfg), Functions: functions}, nil
}

// Invoke implements Invoker: a synchronous (RequestResponse) invocation.
// A function that fails (FunctionError set) is an error carrying the
// function's errorType and errorMessage.
func (l *Lambda) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	name := l.Functions[function]
	if name == "" {
		return nil, fmt.Errorf("invoke: no deployed function configured for %q", function)
	}
	out, err := l.Client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   &name,
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	if err != nil {
		return nil, fmt.Errorf("invoke: %s (%s): %w", function, name, err)
	}
	if out.FunctionError != nil {
		return nil, fmt.Errorf("invoke: %s (%s) failed: %s", function, name, functionError(*out.FunctionError, out.Payload))
	}
	return out.Payload, nil
}

// functionError describes a failed invocation from its error payload
// ({"errorMessage": ..., "errorType": ...}).
func functionError(kind string, payload []byte) string {
	var p struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.ErrorMessage == "" {
		msg := strings.TrimSpace(string(payload))
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		if msg == "" {
			return kind
		}
		return kind + ": " + msg
	}
	if p.ErrorType != "" {
		return p.ErrorType + ": " + p.ErrorMessage
	}
	return kind + ": " + p.ErrorMessage
}
