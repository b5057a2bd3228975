// Command smoke checks a deployed stage end to end through its public API,
// as a user would, and prints a table:
//
//	make smoke                      # STAGE=dev: after make deploy
//	go run ./infra/smoke -url http://localhost:8080 -no-token   # against make run
//
// It finds the API's URL in the stack's outputs (JobWeaver-<stage>), gets
// a token as make token does and reads the stage's first admin key as
// make admin-key does. Then: the health route answers UP; a call without
// credentials is refused (401); with the admin key it makes a viewer key,
// which may read but not submit (403), revokes it and waits until it is
// refused (401, within 10 s); a LOG job runs to COMPLETED and its
// execution is listed; a FAIL job without retries ends FAILED and shows
// up in the DLQ (both with the token). Each check needs the one before;
// the first failure stops the run (exit status 1) with what to look at.
//
// Against a local stack (-url) it uses the key of -admin-key (default
// $API_ADMIN_KEY), if any, for the key checks and the jobs.
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
	noToken := fs.Bool("no-token", false, "get no Cognito token (a local stack: make run)")
	adminKey := fs.String("admin-key", os.Getenv("API_ADMIN_KEY"), "with -url: an admin API key for the key checks and the jobs (default $API_ADMIN_KEY); a stage's comes from its secret")
	region := fs.String("region", "", "the stage's region (default: AWS_REGION, the AWS profile's, else cdk.json's region)")
	wait := fs.Duration("wait", 3*time.Minute, "how long a job may take to finish")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: make smoke [STAGE=dev] [CLIENT=operator]
   or: go run ./infra/smoke [flags]

Checks a deployed stage end to end through its public API: health, a call
without credentials refused (401), a viewer key made with the stage's admin
key (secret jobweaver-<stage>/api-admin-key) that may read but not submit
(403), revoked and refused within 10 s, a job run to COMPLETED with its
execution and a failing job in the DLQ (with a Cognito token, as make
token gets). Prints a table; exits 1 at the first failed check. AWS
credentials and region come from the standard AWS configuration.

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
	s := &smoke{api: strings.TrimRight(*url, "/"), http: &http.Client{Timeout: 30 * time.Second}, wait: *wait, poll: 250 * time.Millisecond,
		revokeWithin: 10 * time.Second}
	if s.api != "" {
		s.adminKey = strings.TrimSpace(*adminKey)
	}
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
		if *url == "" {
			if s.adminKey, err = apiauth.StageAdminKey(ctx, cfg, *stage); err != nil {
				fmt.Fprintln(stderr, "smoke:", err)
				return 1
			}
		}
	}
	// Never the key itself.
	fmt.Fprintf(stderr, "smoke: %s (token: %v, admin key: %v)\n", s.api, s.token != "", s.adminKey != "")
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
