// Package metrics writes CloudWatch metrics in the Embedded Metric Format
// (EMF): JSON documents, one a line, on the function's stdout, which
// CloudWatch Logs turns into metrics. No API call, no client, no added
// latency.
//
// An [Emitter] aggregates what a handler invocation records and writes it
// when the handler calls [Emitter.Flush], once at its end:
//
//   - [Emitter.Count] adds to a counter (one number per document);
//   - [Emitter.Value] appends a sample (an array of up to 100 numbers per
//     document, so CloudWatch keeps the distribution: p50, p99, max);
//   - [Emitter.Gauge] records a level such as a backlog; of several
//     observations before one flush the largest is kept.
//
// Every metric has the dimension Service (the emitter's service). A metric
// recorded with more dimensions (say JobType) is published twice by
// CloudWatch, under {Service} and under {Service, JobType}: its document
// declares both dimension sets, so the Service-level series is the total
// over job types. A dimension whose value is empty is left out.
//
// One document holds one set of dimension values (one job type), at most
// 100 metrics and at most 100 values per metric; a flush writes as many
// documents as that takes, counters only in the first of a group.
//
// Metrics that count only if a transaction commits go into a [Pending]
// first and into the emitter with [Emitter.Commit] after the commit.
//
// A nil *Emitter and [Discard] record nothing. Every method is safe for
// concurrent use.
package metrics

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jobweaver/jobweaver/shared/config"
)

// Namespace is the CloudWatch namespace of every JobWeaver metric.
const Namespace = "JobWeaver"

// Unit is a CloudWatch metric unit.
type Unit string

// The CloudWatch units JobWeaver uses (CloudWatch accepts a few more; see
// [Units]).
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
	Microseconds Unit = "Microseconds"
	Bytes        Unit = "Bytes"
	Percent      Unit = "Percent"
	None         Unit = "None"
)

// Units lists every unit CloudWatch accepts.
var Units = []Unit{
	"Seconds", "Microseconds", "Milliseconds",
	"Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
	"Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None",
}

// Limits of one document (the EMF specification's), and of this package.
const (
	MaxMetricsPerDocument = 100
	MaxValuesPerMetric    = 100
	// MaxDimensionValues is how many distinct values one dimension name
	// (JobType) may take in one emitter's life; later ones are reported
	// as [OtherValue]. Every distinct value is a billed custom metric, and
	// a job type can come from outside.
	MaxDimensionValues = 50
	// MaxDimensions is how many dimensions besides Service a metric may
	// have; more are ignored.
	MaxDimensions = 3
	// MaxDimensionValueLen is the longest dimension value kept; a longer
	// one is cut.
	MaxDimensionValueLen = 250
)

// OtherValue replaces the dimension values past MaxDimensionValues.
const OtherValue = "Other"

// ServiceDimension names the dimension every metric has.
const ServiceDimension = "Service"

// Dimension is a name and a value, such as JobType=SIMULATION.
type Dimension struct{ Name, Value string }

// Dim returns the dimension name=value.
func Dim(name, value string) Dimension { return Dimension{name, value} }

type kind uint8

const (
	kindCount kind = iota + 1
	kindValue
	kindGauge
)

// dimSet is a normalized set of dimensions (sorted by name, no empty
// values): comparable, so it can key a map without allocating.
type dimSet struct {
	n int
	d [MaxDimensions]Dimension
}

type seriesKey struct {
	dims dimSet
	name string
}

type series struct {
	unit Unit
	kind kind
	vals []float64
}

// Emitter aggregates metrics and writes them as EMF documents.
type Emitter struct {
	w       io.Writer // nil: records nothing
	service string

	mu     sync.Mutex
	series map[seriesKey]*series
	seen   map[string]map[string]string // dimension name → value → its kept copy
	since  time.Time                    // when the oldest unflushed value was recorded
	buf    []byte
	now    func() time.Time
}

// New returns an emitter that writes to w with Service=service.
func New(w io.Writer, service string) *Emitter {
	if w == nil {
		w = io.Discard
	}
	if service = cleanValue(service); service == "" {
		service = "unknown"
	}
	return &Emitter{
		w:       w,
		service: service,
		series:  map[seriesKey]*series{},
		seen:    map[string]map[string]string{},
		now:     time.Now,
	}
}

// Discard returns an emitter that records nothing.
func Discard() *Emitter { return &Emitter{} }

