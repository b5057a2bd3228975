package main

import (
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/jobweaver/jobweaver/shared/apiauth"
)

// Auth holds who may call the API. The api function checks every call
// itself (API_AUTH=keys,jwt, always on in AWS; docs/security.md): an API
// key, or an access token from the stage's Cognito user pool. Auth is:
//   - the user pool, used as an OAuth 2.0 authorization server for
//     programs (no sign-up), its resource server "jobweaver" with the
//     scopes read and write (AUTH_JWT_SCOPE_ROLES maps them to viewer and
//     operator), a domain for its token endpoint, and one app client per
//     entry of api.clients, each allowed only the client credentials
//     grant. Each client's credentials go into a Secrets Manager secret
//     (apiauth.SecretName: jobweaver-<stage>/api-clients/<name>) for make
//     token and for the programs that call the API;
//   - the groups viewer, operator and admin (apiauth.Groups), for users an
//     administrator adds to the pool: their tokens' cognito:groups name
//     their role;
//   - a copy of the pool's keys (JWKS), made at each deploy that changes
//     the pool (or the refresh context) by a small function outside the VPC, for
//     the api function, which cannot reach Cognito from its private
//     subnets (no NAT; a Cognito VPC endpoint does not serve a pool with a
//     domain): AUTH_JWT_JWKS, served to its verifier by shared/oidcstatic;
//   - the secret of the stage's first admin API key
//     (apiauth.AdminKeySecretName), filled at deploy by the provisioning
//     function (Provisioning.AdminKey) and read by the api function.
type Auth struct {
	constructs.Construct
	UserPool awscognito.UserPool
	Domain   awscognito.UserPoolDomain
	Clients  []awscognito.UserPoolClient // in name order
	Secrets  map[string]awssecretsmanager.Secret
	Groups   map[string]awscognito.UserPoolGroup // by role
	// AdminKey holds the first admin API key (the key alone).
	AdminKey awssecretsmanager.Secret
	// JWKS is the deploy-time copy of the pool's keys (attribute Jwks).
	JWKS awscdk.CustomResource
	// TokenUrl is the token endpoint,
	// https://jobweaver-<stage>-<account>.auth.<region>.amazoncognito.com/oauth2/token.
	TokenUrl *string
	// Issuer is the pool's token issuer (AUTH_JWT_ISSUER),
	// https://cognito-idp.<region>.amazonaws.com/<pool ID>.
	Issuer *string
	// Audience is the app clients' IDs, comma-separated
	// (AUTH_JWT_AUDIENCE: a client-credentials token has no aud, its
	// client_id must be one of them).
	Audience *string
}

// APIAuth is the api function's API_AUTH in AWS: API keys and the pool's
// tokens, never none (the stages' env may not set it: StackEnv).
const APIAuth = "keys,jwt"

// Env is what the api function needs to check callers (its API_AUTH,
// AUTH_JWT_* and API_ADMIN_KEY_SECRET_ARN).
func (a *Auth) Env() map[string]*string {
	return map[string]*string{
		"API_AUTH":                 jsii.String(APIAuth),
		"AUTH_JWT_ISSUER":          a.Issuer,
		"AUTH_JWT_AUDIENCE":        a.Audience,
		"AUTH_JWT_ROLE_CLAIM":      jsii.String("cognito:groups"),
		"AUTH_JWT_SCOPE_ROLES":     jsii.String(apiauth.ScopeRoles),
		"API_ADMIN_KEY_SECRET_ARN": a.AdminKey.SecretArn(),
		"AUTH_JWT_JWKS":            a.JWKS.GetAttString(jsii.String("Jwks")),
	}
}

// jwksCopy is the handler of Custom::JobWeaverJWKS (Node.js, inline: it
// only fetches a public document). It keeps the fields a verifier needs
// and fails when the document lists no key, so a deploy never hands the
// api an empty key set.
const jwksCopy = `exports.handler = async (event) => {
  if (event.RequestType === "Delete") return { PhysicalResourceId: event.PhysicalResourceId };
  const url = event.ResourceProperties.Url;
  const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
  if (!res.ok) throw new Error("GET " + url + ": " + res.status);
  const keys = ((await res.json()).keys || []).map(({ kty, kid, alg, use, n, e, crv, x, y }) => ({ kty, kid, alg, use, n, e, crv, x, y }));
  if (keys.length === 0) throw new Error(url + " lists no keys");
  return { PhysicalResourceId: "jobweaver-jwks", Data: { Jwks: JSON.stringify({ keys }) } };
};
`

