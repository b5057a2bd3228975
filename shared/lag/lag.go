// Package lag reads how far each event-source mapping is behind its topic:
// for each route of the flow table (shared/flow), the records written to
// the topic that the mapping's consumer group has not committed yet. GET
// /api/system shows it.
//
// Two readers implement [Reader]:
//   - [Kafka] asks the brokers (franz-go's kadm): the end offset of every
//     partition minus the group's committed offset (or, before its first
//     commit, the partition's start). The local stack uses it over its
//     embedded broker.
//   - [CloudWatch] reads the AWS/Lambda OffsetLag metric of each deployed
//     Kafka event-source mapping (GetMetricData): in AWS, where the
//     mappings' pollers are Lambda's and the cluster is MSK.
package lag

import (
	"context"

	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/internalapi"
)

// Reader reads the lag of every mapping, one entry per mapping in the
// flow table's order.
type Reader interface {
	Lag(ctx context.Context) ([]internalapi.Lag, error)
}

// Mapping is one event-source mapping: the route it serves and, in AWS,
// what CloudWatch knows it by.
type Mapping struct {
	Consumer string // the function the mapping invokes (flow's name: scheduler, worker, dlq)
	Topic    string
	Group    string // its consumer group
	// Function is the deployed function's name (CloudWatch's
	// FunctionName); UUID is the mapping's ID (its
	// EventSourceMappingUUID). The Kafka reader needs neither.
	Function string
	UUID     string
}

// Mappings returns one mapping per route of the flow table, in its
// order, with the consumer groups route.Group(groupPrefix) names
// ("jobweaver-" locally, "jobweaver-<stage>-" in AWS).
func Mappings(groupPrefix string) []Mapping {
	out := make([]Mapping, len(flow.Routes))
	for i, r := range flow.Routes {
		out[i] = Mapping{Consumer: r.Consumer, Topic: r.Topic, Group: r.Group(groupPrefix)}
	}
	return out
}

// entry is m's lag as the API shows it.
func entry(m Mapping, n int64) internalapi.Lag {
	return internalapi.Lag{Consumer: m.Consumer, Topic: m.Topic, Group: m.Group, Lag: n}
}
