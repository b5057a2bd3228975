package tracing

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jobweaver/jobweaver/shared/config"
)

// Sampler names, as OTEL_TRACES_SAMPLER spells them.
const (
	SamplerAlwaysOn                   = "always_on"
	SamplerAlwaysOff                  = "always_off"
	SamplerTraceIDRatio               = "traceidratio"
	SamplerParentAlwaysOn             = "parentbased_always_on"
	SamplerParentAlwaysOff            = "parentbased_always_off"
	SamplerParentTraceIDRatio         = "parentbased_traceidratio"
	DefaultSampler                    = SamplerParentTraceIDRatio
	DefaultRatio              float64 = 0.01
	// DefaultStoreSpans is how many spans an in-process Store keeps.
	DefaultStoreSpans = 100_000
)

var samplers = []string{SamplerAlwaysOn, SamplerAlwaysOff, SamplerTraceIDRatio,
	SamplerParentAlwaysOn, SamplerParentAlwaysOff, SamplerParentTraceIDRatio}

// Config is how a function traces.
type Config struct {
	// Disabled (OTEL_SDK_DISABLED=true) records nothing.
	Disabled bool
	// Sampler is one of the OTEL_TRACES_SAMPLER names; Ratio is its
	// argument for the ratio samplers (OTEL_TRACES_SAMPLER_ARG, 0 to 1).
	// An empty Sampler (a hand-built Config) traces every job:
	// parentbased_always_on, whatever Ratio says.
	Sampler string
	Ratio   float64
	// Endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
	// OTEL_EXPORTER_OTLP_ENDPOINT) sends spans over OTLP/HTTP; the
	// exporter reads the other OTEL_EXPORTER_OTLP_* settings itself.
	Endpoint string
	// Store, if set, keeps the spans in process (the local stack shares
	// one among its functions). Without an Endpoint, New makes one of
	// StoreSpans spans (TRACE_STORE_SPANS) when Store is nil.
	Store      *Store
	StoreSpans int
}

// ConfigFromEnv reads the standard OpenTelemetry variables
// (OTEL_SDK_DISABLED, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT) and
// TRACE_STORE_SPANS, for a function's main. Tracing is off unless one of
// the sampler or endpoint variables is set (or OTEL_SDK_DISABLED=false):
// in AWS the stack sets the OTLP endpoint. A bad value is env's error,
// naming the variable.
func ConfigFromEnv(env *config.Env) Config {
	return configFromEnv(env, false)
}

// LocalConfigFromEnv is ConfigFromEnv for the local stack (make run, the
// bench, the tests' stacks), where tracing is on by default, at the
// default 1 %: a job sampled out costs its hops next to nothing
// (docs/tracing.md, Overhead). OTEL_SDK_DISABLED=true turns it off.
func LocalConfigFromEnv(env *config.Env) Config {
	return configFromEnv(env, true)
}

func configFromEnv(env *config.Env, on bool) Config {
	asked := on
	for _, name := range []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if v, ok := env.Lookup(name); ok && strings.TrimSpace(v) != "" {
			asked = true
		}
	}
	c := Config{
		Disabled:   env.Bool("OTEL_SDK_DISABLED", !asked),
		Sampler:    env.OneOf("OTEL_TRACES_SAMPLER", DefaultSampler, samplers...),
		Endpoint:   env.String("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env.String("OTEL_EXPORTER_OTLP_ENDPOINT", "")),
		StoreSpans: env.Int("TRACE_STORE_SPANS", DefaultStoreSpans, 0, 10_000_000),
	}
	c.Ratio = DefaultRatio
	if v, ok := env.Lookup("OTEL_TRACES_SAMPLER_ARG"); ok && strings.TrimSpace(v) != "" {
		r, err := ParseRatio(v)
		if err != nil {
			env.Report(fmt.Errorf("config: OTEL_TRACES_SAMPLER_ARG %w", err))
		} else {
			c.Ratio = r
		}
	}
	return c
}

// ParseRatio reads a sampling ratio: a number from 0 to 1 ("0.01"), or a
// percentage ("1%").
func ParseRatio(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if pct {
		f /= 100
	}
	if err != nil || f < 0 || f > 1 || f != f {
		return 0, fmt.Errorf("must be a ratio from 0 to 1, such as 0.01, or a percentage such as 1%% (got %q)", s)
	}
	return f, nil
}