// NewAuth builds the user pool and the app clients of cfg.API.Clients.
func NewAuth(scope constructs.Construct, id string, cfg Config) *Auth {
	c := constructs.NewConstruct(scope, jsii.String(id))
	a := &Auth{Construct: c, Secrets: map[string]awssecretsmanager.Secret{}, Groups: map[string]awscognito.UserPoolGroup{}}
	removal := awscdk.RemovalPolicy_DESTROY
	if cfg.RetainData {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	a.UserPool = awscognito.NewUserPool(c, jsii.String("UserPool"), &awscognito.UserPoolProps{
		UserPoolName:       jsii.String(resourceName(cfg, "api")),
		SelfSignUpEnabled:  jsii.Bool(false),
		FeaturePlan:        awscognito.FeaturePlan_LITE, // machine-to-machine needs nothing more
		DeletionProtection: jsii.Bool(cfg.RetainData),
		RemovalPolicy:      removal,
	})
	read := awscognito.NewResourceServerScope(&awscognito.ResourceServerScopeProps{
		ScopeName: jsii.String("read"), ScopeDescription: jsii.String("the api's viewer role: every GET under /api/ but keys and audit"),
	})
	write := awscognito.NewResourceServerScope(&awscognito.ResourceServerScopeProps{
		ScopeName: jsii.String("write"), ScopeDescription: jsii.String("the api's operator role: submit and cancel jobs, DLQ actions, and read"),
	})
	server := a.UserPool.AddResourceServer(jsii.String("ResourceServer"), &awscognito.UserPoolResourceServerOptions{
		Identifier:                 jsii.String(apiauth.ResourceServer),
		UserPoolResourceServerName: jsii.String("JobWeaver API"),
		Scopes:                     &[]awscognito.ResourceServerScope{read, write},
	})
	// The domain prefix is global to the region: the account ID keeps two
	// accounts' stages apart.
	a.Domain = a.UserPool.AddDomain(jsii.String("Domain"), &awscognito.UserPoolDomainOptions{
		CognitoDomain: &awscognito.CognitoDomainOptions{
			DomainPrefix: awscdk.Fn_Join(jsii.String("-"), &[]*string{jsii.String("jobweaver-" + cfg.Stage), awscdk.Aws_ACCOUNT_ID()}),
		},
	})
	a.TokenUrl = awscdk.Fn_Join(jsii.String(""), &[]*string{a.Domain.BaseUrl(nil), jsii.String("/oauth2/token")})
	a.Issuer = a.UserPool.UserPoolProviderUrl()
	for i, role := range apiauth.Groups {
		a.Groups[role] = a.UserPool.AddGroup(jsii.String("Group"+title(role)), &awscognito.UserPoolGroupOptions{
			GroupName:   jsii.String(role),
			Description: jsii.String("JobWeaver API role " + role + " (docs/security.md): a member's tokens carry it in cognito:groups"),
			// A user in several groups: the highest role first (the api
			// takes the highest anyway).
			Precedence: jsii.Number(float64(len(apiauth.Groups) - i)),
		})
	}

	names := make([]string, 0, len(cfg.API.Clients))
	for name := range cfg.API.Clients {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		var oauthScopes []awscognito.OAuthScope
		var full []string
		for _, s := range cfg.API.Clients[name] {
			// The scope by name (what the routes ask for), not through the
			// resource server's Ref: the client depends on the server below.
			full = append(full, apiauth.ResourceServer+"/"+s)
			oauthScopes = append(oauthScopes, awscognito.OAuthScope_Custom(jsii.String(full[len(full)-1])))
		}
		client := a.UserPool.AddClient(jsii.String("Client"+title(name)), &awscognito.UserPoolClientOptions{
			UserPoolClientName:    jsii.String(resourceName(cfg, name)),
			GenerateSecret:        jsii.Bool(true),
			AuthFlows:             &awscognito.AuthFlow{User: jsii.Bool(false)}, // no user sign-in of any kind: ALLOW_REFRESH_TOKEN_AUTH alone
			AccessTokenValidity:   awscdk.Duration_Minutes(jsii.Number(float64(cfg.API.TokenValidityMinutes))),
			EnableTokenRevocation: jsii.Bool(true),
			OAuth: &awscognito.OAuthSettings{
				Flows:  &awscognito.OAuthFlows{ClientCredentials: jsii.Bool(true)},
				Scopes: &oauthScopes,
			},
		})
		client.Node().AddDependency(server)
		a.Clients = append(a.Clients, client)
		// The client secret is read at deploy time (a DescribeUserPoolClient
		// custom resource, with its response kept out of the logs) into the
		// client's own secret.
		a.Secrets[name] = awssecretsmanager.NewSecret(c, jsii.String("ClientSecret"+title(name)), &awssecretsmanager.SecretProps{
			SecretName:  jsii.String(apiauth.SecretName(cfg.Stage, name)),
			Description: jsii.String("JobWeaver " + cfg.Stage + " API app client " + name + ": client credentials for its token endpoint (make token)"),
			SecretObjectValue: &map[string]awscdk.SecretValue{
				"clientId":     awscdk.SecretValue_UnsafePlainText(client.UserPoolClientId()),
				"clientSecret": client.UserPoolClientSecret(),
				"tokenUrl":     awscdk.SecretValue_UnsafePlainText(a.TokenUrl),
				"scope":        awscdk.SecretValue_UnsafePlainText(jsii.String(strings.Join(full, " "))),
			},
			// Deleted with the stack in every stage: it only copies the app
			// client's credentials, which a stack created again replaces,
			// and make token finds it by this fixed name, which a retained
			// copy would hold.
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
	}
	ids := make([]*string, len(a.Clients))
	for i, cl := range a.Clients {
		ids[i] = cl.UserPoolClientId()
	}
	a.Audience = awscdk.Fn_Join(jsii.String(","), &ids)

	// Secrets Manager's generator cannot make a jw_ key (prefix and
	// checksum): this random value is replaced at deploy by the
	// provisioning function, before the api function runs.
	copyLogs := awslogs.NewLogGroup(c, jsii.String("JwksCopyLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays(cfg.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	copyFn := awslambda.NewFunction(c, jsii.String("JwksCopy"), &awslambda.FunctionProps{
		Description: jsii.String("JobWeaver deploy-time copy of the user pool's public keys for the api function (Custom::JobWeaverJWKS)"),
		Runtime:     awslambda.Runtime_NODEJS_22_X(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(jwksCopy)),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(30)),
		LogGroup:    copyLogs,
	})
	provider := customresources.NewProvider(c, jsii.String("JwksProvider"), &customresources.ProviderProps{
		OnEventHandler: copyFn,
		LogGroup:       copyLogs,
	})
	a.JWKS = awscdk.NewCustomResource(c, jsii.String("Jwks"), &awscdk.CustomResourceProps{
		ServiceToken: provider.ServiceToken(),
		ResourceType: jsii.String("Custom::JobWeaverJWKS"),
		Properties: &map[string]any{
			"Url":     awscdk.Fn_Join(jsii.String(""), &[]*string{a.Issuer, jsii.String("/.well-known/jwks.json")}),
			"Refresh": cfg.Refresh,
		},
	})

	a.AdminKey = awssecretsmanager.NewSecret(c, jsii.String("AdminKey"), &awssecretsmanager.SecretProps{
		SecretName:  jsii.String(apiauth.AdminKeySecretName(cfg.Stage)),
		Description: jsii.String("JobWeaver " + cfg.Stage + " API: the first admin API key (jw_...), made at deploy; make admin-key prints it"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true),
		},
		// As the clients' secrets: make admin-key finds it by this fixed
		// name. The key's hash stays in the api database; a stack created
		// again makes a new key, and the old one can be revoked.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	return a
}
