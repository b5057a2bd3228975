package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/jobweaver/jobweaver/shared/config"
)

// TestConfigFromEnvSelectsAuth: KAFKA_AUTH and its settings -> the TLS and
// SASL options every client gets, or one line naming the bad variable.
func TestConfigFromEnvSelectsAuth(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	caPEM, _ := testCA(t)
	if err := os.WriteFile(ca, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		env       map[string]string
		tls       bool
		customCA  bool
		mechanism string // "" = no SASL
		envErr    string // from ConfigFromEnv (env.Err)
		optsErr   string // from Opts
	}{
		{name: "unset is none", env: map[string]string{}},
		{name: "none", env: map[string]string{"KAFKA_AUTH": "none"}},
		{name: "blank is none", env: map[string]string{"KAFKA_AUTH": " "}},
		{name: "tls", env: map[string]string{"KAFKA_AUTH": "tls"}, tls: true},
		{name: "upper case", env: map[string]string{"KAFKA_AUTH": "TLS"}, tls: true},
		{name: "tls with a CA file", env: map[string]string{"KAFKA_AUTH": "tls", "KAFKA_TLS_CA_FILE": ca}, tls: true, customCA: true},
		{name: "iam implies TLS", env: map[string]string{"KAFKA_AUTH": "iam"}, tls: true, mechanism: "AWS_MSK_IAM"},
		{name: "scram defaults to SHA-512", env: map[string]string{"KAFKA_AUTH": "scram", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			tls: true, mechanism: "SCRAM-SHA-512"},
		{name: "scram SHA-256", env: map[string]string{"KAFKA_AUTH": "scram", "KAFKA_SASL_MECHANISM": "scram-sha-256", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			tls: true, mechanism: "SCRAM-SHA-256"},
		{name: "CA file ignored without TLS", env: map[string]string{"KAFKA_TLS_CA_FILE": "/nonexistent"}},
		{name: "bad value", env: map[string]string{"KAFKA_AUTH": "plain"},
			envErr: `config: KAFKA_AUTH must be one of none, tls, iam or scram (got "plain")`},
		{name: "sasl is not a value", env: map[string]string{"KAFKA_AUTH": "sasl_ssl"},
			envErr: `config: KAFKA_AUTH must be one of none, tls, iam or scram (got "sasl_ssl")`},
		{name: "scram without user", env: map[string]string{"KAFKA_AUTH": "scram", "KAFKA_SASL_PASSWORD": "p"},
			envErr: "config: KAFKA_SASL_USERNAME is required but not set"},
		{name: "scram bad mechanism", env: map[string]string{"KAFKA_AUTH": "scram", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
			envErr: `config: KAFKA_SASL_MECHANISM must be one of scram-sha-512 or scram-sha-256 (got "PLAIN")`},
		{name: "missing CA file", env: map[string]string{"KAFKA_AUTH": "iam", "KAFKA_TLS_CA_FILE": "/nonexistent/ca.pem"},
			optsErr: "kafka: KAFKA_TLS_CA_FILE: open /nonexistent/ca.pem: no such file or directory"},
		{name: "CA file without PEM", env: map[string]string{"KAFKA_AUTH": "tls", "KAFKA_TLS_CA_FILE": "auth_test.go"},
			optsErr: "kafka: KAFKA_TLS_CA_FILE: no PEM certificate in auth_test.go"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]string{"KAFKA_BROKERS": "b-1.example:9098, b-2.example:9098"}
			for k, v := range c.env {
				m[k] = v
			}
			env := config.FromMap(m)
			cfg := ConfigFromEnv(env, "test-client")
			if got := errString(env.Err()); got != c.envErr {
				t.Fatalf("env error %q; want %q", got, c.envErr)
			}
			if c.envErr != "" {
				if strings.Contains(c.envErr, "\n") {
					t.Fatalf("error is not one line")
				}
				return
			}
			if len(cfg.Brokers) != 2 || cfg.Brokers[1] != "b-2.example:9098" || cfg.ClientID != "test-client" {
				t.Fatalf("brokers %q, client %q", cfg.Brokers, cfg.ClientID)
			}
			opts, err := cfg.Opts()
			if got := errString(err); got != c.optsErr {
				t.Fatalf("Opts error %q; want %q", got, c.optsErr)
			}
			if err != nil {
				if _, perr := NewProducer(cfg); errString(perr) != c.optsErr {
					t.Fatalf("NewProducer error %q; want the Opts error", errString(perr))
				}
				return
			}
			// Read the options back from a client (it dials nothing yet).
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			tlsCfg, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config)
			if (tlsCfg != nil) != c.tls {
				t.Errorf("TLS on = %v; want %v", tlsCfg != nil, c.tls)
			}
			if tlsCfg != nil {
				if tlsCfg.MinVersion != tls.VersionTLS12 {
					t.Errorf("TLS MinVersion %x", tlsCfg.MinVersion)
				}
				if (tlsCfg.RootCAs != nil) != c.customCA {
					t.Errorf("custom CA pool = %v; want %v", tlsCfg.RootCAs != nil, c.customCA)
				}
			}
			mechs, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
			var names []string
			for _, m := range mechs {
				names = append(names, m.Name())
			}
			if got := strings.Join(names, ","); got != c.mechanism {
				t.Errorf("SASL mechanisms %q; want %q", got, c.mechanism)
			}
			// The producer gets the same options.
			prod, err := NewProducer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			ptls, _ := prod.OptValue(kgo.DialTLSConfig).(*tls.Config)
			pmechs, _ := prod.OptValue(kgo.SASL).([]sasl.Mechanism)
			if (ptls != nil) != c.tls || len(pmechs) != len(mechs) {
				t.Errorf("producer: TLS %v, %d mechanisms; want %v, %d", ptls != nil, len(pmechs), c.tls, len(mechs))
			}
		})
	}
}

