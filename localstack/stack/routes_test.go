package stack

import (
	"testing"

	"github.com/jobweaver/jobweaver/shared/flow"
)

// The LocalStack deploy and bridge map the flow table's routes, in its
// order, with the local stack's consumer groups.
func TestRoutesFollowTheFlowTable(t *testing.T) {
	if len(Routes) != len(flow.Routes) {
		t.Fatalf("%d routes; the flow table has %d", len(Routes), len(flow.Routes))
	}
	for i, r := range flow.Routes {
		want := Route{Topic: r.Topic, Function: r.Consumer, Group: "jobweaver-" + r.Consumer + "-" + r.Topic}
		if Routes[i] != want {
			t.Errorf("route %d: %+v; the flow table says %+v", i, Routes[i], want)
		}
	}
}
