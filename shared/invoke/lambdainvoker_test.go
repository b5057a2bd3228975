package invoke_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

type fakeLambda struct {
	in  *awslambda.InvokeInput
	out *awslambda.InvokeOutput
	err error
}

func (f *fakeLambda) Invoke(_ context.Context, in *awslambda.InvokeInput, _ ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error) {
	f.in = in
	return f.out, f.err
}

func ptr(s string) *string { return &s }

func TestLambdaInvoke(t *testing.T) {
	fake := &fakeLambda{out: &awslambda.InvokeOutput{StatusCode: 200, Payload: []byte(`{"statusCode":200}`)}}
	l := &invoke.Lambda{Client: fake, Functions: map[string]string{invoke.Scheduler: "jobweaver-scheduler"}}
	out, err := l.Invoke(context.Background(), invoke.Scheduler, []byte(`{"x":1}`))
	if err != nil || string(out) != `{"statusCode":200}` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	if *fake.in.FunctionName != "jobweaver-scheduler" || fake.in.InvocationType != types.InvocationTypeRequestResponse || string(fake.in.Payload) != `{"x":1}` {
		t.Fatalf("input = %+v", fake.in)
	}
}

func TestLambdaInvokeErrors(t *testing.T) {
	cases := []struct {
		name string
		fake *fakeLambda
		fn   string
		want string
	}{
		{"unconfigured function", &fakeLambda{}, invoke.DLQ, `no deployed function configured for "dlq"`},
		{"API error", &fakeLambda{err: errors.New("AccessDeniedException")}, invoke.Scheduler, "AccessDeniedException"},
		{"function error", &fakeLambda{out: &awslambda.InvokeOutput{StatusCode: 200, FunctionError: ptr("Unhandled"),
			Payload: []byte(`{"errorMessage":"db down","errorType":"errorString"}`)}}, invoke.Scheduler, "failed: errorString: db down"},
		{"function error without type", &fakeLambda{out: &awslambda.InvokeOutput{FunctionError: ptr("Unhandled"),
			Payload: []byte(`{"errorMessage":"timed out"}`)}}, invoke.Scheduler, "failed: Unhandled: timed out"},
		{"function error with raw payload", &fakeLambda{out: &awslambda.InvokeOutput{FunctionError: ptr("Unhandled"),
			Payload: []byte(`Task timed out after 30.00 seconds`)}}, invoke.Scheduler, "failed: Unhandled: Task timed out"},
		{"function error without payload", &fakeLambda{out: &awslambda.InvokeOutput{FunctionError: ptr("Unhandled")}}, invoke.Scheduler, "failed: Unhandled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &invoke.Lambda{Client: tc.fake, Functions: map[string]string{invoke.Scheduler: "sched"}}
			_, err := l.Invoke(context.Background(), tc.fn, []byte(`{}`))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Invoke error = %v, want …%q…", err, tc.want)
			}
		})
	}
}

// Through invoke.HTTP: a failed function is an error, not a response.
func TestHTTPOverLambdaFunctionError(t *testing.T) {
	fake := &fakeLambda{out: &awslambda.InvokeOutput{FunctionError: ptr("Unhandled"), Payload: []byte(`{"errorMessage":"boom"}`)}}
	l := &invoke.Lambda{Client: fake, Functions: map[string]string{invoke.Worker: "w"}}
	if _, _, err := invoke.HTTP(context.Background(), l, invoke.Worker, "GET", "/internal/executions/x", nil, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("HTTP error = %v", err)
	}
}

func TestFunctionNamesFromEnv(t *testing.T) {
	env := config.FromMap(map[string]string{
		"SCHEDULER_FUNCTION_NAME": "s", "WORKER_FUNCTION_NAME": "w", "DLQ_FUNCTION_NAME": "arn:aws:lambda:eu-west-1:1:function:d",
	})
	got := invoke.FunctionNamesFromEnv(env)
	if env.Err() != nil || got[invoke.Scheduler] != "s" || got[invoke.Worker] != "w" || got[invoke.DLQ] != "arn:aws:lambda:eu-west-1:1:function:d" {
		t.Fatalf("FunctionNamesFromEnv = %v, %v", got, env.Err())
	}
	env = config.FromMap(map[string]string{"SCHEDULER_FUNCTION_NAME": "s"})
	invoke.FunctionNamesFromEnv(env)
	if err := env.Err(); err == nil || !strings.Contains(err.Error(), "WORKER_FUNCTION_NAME") {
		t.Fatalf("missing variable: %v", err)
	}
}

func TestNewLambda(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	l, err := invoke.NewLambda(context.Background(), map[string]string{invoke.Scheduler: "s"})
	if err != nil || l.Client == nil || l.Functions[invoke.Scheduler] != "s" {
		t.Fatalf("NewLambda = %+v, %v", l, err)
	}
}
