package tracing

import (
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
)

// Pool traces a pgx pool's queries with otelpgx: each query (and the wait
// for a connection) is a span below the hop that runs it. Queries outside
// any hop record nothing (the sampler drops roots that are not hops).
func Pool(p *Provider) func(*pgxpool.Config) {
	return func(cfg *pgxpool.Config) {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(
			otelpgx.WithTracerProvider(p.TracerProvider()),
			otelpgx.WithDisableConnectionDetailsInAttributes(),
		)
	}
}

// Producer traces a franz-go client's produced records with kotel: a
// "<topic> publish" span below the record's context (the relay's span
// for that row), whose traceparent kotel writes into the record's
// headers.
func Producer(p *Provider) kgo.Opt {
	t := kotel.NewTracer(kotel.TracerProvider(p.TracerProvider()), kotel.TracerPropagator(Propagator))
	return kgo.WithHooks(kotel.NewKotel(kotel.WithTracer(t)).Hooks()...)
}
