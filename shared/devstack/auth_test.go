package devstack

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/apigwtest"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// External brokers that take only SCRAM over TLS: every client the stack
// makes (topic creation, the functions' producers, the event-source
// mappings' consumers and the check that their groups settle) connects
// with KAFKA_AUTH and its settings, so the groups settle and a job runs
// to COMPLETED. A one-shot invocation beside the stack connects the same
// way.
func TestStackConnectsToBrokersWithKafkaAuth(t *testing.T) {
	caFile, cert := testCert(t)
	broker, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "jobweaver", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	brokers := strings.Join(broker.ListenAddrs(), ",")

	// The broker refuses a client without TLS and SCRAM.
	plain, err := kgo.NewClient(kgo.SeedBrokers(broker.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = plain.Ping(pctx)
	cancel()
	plain.Close()
	if err == nil {
		t.Fatal("a plaintext client reached the broker; the test proves nothing")
	}

	cfg := testConfigWith(t, map[string]string{
		"KAFKA_BROKERS": brokers, "KAFKA_AUTH": "scram", "KAFKA_TLS_CA_FILE": caFile,
		"KAFKA_SASL_USERNAME": "jobweaver", "KAFKA_SASL_PASSWORD": "s3cret",
	})
	s := start(t, cfg)
	waitStatus(t, s.APIURL, submit(t, s.APIURL), "COMPLETED")

	// InvokeOnce uses the running stack's brokers with the same settings:
	// the api it builds publishes the new job's event.
	var logs bytes.Buffer
	once := cfg
	once.Logs = &logs
	out, err := InvokeOnce(context.Background(), once, invoke.API, postEvent(t, submission), nil)
	if err != nil {
		t.Fatalf("InvokeOnce while running: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	var job map[string]any
	if err := json.Unmarshal(out, &resp); err != nil || json.Unmarshal([]byte(resp.Body), &job) != nil || resp.StatusCode != 202 {
		t.Fatalf("POST via InvokeOnce = %s", out)
	}
	if strings.Contains(logs.String(), "publish failed") {
		t.Errorf("InvokeOnce's api could not publish:\n%s", logs.String())
	}
	id2, _ := job["jobId"].(string)
	waitStatus(t, s.APIURL, id2, "COMPLETED")
}

func postEvent(t *testing.T, body string) []byte {
	t.Helper()
	return apigwtest.Payload(t, http.MethodPost, "/api/jobs", body)
}

// testCert returns a CA file and a server certificate for 127.0.0.1
// signed by it: net/http/httptest's self-signed test certificate.
func testCert(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, srv.TLS.Certificates[0]
}
