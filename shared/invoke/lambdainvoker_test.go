package invoke_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

// The Runtime Interface Emulator answers a handler's error with 200 and
// no FunctionError, and a timeout with a plain-text 200: both are errors.
func TestLambdaInvokeEmulatorQuirks(t *testing.T) {
	cases := []struct {
		name, payload, want, wantType string
	}{
		{"handled error without FunctionError", `{"errorMessage":"db down","errorType":"errorString"}`, "failed: errorString: db down", "errorString"},
		{"error message only", `{"errorMessage":"db down"}`, "failed: Unhandled: db down", "Unhandled"},
		{"timeout as plain text", `Task timed out after 2.00 seconds`, "failed: Sandbox.Timedout: Task timed out after 2.00 seconds", invoke.ErrorTypeTimeout},
		{"not JSON", `<html>`, "failed: Unhandled: <html>", "Unhandled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeLambda{out: &awslambda.InvokeOutput{StatusCode: 200, Payload: []byte(tc.payload)}}
			l := &invoke.Lambda{Client: fake, Functions: map[string]string{invoke.Worker: "w"}}
			_, err := l.Invoke(context.Background(), invoke.Worker, []byte(`{}`))
			var fe *invoke.FunctionError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || fe.Type != tc.wantType || fe.Function != invoke.Worker || fe.Name != "w" {
				t.Fatalf("Invoke error = %#v (%v), want …%q… of type %s", err, err, tc.want, tc.wantType)
			}
		})
	}
	// Successful payloads that merely look alike stay successes.
	for _, ok := range []string{``, `null`, `"errorType"`, `[]`, `{"statusCode":500,"body":"x","errorType":"y"}`, `{"statusCode":200,"body":"{\"errorMessage\":\"no\"}"}`} {
		fake := &fakeLambda{out: &awslambda.InvokeOutput{StatusCode: 200, Payload: []byte(ok)}}
		l := &invoke.Lambda{Client: fake, Functions: map[string]string{invoke.Worker: "w"}}
		if out, err := l.Invoke(context.Background(), invoke.Worker, nil); err != nil || string(out) != ok {
			t.Errorf("payload %s: Invoke = %s, %v; want it back without error", ok, out, err)
		}
	}
}

func TestFunctionErrorType(t *testing.T) {
	fake := &fakeLambda{out: &awslambda.InvokeOutput{FunctionError: ptr("Unhandled"),
		Payload: []byte(`{"errorType":"Function.ResponseSizeTooLarge","errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes)."}`)}}
	l := &invoke.Lambda{Client: fake, Functions: map[string]string{invoke.Scheduler: "s"}}
	_, err := l.Invoke(context.Background(), invoke.Scheduler, nil)
	var fe *invoke.FunctionError
	if !errors.As(err, &fe) || fe.Type != invoke.ErrorTypeResponseTooLarge {
		t.Fatalf("Invoke error = %#v", err)
	}
}

// AWS_ENDPOINT_URL_LAMBDA is honoured by the SDK's configuration chain:
// NewLambda reaches whatever it names (here a fake Invoke API).
func TestNewLambdaHonoursEndpointFromEnv(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization"))
		w.Write([]byte(`{"statusCode":200}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	l, err := invoke.NewLambda(context.Background(), map[string]string{invoke.Scheduler: "jobweaver-scheduler"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Invoke(context.Background(), invoke.Scheduler, []byte(`{}`))
	if err != nil || string(out) != `{"statusCode":200}` {
		t.Fatalf("Invoke = %s, %v", out, err)
	}
	req, _ := got.Load().(string)
	if !strings.HasPrefix(req, "POST /2015-03-31/functions/jobweaver-scheduler/invocations AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(req, "/eu-west-1/lambda/") {
		t.Fatalf("request = %q", req)
	}
}

func TestNewLambdaAt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/2015-03-31/functions/fn-dlq/invocations" {
			t.Errorf("path = %s", r.URL.Path)
		}
		w.WriteHeader(http.StatusBadGateway) // not retried
	}))
	defer srv.Close()
	l := invoke.NewLambdaAt(srv.URL, map[string]string{invoke.DLQ: "fn-dlq"})
	if _, err := l.Invoke(context.Background(), invoke.DLQ, []byte(`{}`)); err == nil {
		t.Fatal("a 502 is an error")
	}
	if calls.Load() != 1 {
		t.Fatalf("calls = %d; NewLambdaAt must not retry (an invocation is not idempotent)", calls.Load())
	}
}