// Env values of METRICS.
const (
	ModeEMF = "emf"
	ModeOff = "off"
)

// ModeFromEnv reads METRICS for a function's config: "emf" writes EMF
// documents, "off" records nothing. Unset, it is "emf" in Lambda
// (AWS_LAMBDA_FUNCTION_NAME is set) and "off" elsewhere, so the local
// stack and tests print no metrics. Another value is recorded in env as an
// error naming METRICS.
func ModeFromEnv(env *config.Env) string {
	def := ModeOff
	if v, ok := env.Lookup("AWS_LAMBDA_FUNCTION_NAME"); ok && strings.TrimSpace(v) != "" {
		def = ModeEMF
	}
	return env.OneOf("METRICS", def, ModeEMF, ModeOff)
}

// CheckMode reports a mode that is not ModeEMF, ModeOff or "" (off) as
// an error naming METRICS.
func CheckMode(mode string) error {
	if mode != "" && mode != ModeEMF && mode != ModeOff {
		return config.Invalid("METRICS", "emf or off", mode)
	}
	return nil
}

// ForMode returns the emitter of mode (ModeFromEnv), writing to w:
// ModeEMF writes EMF documents; ModeOff or "" records nothing.
func ForMode(mode string, w io.Writer, service string) *Emitter {
	if mode != ModeEMF {
		return Discard()
	}
	return New(w, service)
}

// FromLookup is ModeFromEnv and ForMode over another environment and
// writer.
func FromLookup(lookup func(string) (string, bool), w io.Writer, service string) (*Emitter, error) {
	env := &config.Env{Lookup: lookup}
	mode := ModeFromEnv(env)
	if err := env.Err(); err != nil {
		return nil, err
	}
	return ForMode(mode, w, service), nil
}

// Enabled reports whether the emitter writes anything, so that a caller
// can skip measuring what would be thrown away.
func (e *Emitter) Enabled() bool { return e != nil && e.w != nil }

// Service returns the value of the Service dimension.
func (e *Emitter) Service() string {
	if e == nil {
		return ""
	}
	return e.service
}

// Count adds n to the counter name (unit Count).
func (e *Emitter) Count(name string, n int, dims ...Dimension) {
	if !e.Enabled() {
		return
	}
	ds := normalize(dims)
	e.mu.Lock()
	e.record(kindCount, name, Count, float64(n), ds)
	e.mu.Unlock()
}

// Value appends the sample v to name.
func (e *Emitter) Value(name string, v float64, unit Unit, dims ...Dimension) {
	if !e.Enabled() {
		return
	}
	ds := normalize(dims)
	e.mu.Lock()
	e.record(kindValue, name, unit, v, ds)
	e.mu.Unlock()
}

// Gauge records the level v of name; until the next flush, the largest
// level recorded is kept.
func (e *Emitter) Gauge(name string, v float64, unit Unit, dims ...Dimension) {
	if !e.Enabled() {
		return
	}
	ds := normalize(dims)
	e.mu.Lock()
	e.record(kindGauge, name, unit, v, ds)
	e.mu.Unlock()
}

// normalize sorts dims by name and drops empty values, unnamed and
// repeated dimensions, Service, and those past MaxDimensions. Values are
// made safe for CloudWatch (printable ASCII, at most MaxDimensionValueLen
// bytes).
func normalize(dims []Dimension) dimSet {
	var ds dimSet
	for _, d := range dims {
		if d.Name == "" || d.Value == "" || d.Name == ServiceDimension || ds.n == MaxDimensions {
			continue
		}
		d.Value = cleanValue(d.Value)
		if d.Value == "" {
			continue
		}
		dup := false
		for i := range ds.n {
			dup = dup || ds.d[i].Name == d.Name
		}
		if dup {
			continue
		}
		i := ds.n
		for i > 0 && ds.d[i-1].Name > d.Name { // insertion sort
			ds.d[i] = ds.d[i-1]
			i--
		}
		ds.d[i] = d
		ds.n++
	}
	return ds
}

