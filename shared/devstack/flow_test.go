package devstack

import (
	"testing"

	"github.com/jobweaver/jobweaver/shared/flow"
	"github.com/jobweaver/jobweaver/shared/invoke"
)

// The local stack maps every route of the flow table, in its order, to
// the table's consumer and group.
func TestMappingsFollowTheFlowTable(t *testing.T) {
	ms := mappings(Config{ESMBatchSize: 7, RunJobBatchSize: 9, ESMPollers: 1, RunJobPollers: 3}, &infra{}, nil, nil)
	if len(ms) != len(flow.Routes) {
		t.Fatalf("%d mappings; the flow table has %d routes", len(ms), len(flow.Routes))
	}
	for i, r := range flow.Routes {
		m := ms[i]
		batch, pollers := 7, 1
		if r.Consumer == invoke.Worker { // the run-job mapping
			batch, pollers = 9, 3
		}
		if len(m.Topics) != 1 || m.Topics[0] != r.Topic || m.Function != r.Consumer || m.Group != "jobweaver-"+r.Consumer+"-"+r.Topic || m.BatchSize != batch || m.Pollers != pollers {
			t.Errorf("mapping %d: %v -> %s, group %s, batch %d, %d pollers; the flow table says %s -> %s (want batch %d, %d pollers)",
				i, m.Topics, m.Function, m.Group, m.BatchSize, m.Pollers, r.Topic, r.Consumer, batch, pollers)
		}
	}
}
