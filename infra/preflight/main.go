// Command preflight reads the AWS account a stage is about to be deployed
// to and prints a table of what would make the deploy fail, each with its
// fix:
//
//	make preflight          # STAGE=dev; make deploy runs it first
//	go run ./infra/preflight -stage prod
//
// It reads the stage from cdk.json and the account through the standard
// AWS credential chain, in the stage's region, and checks:
//   - credentials: who it runs as;
//   - stack: whether JobWeaver-<stage> exists (an update) and is in a state
//     CloudFormation can deploy over;
//   - cdk bootstrap: the CDKToolkit stack;
//   - lambda concurrency: the account's unreserved concurrency, less what
//     the stage reserves, stays at Lambda's minimum of 100;
//   - availability zones: the AZ IDs the subnets would use avoid those MSK
//     (and the RDS Proxy) cannot use (use1-az3);
//   - msk quota, rds quota, rds proxy quota: Service Quotas against what is
//     in use plus what the stage adds;
//   - names: no resource outside the stack holds a name the stack will
//     create with (functions, the DB instance, app client secrets).
//
// It only reads. Exit status 1 if a check failed, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stage := fs.String("stage", envOr("STAGE", "dev"), "the stage of cdk.json to check for")
	cdk := fs.String("cdk", "cdk.json", "the CDK app's cdk.json")
	region := fs.String("region", "", "the region to check (default: cdk.json's region, where the stack deploys)")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long all the checks may take")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: make preflight [STAGE=dev]
   or: go run ./infra/preflight [flags]

Reads the AWS account (standard credential chain) before a deploy: Lambda
concurrency against the stage's reservations, the AZ IDs its subnets would
use, MSK and RDS quotas, the CDK bootstrap stack, and names left by an
earlier stack. Prints a table with the fix for each failure; exits 1 if a
check failed. It changes nothing.

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
		fmt.Fprintf(stderr, "preflight: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	s, err := LoadStage(*cdk, *stage)
	if err != nil {
		fmt.Fprintln(stderr, "preflight:", err)
		return 2
	}
	if *region != "" {
		s.Region = *region
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(s.Region))
	if err != nil {
		fmt.Fprintln(stderr, "preflight: AWS configuration:", err)
		return 1
	}
	fmt.Fprintf(stderr, "preflight: stage %s, stack %s, region %s\n", s.Name, s.StackName(), s.Region)
	results := Run(ctx, NewClients(cfg), s)
	Table(stdout, results)
	if Failed(results) {
		fmt.Fprintln(stderr, "preflight: a check failed: fix it before make deploy (SKIP_PREFLIGHT=1 deploys anyway)")
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