// cleanValue returns v as printable ASCII without surrounding spaces, cut
// to MaxDimensionValueLen bytes. A clean v is returned as it is, without
// allocating.
func cleanValue(v string) string {
	ok := len(v) <= MaxDimensionValueLen && v != "" && v[0] != ' ' && v[len(v)-1] != ' '
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= 0x20 && v[i] < 0x7f
	}
	if ok {
		return v
	}
	b := make([]byte, 0, min(len(v), MaxDimensionValueLen))
	for i := 0; i < len(v) && len(b) < MaxDimensionValueLen; i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f {
			c = '_'
		}
		b = append(b, c)
	}
	return strings.TrimSpace(string(b))
}

// record adds v to a series; e.mu is held.
func (e *Emitter) record(k kind, name string, unit Unit, v float64, ds dimSet) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	for i := range ds.n {
		ds.d[i].Value = e.capValue(ds.d[i].Name, ds.d[i].Value)
	}
	key := seriesKey{ds, name}
	s := e.series[key]
	if s == nil {
		if !validName(name, ds) {
			return
		}
		if !slices.Contains(Units, unit) {
			unit = None
		}
		s = &series{unit: unit, kind: k}
		e.series[key] = s
	}
	if e.since.IsZero() {
		e.since = e.now()
	}
	switch {
	case s.kind == kindCount && len(s.vals) > 0:
		s.vals[0] += v
	case s.kind == kindGauge && len(s.vals) > 0:
		s.vals[0] = max(s.vals[0], v)
	default:
		s.vals = append(s.vals, v)
	}
}

// capValue returns the kept copy of a dimension value, or OtherValue once
// the dimension has MaxDimensionValues values.
func (e *Emitter) capValue(name, v string) string {
	vals := e.seen[name]
	if kept, ok := vals[v]; ok {
		return kept
	}
	if vals == nil {
		vals = map[string]string{}
		e.seen[name] = vals
	}
	if len(vals) >= MaxDimensionValues {
		return OtherValue
	}
	kept := strings.Clone(v)
	vals[kept] = kept
	return kept
}

// validName reports whether name can be a metric of a document with the
// dimensions ds: 1 to 255 printable ASCII characters, and not a key the
// document already uses.
func validName(name string, ds dimSet) bool {
	if name == "" || len(name) > 255 || name == "_aws" || name == ServiceDimension {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= 0x20 || name[i] >= 0x7f || name[i] == '"' || name[i] == '\\' {
			return false
		}
	}
	for i := range ds.n {
		if ds.d[i].Name == name {
			return false
		}
	}
	return true
}

// Commit records what p holds and empties p.
func (e *Emitter) Commit(p *Pending) {
	if p == nil || len(p.recs) == 0 {
		return
	}
	if e.Enabled() {
		e.mu.Lock()
		for _, r := range p.recs {
			e.record(r.kind, r.name, r.unit, r.v, r.dims)
		}
		e.mu.Unlock()
	}
	p.recs = p.recs[:0]
}

// FlushOlder flushes if what waits to be written was first recorded at
// least age ago: for a long invocation (the scheduler's tick) that should
// not hold its metrics to its end.
func (e *Emitter) FlushOlder(age time.Duration) error {
	if !e.Enabled() {
		return nil
	}
	e.mu.Lock()
	due := !e.since.IsZero() && e.now().Sub(e.since) >= age
	e.mu.Unlock()
	if !due {
		return nil
	}
	return e.Flush()
}