func TestOptsRejectsUnknownAuth(t *testing.T) {
	_, err := Config{Auth: "kerberos"}.Opts()
	if want := `kafka: KAFKA_AUTH must be one of none, tls, iam or scram (got "kerberos")`; errString(err) != want {
		t.Fatalf("Opts error %q; want %q", errString(err), want)
	}
	if _, err := (Config{Auth: AuthSCRAM}).Opts(); err == nil {
		t.Fatal("scram without a user: no error")
	}
	opts, err := Config{}.Opts()
	if err != nil || len(opts) != 0 {
		t.Fatalf("zero Config: %d options, %v; want none", len(opts), err)
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		auth Auth
		want string
	}{
		{"", "none (plaintext)"},
		{AuthTLS, "tls (TLS, no SASL)"},
		{AuthIAM, "iam (TLS, SASL AWS_MSK_IAM)"},
		{AuthSCRAM, "scram (TLS, SASL SCRAM-SHA-512)"},
		{"something", "something"},
	} {
		if got := (Config{Auth: c.auth}).Describe(); got != c.want {
			t.Errorf("%q: %q; want %q", c.auth, got, c.want)
		}
	}
}

// iamChallenge runs the AWS_MSK_IAM mechanism's first step for host and
// returns the signed challenge it would send.
func iamChallenge(t *testing.T, cfg Config, host string) map[string]string {
	t.Helper()
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(host)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	mechs := cl.OptValue(kgo.SASL).([]sasl.Mechanism)
	_, msg, err := mechs[0].Authenticate(context.Background(), host)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	var ch map[string]string
	if err := json.Unmarshal(msg, &ch); err != nil {
		t.Fatalf("challenge %s: %v", msg, err)
	}
	return ch
}

const mskHost = "b-1.jobweaver.a1b2c3.c2.kafka.eu-west-1.amazonaws.com:9098"

func TestIAMSignsWithGivenCredentials(t *testing.T) {
	cfg := Config{Auth: AuthIAM, Credentials: credentials.NewStaticCredentialsProvider("AKIDGIVEN", "secret", "session-1")}
	ch := iamChallenge(t, cfg, mskHost)
	if !strings.HasPrefix(ch["x-amz-credential"], "AKIDGIVEN/") || !strings.HasSuffix(ch["x-amz-credential"], "/eu-west-1/kafka-cluster/aws4_request") {
		t.Errorf("x-amz-credential %q", ch["x-amz-credential"])
	}
	if ch["x-amz-security-token"] != "session-1" || ch["action"] != "kafka-cluster:Connect" || ch["x-amz-signature"] == "" {
		t.Errorf("challenge %v", ch)
	}
}

