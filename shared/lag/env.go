package lag

import (
	"context"
	"errors"
	"fmt"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/flow"
)

// Sources of LAG_SOURCE.
const (
	SourceNone       = "none"
	SourceKafka      = "kafka"
	SourceCloudWatch = "cloudwatch"
)

// DefaultGroupPrefix is the local stacks' consumer group prefix.
const DefaultGroupPrefix = "jobweaver-"

// Settings choose and configure a function's Reader.
type Settings struct {
	Source      string            // LAG_SOURCE
	GroupPrefix string            // KAFKA_GROUP_PREFIX
	UUIDs       map[string]string // LAG_MAPPINGS: topic → event-source mapping UUID
}

// SettingsFromEnv reads LAG_SOURCE (none, the default; kafka: the brokers
// of KAFKA_BROKERS; cloudwatch: the deployed mappings' OffsetLag),
// KAFKA_GROUP_PREFIX (default jobweaver-; the CDK sets
// jobweaver-<stage>-) and, for cloudwatch, LAG_MAPPINGS: each route's
// mapping UUID as topic=uuid, comma-separated, one for every topic of the
// flow table. A bad value is recorded in env.Err.
func SettingsFromEnv(env *config.Env) Settings {
	s := Settings{
		Source:      strings.ToLower(env.String("LAG_SOURCE", SourceNone)),
		GroupPrefix: env.String("KAFKA_GROUP_PREFIX", DefaultGroupPrefix),
	}
	switch s.Source {
	case SourceNone, SourceKafka:
	case SourceCloudWatch:
		s.UUIDs = map[string]string{}
		for _, pair := range env.List("LAG_MAPPINGS", nil) {
			topic, uuid, ok := strings.Cut(pair, "=")
			topic, uuid = strings.TrimSpace(topic), strings.TrimSpace(uuid)
			if _, known := flow.ByTopic(topic); !ok || !known || uuid == "" {
				env.Report(config.Invalid("LAG_MAPPINGS", "topic=uuid pairs for the topics "+strings.Join(flow.Topics(), ", "), pair))
				return s
			}
			s.UUIDs[topic] = uuid
		}
		for _, t := range flow.Topics() {
			if s.UUIDs[t] == "" {
				env.Report(config.Invalid("LAG_MAPPINGS", "a topic=uuid pair for every topic; "+t+" has none", env.String("LAG_MAPPINGS", "")))
				return s
			}
		}
	default:
		env.Report(config.Invalid("LAG_SOURCE", "none, kafka or cloudwatch", s.Source))
	}
	return s
}

// New builds the Reader s names: nil for none; for kafka, one over client
// (the function's own, such as its producer: admin requests only); for
// cloudwatch, a CloudWatch client from the default AWS configuration
// chain, with each mapping's deployed function name from functions (by
// flow consumer name: scheduler, worker, dlq).
func New(ctx context.Context, s Settings, functions map[string]string, client *kgo.Client) (Reader, error) {
	maps := Mappings(s.GroupPrefix)
	switch s.Source {
	case SourceKafka:
		if client == nil {
			return nil, errors.New("lag: LAG_SOURCE=kafka needs a Kafka client")
		}
		return &Kafka{Admin: kadm.NewClient(client), Mappings: maps}, nil
	case SourceCloudWatch:
		for i := range maps {
			maps[i].Function, maps[i].UUID = functions[maps[i].Consumer], s.UUIDs[maps[i].Topic]
			if maps[i].Function == "" || maps[i].UUID == "" {
				return nil, fmt.Errorf("lag: the %s mapping has no function name or UUID", maps[i].Topic)
			}
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("lag: load AWS configuration: %w", err)
		}
		return &CloudWatch{Client: cloudwatch.NewFromConfig(cfg), Mappings: maps}, nil
	}
	return nil, nil
}
