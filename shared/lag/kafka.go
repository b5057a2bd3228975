package lag

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// Kafka reads the lag from the brokers: per mapping, the sum over its
// topic's partitions of the end offset minus the group's committed offset,
// or minus the partition's start offset where the group has committed
// nothing yet (a group that never consumed is behind by everything the
// topic holds). It does not join the groups, so reading disturbs no
// consumer.
type Kafka struct {
	Admin    *kadm.Client
	Mappings []Mapping
}

// Lag implements Reader. It fails if any offset cannot be read (an
// unreachable broker, a missing topic).
func (k *Kafka) Lag(ctx context.Context) ([]internalapi.Lag, error) {
	if k.Admin == nil {
		return nil, errors.New("lag: the Kafka reader has no admin client")
	}
	var topics, groups []string
	seen := map[string]bool{}
	for _, m := range k.Mappings {
		if !seen["t:"+m.Topic] {
			seen["t:"+m.Topic] = true
			topics = append(topics, m.Topic)
		}
		if !seen["g:"+m.Group] {
			seen["g:"+m.Group] = true
			groups = append(groups, m.Group)
		}
	}
	ends, err := k.Admin.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("lag: list the end offsets: %w", err)
	}
	starts, err := k.Admin.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("lag: list the start offsets: %w", err)
	}
	commits := k.Admin.FetchManyOffsets(ctx, groups...)
	for _, c := range commits {
		// A group that never joined has committed nothing: its lag is
		// everything its topic holds.
		if c.Err != nil && !errors.Is(c.Err, kerr.GroupIDNotFound) {
			return nil, fmt.Errorf("lag: fetch the committed offsets of %s: %w", c.Group, c.Err)
		}
	}
	out := make([]internalapi.Lag, 0, len(k.Mappings))
	for _, m := range k.Mappings {
		parts, ok := ends[m.Topic]
		if !ok {
			return nil, fmt.Errorf("lag: topic %s has no end offsets", m.Topic)
		}
		var total int64
		for p, end := range parts {
			from := starts[m.Topic][p].Offset
			if c, ok := commits[m.Group].Fetched.Lookup(m.Topic, p); ok && c.Err == nil && c.At >= 0 {
				from = c.At
			}
			total += max(end.Offset-from, 0)
		}
		out = append(out, entry(m, total))
	}
	return out, nil
}
