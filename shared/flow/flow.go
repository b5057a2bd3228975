// Package flow is the one table of the platform's lifecycle routes: for
// each Kafka topic, the functions that produce it, the function whose
// event-source mapping consumes it, that mapping's consumer group and
// its batching defaults.
//
// Every deployment derives its wiring from [Routes]: the local stack's
// mappings (shared/devstack), the LocalStack deploy and bridge
// (localstack/stack, localstack/deploy, localstack/bridge), and the
// CDK's mappings, consume grants and produce grants (infra). Their tests
// check that what they build agrees with the table, and
// docs/architecture.md's "Follow one job" shows it.
//
// The package imports nothing but shared/envelope's topic names, so that
// any binary may link it; the functions themselves do not need it.
package flow

import "github.com/jobweaver/jobweaver/shared/envelope"

// The platform's functions, as named in shared/invoke and in the deployed
// function names (<prefix><function>).
const (
	API       = "api"
	Scheduler = "scheduler"
	Worker    = "worker"
	DLQ       = "dlq"
)

// Redriver is the function that produces again, on any topic, the records
// of a batch a mapping gave up on (shared/dlq HandleSQS): it writes and
// reads every topic besides those of its own routes.
const Redriver = DLQ

// Route is one lifecycle topic: who writes it, and the one mapping that
// reads it.
type Route struct {
	Topic string
	// Producers are the functions whose outbox writes the topic (besides
	// the Redriver, which may write any topic).
	Producers []string
	// Consumer is the function the topic's event-source mapping invokes.
	Consumer string
	// BatchSize and BatchWindowSeconds are the mapping's batching in AWS
	// (the stages in cdk.json start from them; the dev stage uses them
	// as they are).
	BatchSize          int
	BatchWindowSeconds int
}

// Group is the route's consumer group: prefix + consumer + "-" + topic.
// The local stacks use the prefix "jobweaver-", the CDK
// "jobweaver-<stage>-".
func (r Route) Group(prefix string) string { return prefix + r.Consumer + "-" + r.Topic }

// Routes are the lifecycle routes, one per topic, in the order a job
// travels them (and shared/kafka.Topics' order).
var Routes = []Route{
	// The job topics: no batching window (Lambda's default would wait
	// 500 ms to fill a batch); a worker's batch is the attempts it runs
	// at once (and sets the scheduler's in-flight bound, infra InFlight).
	{Topic: envelope.TopicJobCreated, Producers: []string{API}, Consumer: Scheduler, BatchSize: 500},
	{Topic: envelope.TopicRunJob, Producers: []string{Scheduler}, Consumer: Worker, BatchSize: 500},
	{Topic: envelope.TopicJobCompleted, Producers: []string{Worker}, Consumer: Scheduler, BatchSize: 500},
	{Topic: envelope.TopicJobFailed, Producers: []string{Worker}, Consumer: Scheduler, BatchSize: 500},
	// Dead letters: from the scheduler (a job out of retries, a poison
	// record), the worker (a poison record) and every outbox that parks a
	// row the broker refuses for good (OUTBOX_PARKED, the api's included);
	// nothing waits on them.
	{Topic: envelope.TopicJobDeadLetter, Producers: []string{API, Scheduler, Worker}, Consumer: DLQ, BatchSize: 100, BatchWindowSeconds: 5},
}

// Topics lists the routes' topics, in Routes' order.
func Topics() []string {
	out := make([]string, len(Routes))
	for i, r := range Routes {
		out[i] = r.Topic
	}
	return out
}

// ByTopic returns the route of a topic.
func ByTopic(topic string) (Route, bool) {
	for _, r := range Routes {
		if r.Topic == topic {
			return r, true
		}
	}
	return Route{}, false
}

// Produces lists the topics fn writes, in Routes' order: those it is a
// producer of, or every topic for the Redriver.
func Produces(fn string) []string {
	var out []string
	for _, r := range Routes {
		if fn == Redriver || contains(r.Producers, fn) {
			out = append(out, r.Topic)
		}
	}
	return out
}

// Consumes lists the topics whose mapping invokes fn, in Routes' order.
func Consumes(fn string) []string {
	var out []string
	for _, r := range Routes {
		if r.Consumer == fn {
			out = append(out, r.Topic)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
