package main

import (
	"testing"

	"github.com/jobweaver/jobweaver/shared/flow"
)

// The bridge consumes every route of the flow table with its consumer
// and group, whatever the functions' deployed names.
func TestMappingsFollowTheFlowTable(t *testing.T) {
	cfg := bridgeConfig{Functions: map[string]string{"scheduler": "dev-scheduler", "worker": "dev-worker", "dlq": "dev-dlq"}}
	ms := mappings(cfg, nil, nil, nil)
	if len(ms) != len(flow.Routes) {
		t.Fatalf("%d mappings; the flow table has %d routes", len(ms), len(flow.Routes))
	}
	for i, r := range flow.Routes {
		m := ms[i]
		if len(m.Topics) != 1 || m.Topics[0] != r.Topic || m.Function != r.Consumer || m.Group != "jobweaver-"+r.Consumer+"-"+r.Topic || m.Name != r.Topic+"->dev-"+r.Consumer {
			t.Errorf("mapping %d: %s %v -> %s, group %s; the flow table says %s -> %s", i, m.Name, m.Topics, m.Function, m.Group, r.Topic, r.Consumer)
		}
	}
}
