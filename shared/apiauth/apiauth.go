// Package apiauth names what the deployed API's authentication is made of
// and gets credentials for it.
//
// In AWS the api function checks every /api/... request itself, with the
// same code as make run (shared/api, API_AUTH=keys,jwt, always on): API
// Gateway has no authorizer on the routes, so that API keys get through
// to it. A caller sends either an API key (jw_..., shared/auth) or an
// access token from the stage's Cognito user pool. A token's role comes
// from its scopes ([ScopeRoles]: [ScopeRead] gives viewer, [ScopeWrite]
// operator) or, for a user's token, from the pool's groups ([Groups]).
// Programs get tokens with the OAuth 2.0 client credentials grant. Each
// app client's credentials live in a Secrets Manager secret named by
// [SecretName], as JSON ([Client]), so that an operator reads one secret
// and asks the token endpoint, as [Load] and [Client.Token] do (make
// token, make smoke; [StageToken] does both).
//
// The stage's first admin key lives in the secret [AdminKeySecretName]
// (made by the stack, filled at deploy by the provisioning function, read
// by the api function at cold start; shared/adminkey): [StageAdminKey]
// reads it for make admin-key and make smoke.
//
// The local stack (make run) has no Cognito: API_AUTH and the AUTH_JWT_*
// variables choose what it accepts (docs/security.md).
package apiauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jobweaver/jobweaver/shared/auth"
)

// ResourceServer is the user pool's resource server for the API: the
// prefix of its scopes.
const ResourceServer = "jobweaver"

// The scopes a route asks for.
const (
	ScopeRead  = ResourceServer + "/read"  // GET /api/...
	ScopeWrite = ResourceServer + "/write" // every other method on /api/... (and GET)
)

// Scopes are the scope names an app client may be given, without the
// resource server's prefix.
var Scopes = []string{"read", "write"}

// ScopeRoles is the api function's AUTH_JWT_SCOPE_ROLES in AWS: what a
// client-credentials token's scopes make its caller. No scope gives
// admin: in AWS an admin is the holder of an admin API key (the first one
// in AdminKeySecretName) or a user in the pool's admin group.
const ScopeRoles = ScopeRead + "=viewer," + ScopeWrite + "=operator"

// Groups are the user pool's groups, one per role: a user's access token
// lists them in cognito:groups, the api function's default role claim.
var Groups = []string{"viewer", "operator", "admin"}

// AdminKeySecretName is the Secrets Manager secret that holds a stage's
// first admin API key (the key alone, jw_...):
// jobweaver-<stage>/api-admin-key.
func AdminKeySecretName(stage string) string {
	return "jobweaver-" + stage + "/api-admin-key"
}

// clientName is what an app client's name may be.
var clientName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// ValidClientName reports whether name can name an app client (and its
// secret): lower-case letters, digits and dashes, starting with a letter,
// at most 40.
func ValidClientName(name string) bool { return clientName.MatchString(name) }

// SecretName is the Secrets Manager secret that holds an app client's
// credentials: jobweaver-<stage>/api-clients/<client>.
func SecretName(stage, client string) string {
	return "jobweaver-" + stage + "/api-clients/" + client
}

// Client is an app client's credentials, the JSON of its secret.
type Client struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// TokenURL is the user pool domain's token endpoint,
	// https://<prefix>.auth.<region>.amazoncognito.com/oauth2/token.
	TokenURL string `json:"tokenUrl"`
	// Scope is the client's scopes, space-separated: the most it may ask.
	Scope string `json:"scope"`
}

// SecretGetter is the Secrets Manager call Load makes.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Load reads a client's credentials from its secret (SecretName).
func Load(ctx context.Context, sm SecretGetter, stage, client string) (Client, error) {
	name := SecretName(stage, client)
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
	if err != nil {
		return Client{}, fmt.Errorf("read secret %s: %w (is stage %q deployed, with the app client %q in its api.clients, and are these the credentials and region of its account?)",
			name, err, stage, client)
	}
	if out.SecretString == nil {
		return Client{}, fmt.Errorf("secret %s has no string value", name)
	}
	var c Client
	if err := json.Unmarshal([]byte(*out.SecretString), &c); err != nil {
		return Client{}, fmt.Errorf("secret %s: %w", name, err)
	}
	if c.ClientID == "" || c.ClientSecret == "" || c.TokenURL == "" {
		return Client{}, fmt.Errorf("secret %s lacks clientId, clientSecret or tokenUrl", name)
	}
	return c, nil
}

// Token asks the token endpoint for an access token with the client
// credentials grant (client authentication in the Authorization header, as
// Cognito wants). scopes narrows the token (say, to ScopeRead); none asks
// for every scope of the client. httpClient may be nil.
func (c Client) Token(ctx context.Context, httpClient *http.Client, scopes ...string) (*oauth2.Token, error) {
	if len(scopes) == 0 {
		scopes = strings.Fields(c.Scope)
	}
	for _, s := range scopes {
		if !slices.Contains(strings.Fields(c.Scope), s) {
			return nil, fmt.Errorf("scope %q is not one of the client's (%s)", s, c.Scope)
		}
	}
	cfg := clientcredentials.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		TokenURL:     c.TokenURL,
		Scopes:       scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	if httpClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient)
	}
	tok, err := cfg.Token(ctx)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return nil, fmt.Errorf("token endpoint %s refused: %s %s (the secret may be older than the app client: redeploy, or read it again)",
				c.TokenURL, re.ErrorCode, re.ErrorDescription)
		}
		return nil, fmt.Errorf("token endpoint %s: %w", c.TokenURL, err)
	}
	return tok, nil
}

// CDKRegion is the "region" context of the cdk.json at path, the region
// make deploy uses, or "" without one: the default region of the commands
// that talk to a deployed stage.
func CDKRegion(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var f struct {
		Context struct {
			Region string `json:"region"`
		} `json:"context"`
	}
	if json.Unmarshal(b, &f) != nil {
		return ""
	}
	return f.Context.Region
}

// AWSConfig is the standard AWS configuration (AWS_PROFILE, AWS_REGION,
// ...) for the commands that talk to a deployed stage, in region if set,
// else the configuration's region, else cdk.json's.
func AWSConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err == nil && cfg.Region == "" {
		cfg.Region = CDKRegion("cdk.json")
	}
	if err != nil || cfg.Region == "" {
		return cfg, fmt.Errorf("no AWS configuration (%v): set AWS_PROFILE or credentials, and AWS_REGION or --region", err)
	}
	return cfg, nil
}

// StageAdminKey reads a stage's first admin key from its secret
// (AdminKeySecretName) and checks its format (auth.Valid). The error
// never holds the secret's value.
func StageAdminKey(ctx context.Context, cfg aws.Config, stage string) (string, error) {
	name := AdminKeySecretName(stage)
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &name})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w (is stage %q deployed, and are these the credentials and region of its account?)", name, err, stage)
	}
	key := strings.TrimSpace(aws.ToString(out.SecretString))
	if !auth.Valid(key) {
		return "", fmt.Errorf("secret %s holds no API key (jw_...): the deploy fills it; deploy again", name)
	}
	return key, nil
}

// StageToken gets a token for a stage's app client: its credentials from
// its secret (Load), then the token endpoint (Client.Token).
func StageToken(ctx context.Context, cfg aws.Config, stage, client string, scopes ...string) (*oauth2.Token, error) {
	c, err := Load(ctx, secretsmanager.NewFromConfig(cfg), stage, client)
	if err != nil {
		return nil, err
	}
	return c.Token(ctx, nil, scopes...)
}
