package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	awssasl "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/jobweaver/jobweaver/shared/config"
)

// Auth is how a client connects to the brokers: KAFKA_AUTH.
type Auth string

// The values of KAFKA_AUTH. The ports are Amazon MSK's.
const (
	// AuthNone is plaintext without authentication: local brokers (the
	// embedded one, Redpanda in compose). The default.
	AuthNone Auth = "none"
	// AuthTLS is TLS, verifying the brokers' certificates, without client
	// authentication (MSK port 9094).
	AuthTLS Auth = "tls"
	// AuthIAM is TLS with SASL AWS_MSK_IAM, signed with the credentials of
	// the AWS SDK's default chain: in Lambda, the function's role (MSK
	// port 9098). The region is taken from the broker host names, else
	// AWS_REGION.
	AuthIAM Auth = "iam"
	// AuthSCRAM is TLS with SASL SCRAM (KAFKA_SASL_MECHANISM, default
	// SCRAM-SHA-512 as MSK uses) and KAFKA_SASL_USERNAME /
	// KAFKA_SASL_PASSWORD (MSK port 9096).
	AuthSCRAM Auth = "scram"
)

// SASL mechanism names.
const (
	MechanismIAM         = "AWS_MSK_IAM"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
)

var authValues = []string{string(AuthNone), string(AuthTLS), string(AuthIAM), string(AuthSCRAM)}

// readAuthEnv reads KAFKA_AUTH and the settings it needs into c; bad or
// missing values are recorded in env.
func readAuthEnv(env *config.Env, c *Config) {
	c.Auth = Auth(env.OneOf("KAFKA_AUTH", string(AuthNone), authValues...))
	if c.Auth == AuthNone {
		return
	}
	c.TLSCAFile = env.String("KAFKA_TLS_CA_FILE", "")
	if c.Auth == AuthSCRAM {
		c.SASLMechanism = strings.ToUpper(env.OneOf("KAFKA_SASL_MECHANISM", strings.ToLower(MechanismSCRAMSHA512),
			strings.ToLower(MechanismSCRAMSHA512), strings.ToLower(MechanismSCRAMSHA256)))
		c.SASLUsername = env.Required("KAFKA_SASL_USERNAME")
		c.SASLPassword = env.Required("KAFKA_SASL_PASSWORD")
	}
}

// Opts returns the franz-go options that connect with c's security
// settings: TLS (kgo.DialTLSConfig) and SASL (kgo.SASL), or none for
// AuthNone. They hold neither brokers nor a client ID, so that any client
// of the platform can add them: NewProducer does, and consumers pass them
// as well (esm.Mapping.ClientOpts). An unknown Auth, an unreadable CA file
// or a SCRAM setting left out is an error naming its variable.
func (c Config) Opts() ([]kgo.Opt, error) {
	tlsCfg, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	var opts []kgo.Opt
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// Describe says how c connects, for start-up logs: "none", "tls",
// "iam (TLS, SASL AWS_MSK_IAM)", ...
func (c Config) Describe() string {
	switch c.auth() {
	case AuthNone:
		return "none (plaintext)"
	case AuthTLS:
		return "tls (TLS, no SASL)"
	case AuthIAM:
		return "iam (TLS, SASL " + MechanismIAM + ")"
	case AuthSCRAM:
		return "scram (TLS, SASL " + c.scramMechanism() + ")"
	}
	return string(c.Auth)
}

func (c Config) auth() Auth {
	if c.Auth == "" {
		return AuthNone
	}
	return Auth(strings.ToLower(string(c.Auth)))
}

func (c Config) scramMechanism() string {
	if c.SASLMechanism == "" {
		return MechanismSCRAMSHA512
	}
	return strings.ToUpper(c.SASLMechanism)
}

// security returns the TLS configuration (nil: plaintext) and the SASL
// mechanism (nil: none) of c.
func (c Config) security() (*tls.Config, sasl.Mechanism, error) {
	a := c.auth()
	if a == AuthNone {
		return nil, nil, nil
	}
	if a != AuthTLS && a != AuthIAM && a != AuthSCRAM {
		return nil, nil, fmt.Errorf("kafka: KAFKA_AUTH must be one of none, tls, iam or scram (got %q)", string(c.Auth))
	}
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, nil, err
	}
	switch a {
	case AuthIAM:
		return tlsCfg, awssasl.ManagedStreamingIAM(newIAMAuth(c.Credentials)), nil
	case AuthSCRAM:
		if c.SASLUsername == "" || c.SASLPassword == "" {
			return nil, nil, errors.New("kafka: KAFKA_AUTH=scram needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
		}
		auth := scram.Auth{User: c.SASLUsername, Pass: c.SASLPassword}
		switch m := c.scramMechanism(); m {
		case MechanismSCRAMSHA512:
			return tlsCfg, auth.AsSha512Mechanism(), nil
		case MechanismSCRAMSHA256:
			return tlsCfg, auth.AsSha256Mechanism(), nil
		default:
			return nil, nil, fmt.Errorf("kafka: KAFKA_SASL_MECHANISM must be %s or %s (got %q)", MechanismSCRAMSHA512, MechanismSCRAMSHA256, c.SASLMechanism)
		}
	}
	return tlsCfg, nil, nil
}

// tlsConfig verifies the brokers against the system roots, or against
// TLSCAFile's certificates instead. franz-go sets the server name to each
// broker's host.
func (c Config) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(c.TLSCAFile)
	if err != nil {
		return nil, fmt.Errorf("kafka: KAFKA_TLS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("kafka: KAFKA_TLS_CA_FILE: no PEM certificate in %s", c.TLSCAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// newIAMAuth returns the callback franz-go calls for every SASL session:
// fresh credentials from p or, when p is nil, from the AWS SDK's default
// chain (environment, shared files, container or instance role; in Lambda
// the function's role), loaded on first use and cached by the SDK until
// they near expiry. A failure to load is retried at the next session.
func newIAMAuth(p aws.CredentialsProvider) func(context.Context) (awssasl.Auth, error) {
	var (
		mu    sync.Mutex
		creds aws.CredentialsProvider
	)
	if p != nil {
		if _, ok := p.(*aws.CredentialsCache); ok {
			creds = p
		} else {
			creds = aws.NewCredentialsCache(p)
		}
	}
	provider := func(ctx context.Context) (aws.CredentialsProvider, error) {
		mu.Lock()
		defer mu.Unlock()
		if creds != nil {
			return creds, nil
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("kafka: KAFKA_AUTH=iam: load AWS configuration: %w", err)
		}
		if cfg.Credentials == nil {
			return nil, errors.New("kafka: KAFKA_AUTH=iam: the AWS default credential chain has no credentials")
		}
		creds = cfg.Credentials
		return creds, nil
	}
	return func(ctx context.Context) (awssasl.Auth, error) {
		p, err := provider(ctx)
		if err != nil {
			return awssasl.Auth{}, err
		}
		v, err := p.Retrieve(ctx)
		if err != nil {
			return awssasl.Auth{}, fmt.Errorf("kafka: KAFKA_AUTH=iam: retrieve AWS credentials: %w", err)
		}
		return awssasl.Auth{AccessKey: v.AccessKeyID, SecretKey: v.SecretAccessKey, SessionToken: v.SessionToken}, nil
	}
}
