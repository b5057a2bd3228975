// Command token prints an access token for a deployed stage's API, or
// the stage's first admin API key:
//
//	make token                          # STAGE=dev, client operator
//	TOKEN=$(make -s token STAGE=prod CLIENT=ci SCOPE=read)
//	curl -H "Authorization: Bearer $TOKEN" "${API}api/jobs"
//	KEY=$(make -s admin-key STAGE=prod) # go run ./infra/token -admin-key
//	curl -H "Authorization: Bearer $KEY" "${API}api/keys"
//
// It reads the app client's credentials from its Secrets Manager secret
// (jobweaver-<stage>/api-clients/<client>, made by the stack) and asks the
// stage's Cognito token endpoint for a token with the OAuth 2.0 client
// credentials grant (shared/apiauth). AWS credentials and region come from
// the standard AWS configuration. With -admin-key it prints the key in
// the secret jobweaver-<stage>/api-admin-key instead (made at deploy; see
// docs/security.md): an admin's key, to make the stage's other keys with.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/apiauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stage := fs.String("stage", envOr("STAGE", "dev"), "the deployed stage (cdk.json stages)")
	client := fs.String("client", envOr("CLIENT", "operator"), "the app client (cdk.json stages.<stage>.api.clients)")
	scope := fs.String("scope", envOr("SCOPE", ""), "read or write: narrow the token to one scope (default: every scope of the client)")
	region := fs.String("region", "", "the stage's region (default: AWS_REGION, the AWS profile's, else cdk.json's region)")
	asJSON := fs.Bool("json", false, "print the whole token as JSON (access_token, token_type, expiry) instead of the access token alone")
	adminKey := fs.Bool("admin-key", false, "print the stage's first admin API key (secret jobweaver-<stage>/api-admin-key) instead of a token")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: make token [STAGE=dev] [CLIENT=operator] [SCOPE=read|write]
   or: make admin-key [STAGE=dev]
   or: go run ./infra/token [flags]

Prints an access token for the deployed API of a stage on stdout, for
"Authorization: Bearer <token>". It reads the app client's credentials from
the Secrets Manager secret jobweaver-<stage>/api-clients/<client> and asks
the stage's Cognito token endpoint (client credentials grant). Credentials
and region come from the standard AWS configuration (AWS_PROFILE,
AWS_REGION, ...). A token is valid for the stage's api.tokenValidityMinutes
(60 by default); reuse it, each token request is billed.

With -admin-key (make admin-key) it prints the stage's first admin API key
(jw_...) from the secret jobweaver-<stage>/api-admin-key, which the deploy
fills: an admin's key, for POST /api/keys. Keep it out of shell history
and logs.

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
		fmt.Fprintf(stderr, "token: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	var scopes []string
	switch *scope {
	case "":
	case "read", "write":
		scopes = []string{apiauth.ResourceServer + "/" + *scope}
	default:
		fmt.Fprintf(stderr, "token: --scope must be read or write (got %q)\n", *scope)
		return 2
	}
	if !apiauth.ValidClientName(*client) {
		fmt.Fprintf(stderr, "token: %q is not an app client name (lower-case letters, digits, dashes)\n", *client)
		return 2
	}

	if *adminKey && (*scope != "" || *asJSON) {
		fmt.Fprintln(stderr, "token: -admin-key prints the key alone: no -scope, no -json")
		return 2
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cfg, err := apiauth.AWSConfig(ctx, *region)
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	if *adminKey {
		key, err := apiauth.StageAdminKey(ctx, cfg, *stage)
		if err != nil {
			fmt.Fprintln(stderr, "token:", err)
			return 1
		}
		fmt.Fprintln(stdout, key)
		return 0
	}
	tok, err := apiauth.StageToken(ctx, cfg, *stage, *client, scopes...)
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		// A map of strings always encodes; a failed write to stdout has no one
		// to tell, as for the Fprintln below.
		_ = enc.Encode(map[string]any{"access_token": tok.AccessToken, "token_type": tok.Type(), "expiry": tok.Expiry.UTC().Format(time.RFC3339)})
		return 0
	}
	fmt.Fprintln(stdout, tok.AccessToken)
	return 0
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}
