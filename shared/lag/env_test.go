package lag_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/config"
	"github.com/jobweaver/jobweaver/shared/lag"
)

const allMappings = "job-created=u1,run-job=u2,job-completed=u3,job-failed=u4,job-dead-letter=u5"

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		env    map[string]string
		source string
		prefix string
		err    string // a part of the error, or "" for none
	}{
		{"default", nil, lag.SourceNone, "jobweaver-", ""},
		{"kafka", map[string]string{"LAG_SOURCE": "kafka", "KAFKA_GROUP_PREFIX": "jobweaver-x-"}, lag.SourceKafka, "jobweaver-x-", ""},
		{"cloudwatch", map[string]string{"LAG_SOURCE": "CloudWatch", "LAG_MAPPINGS": allMappings}, lag.SourceCloudWatch, "jobweaver-", ""},
		{"unknown source", map[string]string{"LAG_SOURCE": "prometheus"}, "", "", "LAG_SOURCE must be none, kafka or cloudwatch"},
		{"no mappings", map[string]string{"LAG_SOURCE": "cloudwatch"}, "", "", "job-created has none"},
		{"a topic missing", map[string]string{"LAG_SOURCE": "cloudwatch", "LAG_MAPPINGS": "job-created=u1,run-job=u2"}, "", "", "job-completed has none"},
		{"unknown topic", map[string]string{"LAG_SOURCE": "cloudwatch", "LAG_MAPPINGS": allMappings + ",other=u6"}, "", "", "(got other=u6)"},
		{"no uuid", map[string]string{"LAG_SOURCE": "cloudwatch", "LAG_MAPPINGS": "job-created="}, "", "", "(got job-created=)"},
	} {
		env := config.FromMap(tc.env)
		s := lag.SettingsFromEnv(env)
		switch {
		case tc.err == "" && env.Err() != nil:
			t.Errorf("%s: %v", tc.name, env.Err())
		case tc.err != "" && (env.Err() == nil || !strings.Contains(env.Err().Error(), tc.err)):
			t.Errorf("%s: error %v, want one with %q", tc.name, env.Err(), tc.err)
		case tc.err == "" && (s.Source != tc.source || s.GroupPrefix != tc.prefix):
			t.Errorf("%s: %+v, want source %s, prefix %s", tc.name, s, tc.source, tc.prefix)
		}
	}
}

// TestNew: none is no reader; cloudwatch names each mapping's deployed
// function and UUID; a function name missing is an error.
func TestNew(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	if r, err := lag.New(ctx, lag.Settings{Source: lag.SourceNone}, nil, nil); r != nil || err != nil {
		t.Fatalf("none: %v, %v", r, err)
	}
	if _, err := lag.New(ctx, lag.Settings{Source: lag.SourceKafka}, nil, nil); err == nil {
		t.Fatal("kafka without a client: no error")
	}
	env := config.FromMap(map[string]string{"LAG_SOURCE": "cloudwatch", "LAG_MAPPINGS": allMappings, "KAFKA_GROUP_PREFIX": "jobweaver-dev-"})
	s := lag.SettingsFromEnv(env)
	fns := map[string]string{"scheduler": "jobweaver-dev-scheduler", "worker": "jobweaver-dev-worker", "dlq": "jobweaver-dev-dlq"}
	r, err := lag.New(ctx, s, fns, nil)
	if err != nil {
		t.Fatal(err)
	}
	cw, ok := r.(*lag.CloudWatch)
	if !ok {
		t.Fatalf("cloudwatch gave a %T", r)
	}
	if m := cw.Mappings[1]; m.Topic != "run-job" || m.UUID != "u2" || m.Function != "jobweaver-dev-worker" || m.Group != "jobweaver-dev-worker-run-job" {
		t.Errorf("the run-job mapping = %+v", m)
	}
	delete(fns, "dlq")
	if _, err := lag.New(ctx, s, fns, nil); err == nil || !strings.Contains(err.Error(), "job-dead-letter") {
		t.Errorf("without the dlq's name: %v", err)
	}
}