// Flush writes what was recorded since the last flush, one EMF document
// a line (each in one Write), and starts over. With nothing recorded it
// writes nothing.
func (e *Emitter) Flush() error {
	if !e.Enabled() {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.since.IsZero() {
		return nil
	}
	e.since = time.Time{}
	ts := e.now().UnixMilli()

	type named struct {
		name string
		s    *series
	}
	groups := map[dimSet][]named{}
	for k, s := range e.series {
		if len(s.vals) > 0 {
			groups[k.dims] = append(groups[k.dims], named{k.name, s})
		}
	}
	sets := make([]dimSet, 0, len(groups))
	for ds := range groups {
		sets = append(sets, ds)
	}
	slices.SortFunc(sets, compareDimSets)

	var err error
	for _, ds := range sets {
		list := groups[ds]
		slices.SortFunc(list, func(a, b named) int { return cmp.Compare(a.name, b.name) })
		for start := 0; start < len(list); start += MaxMetricsPerDocument {
			page := list[start:min(start+MaxMetricsPerDocument, len(list))]
			rounds := 0
			for _, m := range page {
				rounds = max(rounds, (len(m.s.vals)+MaxValuesPerMetric-1)/MaxValuesPerMetric)
			}
			for r := range rounds {
				lo := r * MaxValuesPerMetric
				b := e.buf[:0]
				b = append(b, `{"_aws":{"Timestamp":`...)
				b = strconv.AppendInt(b, ts, 10)
				b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
				b = appendString(b, Namespace)
				b = append(b, `,"Dimensions":[[`...)
				b = appendString(b, ServiceDimension)
				if ds.n > 0 {
					b = append(b, `],[`...)
					b = appendString(b, ServiceDimension)
					for i := range ds.n {
						b = append(b, ',')
						b = appendString(b, ds.d[i].Name)
					}
				}
				b = append(b, `]],"Metrics":[`...)
				first := true
				for _, m := range page {
					if len(m.s.vals) <= lo {
						continue
					}
					if !first {
						b = append(b, ',')
					}
					first = false
					b = append(b, `{"Name":`...)
					b = appendString(b, m.name)
					b = append(b, `,"Unit":`...)
					b = appendString(b, string(m.s.unit))
					b = append(b, '}')
				}
				b = append(b, `]}]},`...)
				b = appendString(b, ServiceDimension)
				b = append(b, ':')
				b = appendString(b, e.service)
				for i := range ds.n {
					b = append(b, ',')
					b = appendString(b, ds.d[i].Name)
					b = append(b, ':')
					b = appendString(b, ds.d[i].Value)
				}
				for _, m := range page {
					if len(m.s.vals) <= lo {
						continue
					}
					b = append(b, ',')
					b = appendString(b, m.name)
					b = append(b, ':')
					vals := m.s.vals[lo:min(lo+MaxValuesPerMetric, len(m.s.vals))]
					if len(vals) == 1 {
						b = appendNumber(b, vals[0])
						continue
					}
					b = append(b, '[')
					for i, v := range vals {
						if i > 0 {
							b = append(b, ',')
						}
						b = appendNumber(b, v)
					}
					b = append(b, ']')
				}
				b = append(b, "}\n"...)
				e.buf = b
				if _, werr := e.w.Write(b); werr != nil && err == nil {
					err = fmt.Errorf("metrics: write: %w", werr)
				}
			}
		}
	}
	for _, s := range e.series {
		if cap(s.vals) > 4*MaxValuesPerMetric {
			s.vals = nil // do not keep one burst's memory
		} else {
			s.vals = s.vals[:0]
		}
	}
	if cap(e.buf) > 256<<10 {
		e.buf = nil
	}
	return err
}

func compareDimSets(a, b dimSet) int {
	if c := cmp.Compare(a.n, b.n); c != 0 {
		return c
	}
	for i := range a.n {
		if c := cmp.Or(cmp.Compare(a.d[i].Name, b.d[i].Name), cmp.Compare(a.d[i].Value, b.d[i].Value)); c != 0 {
			return c
		}
	}
	return 0
}

// appendString appends s as a JSON string. Names and dimension values are
// printable ASCII, but escape what JSON requires all the same.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendNumber appends a finite float as encoding/json would.
func appendNumber(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.AppendInt(b, int64(v), 10)
	}
	f := byte('f')
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		f = 'e'
	}
	return strconv.AppendFloat(b, v, f, -1, 64)
}

// Pending holds metrics until a transaction commits; see [Emitter.Commit].
// The zero value is ready to use. It is not safe for concurrent use.
type Pending struct {
	recs []pendingRec
}

type pendingRec struct {
	kind kind
	name string
	unit Unit
	v    float64
	dims dimSet
}

// Count is [Emitter.Count], held until Commit.
func (p *Pending) Count(name string, n int, dims ...Dimension) {
	p.recs = append(p.recs, pendingRec{kindCount, name, Count, float64(n), normalize(dims)})
}

// Value is [Emitter.Value], held until Commit.
func (p *Pending) Value(name string, v float64, unit Unit, dims ...Dimension) {
	p.recs = append(p.recs, pendingRec{kindValue, name, unit, v, normalize(dims)})
}

// Gauge is [Emitter.Gauge], held until Commit.
func (p *Pending) Gauge(name string, v float64, unit Unit, dims ...Dimension) {
	p.recs = append(p.recs, pendingRec{kindGauge, name, unit, v, normalize(dims)})
}

// Len returns how many records p holds.
func (p *Pending) Len() int { return len(p.recs) }
