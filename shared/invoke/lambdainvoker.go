package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
// chain: region, credentials and endpoint come from the environment and
// the shared config files, as for any AWS SDK client. Inside Lambda that
// is the function's role and region. AWS_ENDPOINT_URL_LAMBDA (or
// AWS_ENDPOINT_URL) points it elsewhere, such as LocalStack or the local
// Lambda emulator (shared/emulator); the SDK reads both natively.
func NewLambda(ctx context.Context, functions map[string]string) (*Lambda, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("invoke: load AWS configuration: %w", err)
	}
	return &Lambda{Client: awslambda.NewFromConfig(cfg), Functions: functions}, nil
}

// NewLambdaAt builds a Lambda invoker for a Lambda Invoke API at endpoint
// (such as http://127.0.0.1:9001), in region us-east-1 with static test
// credentials and no retries, whatever the environment says: for local
// emulators, which check neither.
func NewLambdaAt(endpoint string, functions map[string]string) *Lambda {
	client := awslambda.New(awslambda.Options{
		BaseEndpoint:     aws.String(endpoint),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
	return &Lambda{Client: client, Functions: functions}
}

// FunctionError is a failed invocation: the function returned an error,
// panicked, timed out, exited, or answered more than Lambda carries.
type FunctionError struct {
	Function string // the platform's name (scheduler, ...)
	Name     string // the deployed name or ARN
	// Type is the error's errorType (errorString, Runtime.ExitError,
	// Function.ResponseSizeTooLarge, Sandbox.Timedout, ...) or, without
	// one, Lambda's FunctionError (Unhandled).
	Type    string
	Message string
}

func (e *FunctionError) Error() string {
	s := fmt.Sprintf("invoke: %s (%s) failed: %s", e.Function, e.Name, e.Type)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Well-known error types of failed invocations.
const (
	// ErrorTypeResponseTooLarge: the function's response exceeded Lambda's
	// 6 MB limit for synchronous invocations.
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
	// ErrorTypeTimeout: the function ran past its timeout.
	ErrorTypeTimeout = "Sandbox.Timedout"
)

// Invoke implements Invoker: a synchronous (RequestResponse) invocation.
// A function that fails is a *FunctionError carrying the function's
// errorType and errorMessage. Failure is told by Lambda's FunctionError
// and also, for emulators that do not set it (the Runtime Interface
// Emulator answers a handler's error with a plain 200), by an error
// payload ({"errorType": ..., "errorMessage": ...}) or a payload that is
// not JSON at all (the emulator's "Task timed out after 2.00 seconds").
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
		kind, msg := functionError(*out.FunctionError, out.Payload)
		return nil, &FunctionError{Function: function, Name: name, Type: kind, Message: msg}
	}
	if kind, msg, failed := errorPayload(out.Payload); failed {
		return nil, &FunctionError{Function: function, Name: name, Type: kind, Message: msg}
	}
	return out.Payload, nil
}

// errorPayload tells a failure from a payload that came without
// FunctionError: an object with errorType or errorMessage and none of the
// fields of an API Gateway response, or a payload that is not JSON.
// Empty payloads are successes (an asynchronous or void invocation).
func errorPayload(payload []byte) (kind, msg string, failed bool) {
	t := bytes.TrimSpace(payload)
	if len(t) == 0 {
		return "", "", false
	}
	if !json.Valid(t) {
		msg := string(t)
		kind := "Unhandled"
		if strings.Contains(msg, "Task timed out") {
			kind = ErrorTypeTimeout
		}
		return kind, truncate(msg), true
	}
	if t[0] != '{' {
		return "", "", false
	}
	var p struct {
		ErrorType    *string         `json:"errorType"`
		ErrorMessage *string         `json:"errorMessage"`
		StatusCode   json.RawMessage `json:"statusCode"`
	}
	if json.Unmarshal(t, &p) != nil || (p.ErrorType == nil && p.ErrorMessage == nil) || p.StatusCode != nil {
		return "", "", false
	}
	kind, msg = "Unhandled", ""
	if p.ErrorType != nil && *p.ErrorType != "" {
		kind = *p.ErrorType
	}
	if p.ErrorMessage != nil {
		msg = *p.ErrorMessage
	}
	return kind, msg, true
}

// functionError describes a failed invocation from its error payload
// ({"errorMessage": ..., "errorType": ...}): its type and message.
func functionError(kind string, payload []byte) (string, string) {
	var p struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.ErrorMessage == "" {
		return kind, truncate(strings.TrimSpace(string(payload)))
	}
	if p.ErrorType != "" {
		return p.ErrorType, p.ErrorMessage
	}
	return kind, p.ErrorMessage
}

func truncate(msg string) string {
	if len(msg) > 512 {
		return msg[:512] + "..."
	}
	return msg
}
