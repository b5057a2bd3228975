package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/kafka"
)

// topicsProps are Custom::JobWeaverTopics' properties: the topics to have,
// from shared/kafka.Topics at synth time. CloudFormation passes every
// number as a string.
type topicsProps struct {
	Topics []struct {
		Name       string `json:"Name"`
		Partitions string `json:"Partitions"`
	} `json:"Topics"`
}

func (p topicsProps) topics() ([]kafka.Topic, error) {
	if len(p.Topics) == 0 {
		return nil, errors.New("migrate: Topics is required")
	}
	out := make([]kafka.Topic, 0, len(p.Topics))
	for _, t := range p.Topics {
		n, err := strconv.ParseInt(t.Partitions, 10, 32)
		if err != nil || n < 1 || t.Name == "" {
			return nil, fmt.Errorf("migrate: bad topic %q with %q partitions", t.Name, t.Partitions)
		}
		out = append(out, kafka.Topic{Name: t.Name, Partitions: int32(n)})
	}
	return out, nil
}

// provisionTopics connects as KAFKA_BROKERS and KAFKA_AUTH say and makes
// the topics.
func (h *Handler) provisionTopics(ctx context.Context, p topicsProps) (map[string]any, error) {
	topics, err := p.topics()
	if err != nil {
		return nil, err
	}
	env := config.FromOS()
	cfg := kafka.ConfigFromEnv(env, "jobweaver-migrate")
	if err := env.Err(); err != nil {
		return nil, err
	}
	cl, err := kafka.NewProducer(cfg)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := EnsureTopics(ctx, h.log, cl, topics); err != nil {
		return nil, err
	}
	data := map[string]any{}
	for _, t := range topics {
		data[t.Name] = strconv.Itoa(int(t.Partitions))
	}
	return data, nil
}

// EnsureTopics creates the missing topics (shared/kafka.EnsureTopics) and
// adds partitions to an existing topic that has fewer than asked; a topic
// with more is left alone (Kafka cannot remove partitions) and logged.
func EnsureTopics(ctx context.Context, log *slog.Logger, cl *kgo.Client, topics []kafka.Topic) error {
	if err := kafka.EnsureTopics(ctx, cl, topics); err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("migrate: describe topics: %w", err)
	}
	for _, t := range topics {
		d, ok := details[t.Name]
		if !ok || d.Err != nil {
			return fmt.Errorf("migrate: topic %s missing after creation: %v", t.Name, d.Err)
		}
		have := int32(len(d.Partitions))
		switch {
		case have < t.Partitions:
			resp, err := adm.UpdatePartitions(ctx, int(t.Partitions), t.Name)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				return fmt.Errorf("migrate: grow %s from %d to %d partitions: %w", t.Name, have, t.Partitions, err)
			}
		case have > t.Partitions && log != nil:
			log.Warn("topic has more partitions than asked; left as it is",
				slog.String("topic", t.Name), slog.Int("have", int(have)), slog.Int("want", int(t.Partitions)))
		}
	}
	return nil
}
