package tracing

import (
	"context"
	"fmt"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/jobweaver/jobweaver/shared/config"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		local   bool // LocalConfigFromEnv
		env     map[string]string
		sampler string
		ratio   float64
		disable bool
		ep      string
		err     string // a substring of env's error
	}{
		{name: "off until asked for", sampler: DefaultSampler, ratio: DefaultRatio, disable: true},
		{name: "local: on by default", local: true, sampler: DefaultSampler, ratio: DefaultRatio},
		{name: "local: off when disabled", local: true, env: map[string]string{"OTEL_SDK_DISABLED": "true"}, sampler: DefaultSampler, ratio: DefaultRatio, disable: true},
		{name: "asked for", env: map[string]string{"OTEL_SDK_DISABLED": "false"}, sampler: DefaultSampler, ratio: DefaultRatio},
		{name: "ratio", env: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.5"}, sampler: SamplerParentTraceIDRatio, ratio: 0.5},
		{name: "percentage", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "5%"}, sampler: DefaultSampler, ratio: 0.05},
		{name: "upper case", env: map[string]string{"OTEL_TRACES_SAMPLER": "ALWAYS_ON"}, sampler: SamplerAlwaysOn, ratio: DefaultRatio},
		{name: "off", env: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_off"}, sampler: SamplerParentAlwaysOff, ratio: DefaultRatio},
		{name: "disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_SAMPLER_ARG": "1"}, sampler: DefaultSampler, ratio: 1, disable: true},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, sampler: DefaultSampler, ratio: DefaultRatio, ep: "http://localhost:4318"},
		{name: "traces endpoint wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/v1/traces"}, sampler: DefaultSampler, ratio: DefaultRatio, ep: "http://b:4318/v1/traces"},
		{name: "unknown sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, err: "OTEL_TRACES_SAMPLER must be one of always_on"},
		{name: "ratio above 1", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "1.5"}, err: "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1"},
		{name: "negative ratio", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "-0.1"}, err: "OTEL_TRACES_SAMPLER_ARG must be a ratio"},
		{name: "not a number", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "half"}, err: `(got "half")`},
		{name: "NaN", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "NaN"}, err: "OTEL_TRACES_SAMPLER_ARG must be a ratio"},
		{name: "percentage above 100", env: map[string]string{"OTEL_TRACES_SAMPLER_ARG": "150%"}, err: "OTEL_TRACES_SAMPLER_ARG must be a ratio"},
		{name: "store size", env: map[string]string{"TRACE_STORE_SPANS": "-1"}, err: "TRACE_STORE_SPANS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := config.FromMap(c.env)
			got := ConfigFromEnv(env)
			if c.local {
				got = LocalConfigFromEnv(env)
			}
			err := env.Err()
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v; want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Sampler != c.sampler || got.Ratio != c.ratio || got.Disabled != c.disable || got.Endpoint != c.ep {
				t.Errorf("got %+v; want sampler %s ratio %g disabled %t endpoint %q", got, c.sampler, c.ratio, c.disable, c.ep)
			}
		})
	}
}

func TestSamplerDecisions(t *testing.T) {
	t.Parallel()
	// A trace ID whose ratio decision is "in" at 0.5 and one that is "out":
	// TraceIDRatioBased compares the last 8 bytes with the ratio.
	in := IDOf("00000000000000000000000000000001")
	out := IDOf("0000000000000000ffffffffffffffff")
	for _, c := range []struct {
		sampler string
		ratio   float64
		in, out bool // root decisions for the two IDs
	}{
		{SamplerParentTraceIDRatio, 0.5, true, false},
		{SamplerTraceIDRatio, 0.5, true, false},
		{SamplerParentTraceIDRatio, 0, false, false},
		{SamplerParentTraceIDRatio, 1, true, true},
		{SamplerAlwaysOn, 0, true, true},
		{SamplerParentAlwaysOn, 0, true, true},
		{SamplerAlwaysOff, 1, false, false},
		{SamplerParentAlwaysOff, 1, false, false},
	} {
		t.Run(c.sampler, func(t *testing.T) {
			p, err := New(t.Context(), "test", Config{Sampler: c.sampler, Ratio: c.ratio, StoreSpans: 10})
			if err != nil {
				t.Fatal(err)
			}
			if got := p.sampled(in); got != c.in {
				t.Errorf("ratio %g: trace %s sampled %t; want %t", c.ratio, in, got, c.in)
			}
			if got := p.sampled(out); got != c.out {
				t.Errorf("ratio %g: trace %s sampled %t; want %t", c.ratio, out, got, c.out)
			}
		})
	}
}

func TestParseRatio(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"0.25", 0.25, true}, {" 0.5 ", 0.5, true},
		{"1%", 0.01, true}, {"100%", 1, true}, {"0%", 0, true},
		{"", 0, false}, {"%", 0, false}, {"1.01", 0, false}, {"-1%", 0, false}, {"Inf", 0, false}, {"0x1", 0, false},
	} {
		got, err := ParseRatio(c.in)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("ParseRatio(%q) = %g, %v; want %g (ok %t)", c.in, got, err, c.want, c.ok)
		}
	}
}

// The provider's own root decision (sampled) is the root sampler's, for
// every sampler and at the edges of the ratio.
func TestRootDecisionIsTheSamplers(t *testing.T) {
	t.Parallel()
	ids := []trace.TraceID{IDOf(sampledTrace), IDOf(unsampledTrace), IDOf("00000000000000000000000000000000"[:31] + "1")}
	for i := range 2000 {
		ids = append(ids, IDOf(fmt.Sprintf("trace-%d", i)))
	}
	for _, sampler := range samplers {
		for _, ratio := range []float64{0, 1e-9, 0.01, 0.5, 0.999999, 1} {
			p, err := New(t.Context(), "test", Config{Sampler: sampler, Ratio: ratio, StoreSpans: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				want := p.root.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: id}).Decision == sdktrace.RecordAndSample
				if got := p.sampled(id); got != want {
					t.Fatalf("%s at %g: sampled(%s) = %t; the sampler says %t", sampler, ratio, id, got, want)
				}
			}
		}
	}
}