// With no Credentials, IAM uses the SDK's default chain: here the
// environment variables, as in Lambda (the role's keys are in the
// function's environment). The region comes from AWS_REGION when the host
// does not name one.
func TestIAMUsesTheDefaultCredentialChain(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
	t.Setenv("AWS_SESSION_TOKEN", "token-from-env")
	t.Setenv("AWS_REGION", "ap-southeast-2")

	env := config.FromMap(map[string]string{"KAFKA_BROKERS": "broker.internal:9098", "KAFKA_AUTH": "iam"})
	cfg := ConfigFromEnv(env, "c")
	if env.Err() != nil {
		t.Fatal(env.Err())
	}
	ch := iamChallenge(t, cfg, "broker.internal:9098")
	if !strings.HasPrefix(ch["x-amz-credential"], "AKIDFROMENV/") || !strings.Contains(ch["x-amz-credential"], "/ap-southeast-2/kafka-cluster/") {
		t.Errorf("x-amz-credential %q", ch["x-amz-credential"])
	}
	if ch["x-amz-security-token"] != "token-from-env" {
		t.Errorf("x-amz-security-token %q", ch["x-amz-security-token"])
	}
}

func TestIAMWithoutCredentialsFailsTheSession(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	opts, err := Config{Auth: AuthIAM}.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(mskHost)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _, err = cl.OptValue(kgo.SASL).([]sasl.Mechanism)[0].Authenticate(ctx, mskHost)
	if err == nil || !strings.Contains(err.Error(), "KAFKA_AUTH=iam") {
		t.Fatalf("Authenticate without credentials: %v; want an error naming KAFKA_AUTH=iam", err)
	}
}

// Against a real TLS listener (kfake) with SCRAM users: the options
// connect with the right CA and password, and fail without them.
func TestTLSAndSCRAMAgainstABroker(t *testing.T) {
	caPEM, serverCert := testCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsOnly, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tlsOnly.Close)
	withSCRAM, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "jobweaver", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(withSCRAM.Close)

	for _, c := range []struct {
		name    string
		brokers []string
		env     map[string]string
		ok      bool
	}{
		{"tls with the CA", tlsOnly.ListenAddrs(), map[string]string{"KAFKA_AUTH": "tls", "KAFKA_TLS_CA_FILE": caFile}, true},
		{"tls without the CA", tlsOnly.ListenAddrs(), map[string]string{"KAFKA_AUTH": "tls"}, false},
		{"plaintext to a TLS listener", tlsOnly.ListenAddrs(), map[string]string{}, false},
		{"scram", withSCRAM.ListenAddrs(), map[string]string{"KAFKA_AUTH": "scram", "KAFKA_TLS_CA_FILE": caFile,
			"KAFKA_SASL_USERNAME": "jobweaver", "KAFKA_SASL_PASSWORD": "s3cret"}, true},
		{"scram, wrong password", withSCRAM.ListenAddrs(), map[string]string{"KAFKA_AUTH": "scram", "KAFKA_TLS_CA_FILE": caFile,
			"KAFKA_SASL_USERNAME": "jobweaver", "KAFKA_SASL_PASSWORD": "wrong"}, false},
		{"tls only, to a SCRAM listener", withSCRAM.ListenAddrs(), map[string]string{"KAFKA_AUTH": "tls", "KAFKA_TLS_CA_FILE": caFile}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := map[string]string{"KAFKA_BROKERS": strings.Join(c.brokers, ",")}
			for k, v := range c.env {
				m[k] = v
			}
			env := config.FromMap(m)
			cfg := ConfigFromEnv(env, "auth-test")
			if env.Err() != nil {
				t.Fatal(env.Err())
			}
			prod, err := NewProducer(cfg, kgo.RecordDeliveryTimeout(1500*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = prod.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("hello")}).FirstErr()
			if c.ok && err != nil {
				t.Fatalf("produce: %v", err)
			}
			if !c.ok && err == nil {
				t.Fatal("produce succeeded; want a failure")
			}
		})
	}
}

// testCA returns a CA certificate (PEM) and a server certificate it signed
// for 127.0.0.1 and localhost.
func testCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jobweaver test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
