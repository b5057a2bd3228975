// Package kafka builds the platform's franz-go clients, creates the
// lifecycle topics, and converts between franz-go records and the
// aws-lambda-go Kafka event that Lambda's event-source mapping delivers.
package kafka

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/envelope"
)

// Config selects the brokers a client talks to and how it connects to
// them. The zero value of the security fields is plaintext without
// authentication; see Auth and Opts.
type Config struct {
	Brokers  []string
	ClientID string

	// Auth is KAFKA_AUTH: AuthNone ("" too), AuthTLS, AuthIAM or AuthSCRAM.
	Auth Auth
	// TLSCAFile (KAFKA_TLS_CA_FILE) is a PEM file of the CAs to trust
	// instead of the system roots, for tls, iam and scram.
	TLSCAFile string
	// SASLMechanism (KAFKA_SASL_MECHANISM: SCRAM-SHA-512, the default, or
	// SCRAM-SHA-256), SASLUsername (KAFKA_SASL_USERNAME) and SASLPassword
	// (KAFKA_SASL_PASSWORD) are for scram.
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string
	// Credentials sign AWS_MSK_IAM sessions for iam; nil means the AWS
	// SDK's default credential chain. Not read from the environment.
	Credentials aws.CredentialsProvider
}

// ConfigFromEnv reads KAFKA_BROKERS (comma-separated host:port) and
// KAFKA_AUTH (none, the default; tls; iam; scram) with the settings the
// chosen one needs: KAFKA_TLS_CA_FILE (optional, for tls, iam and scram),
// KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (for
// scram). A missing or bad value is recorded in env.Err, in one line that
// names the variable.
func ConfigFromEnv(env *config.Env, clientID string) Config {
	b := env.Required("KAFKA_BROKERS")
	var brokers []string
	for _, s := range strings.Split(b, ",") {
		if s = strings.TrimSpace(s); s != "" {
			brokers = append(brokers, s)
		}
	}
	c := Config{Brokers: brokers, ClientID: clientID}
	readAuthEnv(env, &c)
	return c
}

// Topic is a topic with its partition count.
type Topic struct {
	Name       string
	Partitions int32
}

// Topics are the lifecycle topics. job-created is keyed by job ID and has
// several partitions so that ingestion scales out.
var Topics = []Topic{
	{envelope.TopicJobCreated, 6},
	{envelope.TopicRunJob, 6},
	{envelope.TopicJobCompleted, 6},
	{envelope.TopicJobFailed, 6},
	{envelope.TopicJobDeadLetter, 3},
}

// TopicNames lists the lifecycle topic names.
func TopicNames() []string {
	out := make([]string, len(Topics))
	for i, t := range Topics {
		out[i] = t.Name
	}
	return out
}

// NewProducer returns a client for producing: idempotent, acks=all, and no
// linger, since every hop of a job's flow waits on a produce. It connects
// as cfg.Opts says (TLS, SASL); opts come last and win.
func NewProducer(cfg Config, opts ...kgo.Opt) (*kgo.Client, error) {
	security, err := cfg.Opts()
	if err != nil {
		return nil, err
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(MaxRecordBytes),
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}
	if cfg.ClientID != "" {
		base = append(base, kgo.ClientID(cfg.ClientID))
	}
	base = append(base, security...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client for %v: %w", cfg.Brokers, err)
	}
	return cl, nil
}

// EnsureTopics creates the lifecycle topics that are missing, with their
// partition counts. Existing topics are left as they are.
func EnsureTopics(ctx context.Context, cl *kgo.Client, topics []Topic) error {
	adm := kadm.NewClient(cl)
	for _, t := range topics {
		resp, err := adm.CreateTopic(ctx, t.Partitions, -1, nil, t.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", t.Name, err)
		}
	}
	return nil
}

// Record turns an envelope into a record keyed by job ID with the trace,
// event and type headers, and traceparent when the envelope has one.
func Record(e envelope.Envelope) *kgo.Record {
	r := &kgo.Record{
		Topic: e.Topic(),
		Value: e.Marshal(),
		Headers: []kgo.RecordHeader{
			{Key: "traceId", Value: []byte(e.TraceID)},
			{Key: "eventId", Value: []byte(e.EventID)},
			{Key: "type", Value: []byte(e.Type)},
		},
	}
	if e.JobID != "" {
		r.Key = []byte(e.JobID)
	}
	if e.TraceParent != "" {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte(e.TraceParent)})
	}
	return r
}

// ToLambda converts a fetched record to the shape Lambda delivers: key and
// value base64, headers as byte arrays.
func ToLambda(r *kgo.Record) events.KafkaRecord {
	kr := events.KafkaRecord{
		Topic:         r.Topic,
		Partition:     int64(r.Partition),
		Offset:        r.Offset,
		Timestamp:     events.MilliSecondsEpochTime{Time: r.Timestamp},
		TimestampType: "CREATE_TIME",
		Value:         base64.StdEncoding.EncodeToString(r.Value),
		Headers:       make([]map[string]events.JSONNumberBytes, 0, len(r.Headers)),
	}
	if r.Key != nil {
		kr.Key = base64.StdEncoding.EncodeToString(r.Key)
	}
	for _, h := range r.Headers {
		kr.Headers = append(kr.Headers, map[string]events.JSONNumberBytes{h.Key: h.Value})
	}
	return kr
}

// Event groups records into the event an MSK or self-managed Kafka
// event-source mapping sends: records keyed by "topic-partition".
func Event(source string, rs []*kgo.Record) events.KafkaEvent {
	ev := events.KafkaEvent{EventSource: "aws:kafka", EventSourceARN: source, Records: map[string][]events.KafkaRecord{}}
	for _, r := range rs {
		k := fmt.Sprintf("%s-%d", r.Topic, r.Partition)
		ev.Records[k] = append(ev.Records[k], ToLambda(r))
	}
	return ev
}

// Flatten lists an event's records in topic, partition, offset order.
func Flatten(ev events.KafkaEvent) []events.KafkaRecord {
	var out []events.KafkaRecord
	for _, rs := range ev.Records {
		out = append(out, rs...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	return out
}

// Header returns the first header named key, or "".
func Header(r events.KafkaRecord, key string) string {
	for _, h := range r.Headers {
		if v, ok := h[key]; ok {
			return string(v)
		}
	}
	return ""
}

// Decode decodes a Lambda Kafka record's value into an envelope. Errors
// wrap envelope.ErrInvalid: such a record is poison and must not be retried.
func Decode(r events.KafkaRecord) (envelope.Envelope, error) {
	b, err := base64.StdEncoding.DecodeString(r.Value)
	if err != nil {
		return envelope.Envelope{}, fmt.Errorf("%w: value is not base64: %v", envelope.ErrInvalid, err)
	}
	e, err := envelope.Decode(b)
	if err == nil {
		e.TraceParent = Header(r, "traceparent")
	}
	return e, err
}
