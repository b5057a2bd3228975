// Command smoke checks a deployed stage end to end through its public API,
// as a user would, and prints a table:
//
//	make smoke                      # STAGE=dev: after make deploy
//	go run ./infra/smoke -url http://localhost:8080 -no-token   # against make run
//
// It finds the API's URL in the stack's outputs (JobWeaver-<stage>) and,
// when the stage has an authorizer, gets a token as make token does. Then:
// the health route answers UP; a call without a token is refused; a LOG
// job runs to COMPLETED and its execution is listed; a FAIL job without
// retries ends FAILED and shows up in the DLQ. Each check needs the one
// before; the first failure stops the run (exit status 1) with what to
// look at.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/jobweaver/jobweaver/shared/apiauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("smoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stage := fs.String("stage", envOr("STAGE", "dev"), "the deployed stage; its stack is JobWeaver-<stage>")
	url := fs.String("url", "", "the API's base URL instead of the stack's ApiUrl output (say http://localhost:8080)")
	client := fs.String("client", envOr("CLIENT", "operator"), "the app client whose token to use")
	noToken := fs.Bool("no-token", false, "send no token (an API without an authorizer: make run, api.auth none)")
	region := fs.String("region", "", "the stage's region (default: AWS_REGION, the AWS profile's, else cdk.json's region)")
	wait := fs.Duration("wait", 3*time.Minute, "how long a job may take to finish")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: make smoke [STAGE=dev] [CLIENT=operator]
   or: go run ./infra/smoke [flags]

Checks a deployed stage end to end through its public API: health, a call
without a token refused, a job run to COMPLETED with its execution, a
failing job in the DLQ. Prints a table; exits 1 at the first failed check.
AWS credentials and region come from the standard AWS configuration.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "smoke: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	s := &smoke{api: strings.TrimRight(*url, "/"), http: &http.Client{Timeout: 30 * time.Second}, wait: *wait, poll: 250 * time.Millisecond}
	ctx, cancel := context.WithTimeout(ctx, 3**wait+time.Minute)
	defer cancel()

	var cfg aws.Config
	if s.api == "" || !*noToken {
		var err error
		if cfg, err = apiauth.AWSConfig(ctx, *region); err != nil {
			fmt.Fprintln(stderr, "smoke:", err)
			return 1
		}
	}
	withToken := !*noToken
	if s.api == "" {
		outputs, err := stackOutputs(ctx, cloudformation.NewFromConfig(cfg), "JobWeaver-"+*stage)
		if err != nil {
			fmt.Fprintln(stderr, "smoke:", err)
			return 1
		}
		s.api = strings.TrimRight(outputs["ApiUrl"], "/")
		if s.api == "" {
			fmt.Fprintf(stderr, "smoke: stack JobWeaver-%s has no ApiUrl output\n", *stage)
			return 1
		}
		// A stage without an authorizer has no token endpoint.
		withToken = withToken && outputs["TokenUrl"] != ""
	}
	if withToken {
		t, err := apiauth.StageToken(ctx, cfg, *stage, *client)
		if err != nil {
			fmt.Fprintln(stderr, "smoke:", err)
			return 1
		}
		s.token = t.AccessToken
	}
	fmt.Fprintf(stderr, "smoke: %s (token: %v)\n", s.api, s.token != "")
	results := s.run(ctx, stderr)
	table(stdout, results)
	if last := results[len(results)-1]; last.err != nil {
		return 1
	}
	return 0
}

// stackOutputs are a stack's outputs by key.
func stackOutputs(ctx context.Context, cf *cloudformation.Client, stack string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &stack})
	if err != nil {
		return nil, fmt.Errorf("read stack %s: %w (is it deployed in this account and region? make deploy)", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("no stack %s", stack)
	}
	m := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m, nil
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
