package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/kafkatest"
	"github.com/jobweaver/jobweaver/shared/metrics"
	"github.com/jobweaver/jobweaver/shared/metrics/metricstest"
	"github.com/jobweaver/jobweaver/shared/stacktest"
	"github.com/jobweaver/jobweaver/shared/testwait"
)

// The CloudFormation templates the CDK app synthesizes (kept equal to the
// synthesis by infra's own tests) and the metrics contract.
var (
	metricTemplates = []string{"dev", "prod"}
	metricsDoc      = filepath.Join("..", "..", "docs", "metrics.md")
)

func templatePath(stage string) string {
	return filepath.Join("..", "..", "infra", "testdata", stage+".template.json")
}

// Every alarm and dashboard widget of the deployed stacks that watches a
// JobWeaver metric watches a series the functions really write (the same
// name, the same dimension set, the same dimension values), and every
// metric docs/metrics.md promises is written, by the services and under
// the dimension sets it names.
//
// The functions run as they do in Lambda: with METRICS=emf each service
// builds its own emitter (its config's METRICS, its own Service value) writing
// EMF documents to stdout, which the test captures and reads as CloudWatch
// Logs does. A workload then makes every metric appear: single and batch
// submissions, jobs that complete, a job that fails, retries and is
// dead-lettered, and one poison record for each Kafka consumer.
func TestMetricsWatchedByAlarmsAndDashboardAreEmitted(t *testing.T) {
	// Read what is promised and watched first: a broken template or doc
	// fails before the stack starts.
	var refs []metricRef
	for _, stage := range metricTemplates {
		tpl := readTemplate(t, templatePath(stage))
		refs = append(refs, templateMetricRefs(t, stage, tpl)...)
		checkFunctionsWriteEMF(t, stage, tpl)
	}
	doc := readMetricsDoc(t, metricsDoc)

	emitted := runMetricsWorkload(t, doc)

	var seen []string
	for _, s := range emitted.Series() {
		seen = append(seen, seriesString(s.Namespace, s.Name, s.Dims)+" ["+s.Unit+"]")
	}
	t.Logf("emitted %d series in %d EMF documents (%d other stdout lines):\n  %s",
		len(seen), len(emitted.Docs), emitted.Skipped, strings.Join(seen, "\n  "))
	t.Logf("alarms and dashboards reference %d distinct JobWeaver series:\n  %s",
		len(distinctSeries(refs)), strings.Join(distinctSeries(refs), "\n  "))

	t.Run("alarms and dashboards watch emitted series", func(t *testing.T) {
		for _, miss := range unmatchedRefs(refs, emitted) {
			t.Error(miss)
		}
	})

	t.Run("docs/metrics.md matches what is emitted", func(t *testing.T) {
		for _, p := range docMismatches(doc, emitted) {
			t.Error(p)
		}
	})

	// The comparison can fail: the same templates with one metric renamed
	// and one dimension set widened are reported.
	t.Run("a renamed metric or another dimension set is caught", func(t *testing.T) {
		raw, err := os.ReadFile(templatePath(metricTemplates[0]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, []byte(`"MetricName": "DueBacklog"`)) {
			t.Fatal("no alarm on DueBacklog to rename: pick another alarm for this check")
		}
		raw = bytes.Replace(raw, []byte(`"MetricName": "DueBacklog"`), []byte(`"MetricName": "DueBacklogRenamed"`), 1)
		var tpl map[string]any
		if err := json.Unmarshal(raw, &tpl); err != nil {
			t.Fatal(err)
		}
		stage := metricTemplates[0]
		before := unmatchedRefs(templateMetricRefs(t, stage, readTemplate(t, templatePath(stage))), emitted)
		wider := metricRef{Source: "widened", Namespace: metrics.Namespace, Name: "DueBacklog",
			Dims: map[string]string{"Service": "scheduler", "JobType": "SIMULATION"}}
		var added []string
		for _, m := range unmatchedRefs(append(templateMetricRefs(t, stage, tpl), wider), emitted) {
			if !slices.Contains(before, m) {
				added = append(added, m)
			}
		}
		if len(added) != 2 || !strings.Contains(added[0], "watches JobWeaver/DueBacklogRenamed {Service=scheduler}") ||
			!strings.HasPrefix(added[1], "widened watches") {
			t.Errorf("the mutations were reported as %q; want the renamed alarm and the widened set", added)
		}
	})
}

// --- the workload ---

// runMetricsWorkload runs the stack with METRICS=emf and stdout captured,
// drives a workload that writes every metric of doc, stops the stack (so
// every invocation has flushed) and returns what was published.
func runMetricsWorkload(t *testing.T, doc []docMetric) *metricstest.Result {
	out, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = out // each service binds os.Stdout when it starts (metrics.ForMode)
	// Registered before startStack, so it runs after the stack is closed.
	t.Cleanup(func() { os.Stdout = stdout; out.Close() })
	s := startStack(t, map[string]string{"METRICS": metrics.ModeEMF})

	// One undecodable record for each Kafka consumer: scheduler and worker
	// dead-letter it, the dlq stores it as a poison entry.
	prod := kafkatest.Producer(t, s.Brokers)
	for _, topic := range []string{envelope.TopicJobCreated, envelope.TopicRunJob, envelope.TopicJobDeadLetter} {
		r := &kgo.Record{Topic: topic, Value: []byte(`{"this is":"not an envelope"`)}
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	logJob := stacktest.JobJSON(`{"action":"LOG","message":"metrics"}`, 0)
	ok := []string{s.Submit(t, logJob)}
	r := s.Do(t, http.MethodPost, "/api/jobs/batch", `{"jobs":[`+logJob+`,`+logJob+`]}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST /api/jobs/batch = %d %s", r.Status, r.Body)
	}
	for _, j := range r.JSON(t)["jobs"].([]any) {
		ok = append(ok, j.(map[string]any)["jobId"].(string))
	}
	failing := s.Submit(t, stacktest.JobJSON(`{"action":"FAIL","message":"metrics"}`, 1)) // one retry, then the DLQ

	for _, id := range ok {
		s.WaitStatus(t, id, "COMPLETED")
	}
	s.WaitStatus(t, failing, "FAILED")
	testwait.Eventually(t, stacktest.Bound, "the dead letter and three poison entries are stored", func() bool {
		return s.Count(t, "dlq", `SELECT count(*) FROM dead_letters`) == 4
	})
	// A Kafka batch a mapping gave up on, as the mapping-failures queue
	// delivers it to the dlq: stored and its records produced again.
	failure, err := os.ReadFile(filepath.Join("..", "..", "events", "dlq", "mapping-failure.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Invoker.Invoke(context.Background(), "dlq", failure); err != nil || !bytes.Contains(out, []byte(`"batchItemFailures"`)) {
		t.Fatalf("dlq on a mapping failure: %s, %v", out, err)
	}
	// Functions flush when an invocation ends, just after what the test
	// waited for; give the last ones a moment, then stop everything.
	names := docNames(doc)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := metricstest.ParseLogBytes(completeLines(t, out.Name())); err == nil && len(missingNames(names, r)) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Close()
	res := metricstest.ParseLog(t, completeLines(t, out.Name()))
	if miss := missingNames(names, res); len(miss) > 0 {
		t.Logf("the workload never wrote %v", miss)
	}
	return res
}

// completeLines returns the file's content up to its last newline.
func completeLines(t *testing.T, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b[:bytes.LastIndexByte(b, '\n')+1]
}

func missingNames(names []string, r *metricstest.Result) []string {
	var miss []string
	for _, n := range names {
		if !slices.Contains(r.Names(), n) {
			miss = append(miss, n)
		}
	}
	return miss
}

// --- what the templates watch ---

// metricRef is one metric an alarm or a dashboard widget watches.
type metricRef struct {
	Source          string // where: stage, alarm or widget
	Namespace, Name string
	Dims            map[string]string
}

func (r metricRef) String() string {
	return seriesString(r.Namespace, r.Name, r.Dims) + " (" + r.Source + ")"
}

func seriesString(ns, name string, dims map[string]string) string {
	keys := slices.Sorted(maps.Keys(dims))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + dims[k]
	}
	return ns + "/" + name + " {" + strings.Join(parts, ", ") + "}"
}

func distinctSeries(refs []metricRef) []string {
	var out []string
	for _, r := range refs {
		if s := seriesString(r.Namespace, r.Name, r.Dims); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func readTemplate(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tpl
}

// templateMetricRefs returns every JobWeaver metric the template's alarms
// (and any other resource naming a metric: anomaly detectors, metric-math
// alarms' MetricStat) and dashboards watch. It fails t on what it cannot
// check, such as a SEARCH expression over the namespace, and if it finds
// no reference at all from alarms or from dashboards, so that a change of
// the template's shape cannot make the test pass vacuously.
func templateMetricRefs(t *testing.T, stage string, tpl map[string]any) []metricRef {
	t.Helper()
	res, _ := tpl["Resources"].(map[string]any)
	var refs []metricRef
	fromAlarms, fromDashboards := 0, 0
	for _, id := range slices.Sorted(maps.Keys(res)) {
		r, _ := res[id].(map[string]any)
		typ, _ := r["Type"].(string)
		props, _ := r["Properties"].(map[string]any)
		if !strings.HasPrefix(typ, "AWS::CloudWatch::") {
			continue
		}
		if typ == "AWS::CloudWatch::Dashboard" {
			body := cfnString(props["DashboardBody"])
			got, problems := dashboardMetricRefs(stage+": dashboard "+id, body)
			for _, p := range problems {
				t.Error(p)
			}
			fromDashboards += len(got)
			refs = append(refs, got...)
			continue
		}
		where := stage + ": " + strings.TrimPrefix(typ, "AWS::CloudWatch::") + " "
		if name, ok := props["AlarmName"].(string); ok {
			where += name + " (" + id + ")"
		} else {
			where += id
		}
		walkJSON(props, func(m map[string]any) {
			if expr, ok := m["Expression"].(string); ok && strings.Contains(expr, metrics.Namespace) {
				t.Errorf("%s: expression %q reads the %s namespace in a way this test cannot check", where, expr, metrics.Namespace)
			}
			ns, ok1 := m["Namespace"].(string)
			name, ok2 := m["MetricName"].(string)
			if !ok1 || !ok2 || ns != metrics.Namespace {
				return
			}
			ref := metricRef{Source: where, Namespace: ns, Name: name, Dims: map[string]string{}}
			dims, _ := m["Dimensions"].([]any)
			for _, d := range dims {
				d, _ := d.(map[string]any)
				n, _ := d["Name"].(string)
				ref.Dims[n] = cfnString(d["Value"])
			}
			refs = append(refs, ref)
			fromAlarms++
		})
	}
	if fromAlarms == 0 || fromDashboards == 0 {
		t.Errorf("%s: found %d %s metrics in alarms and %d in dashboards; expected both", stage, fromAlarms, metrics.Namespace, fromDashboards)
	}
	return refs
}

// walkJSON calls f on every object in v, depth first.
func walkJSON(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			walkJSON(x[k], f)
		}
	case []any:
		for _, e := range x {
			walkJSON(e, f)
		}
	}
}

// cfnString renders a CloudFormation value as the string it becomes at
// deploy time, with each intrinsic (Ref, Fn::GetAtt, ...) replaced by a
// placeholder such as {{Ref FunctionsApi}}, safe inside a JSON string.
// Fn::Join is joined and Fn::Sub keeps its ${...} references.
func cfnString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok && len(j) == 2 {
			sep, _ := j[0].(string)
			parts, _ := j[1].([]any)
			out := make([]string, len(parts))
			for i, p := range parts {
				out[i] = cfnString(p)
			}
			return strings.Join(out, sep)
		}
		if sub, ok := x["Fn::Sub"]; ok {
			if l, ok := sub.([]any); ok && len(l) > 0 {
				sub = l[0]
			}
			s, _ := sub.(string)
			return s
		}
		for k, arg := range x { // one-key intrinsic
			b, _ := json.Marshal(arg)
			return "{{" + strings.TrimPrefix(k, "Fn::") + " " + strings.NewReplacer(`"`, "", `\`, "").Replace(string(b)) + "}}"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// dashboardMetricRefs reads a dashboard body (CloudWatch's
// DashboardBody JSON) and returns the JobWeaver metrics of its metric
// widgets, with problems for what it cannot read.
//
// A row of a widget's "metrics" is [namespace, metricName, dimName,
// dimValue, ..., {options}]. A "." item repeats the item at the same
// position of the row above; a row starting with "..." repeats the row
// above, the items that follow "..." replacing its last ones. A row that
// is only an options object is a math expression (its inputs are rows of
// their own, with an id); an expression naming the namespace (SEARCH) is
// reported as a problem.
func dashboardMetricRefs(where, body string) ([]metricRef, []string) {
	var d struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return nil, []string{fmt.Sprintf("%s: body is not JSON: %v", where, err)}
	}
	var refs []metricRef
	var problems []string
	for wi, w := range d.Widgets {
		title, _ := w.Properties["title"].(string)
		wwhere := fmt.Sprintf("%s widget %d %q", where, wi, title)
		rows, hasMetrics := w.Properties["metrics"].([]any)
		if w.Type != "metric" {
			if hasMetrics {
				problems = append(problems, fmt.Sprintf("%s: a %q widget naming metrics, which this test cannot read", wwhere, w.Type))
			}
			continue
		}
		var prev []string
		for ri, raw := range rows {
			row, _ := raw.([]any)
			rwhere := fmt.Sprintf("%s row %d", wwhere, ri)
			var items []string
			var opts map[string]any
			for _, it := range row {
				switch x := it.(type) {
				case string:
					items = append(items, x)
				case map[string]any:
					opts = x
				default:
					problems = append(problems, fmt.Sprintf("%s: item %v is neither a string nor an options object", rwhere, it))
				}
			}
			if len(items) == 0 {
				if expr, _ := opts["expression"].(string); strings.Contains(expr, metrics.Namespace) {
					problems = append(problems, fmt.Sprintf("%s: expression %q reads the %s namespace in a way this test cannot check", rwhere, expr, metrics.Namespace))
				}
				continue
			}
			if items[0] == "..." {
				tail := items[1:]
				if len(tail) > len(prev) {
					problems = append(problems, fmt.Sprintf("%s: %q repeats a shorter row %q", rwhere, items, prev))
					continue
				}
				items = append(slices.Clone(prev[:len(prev)-len(tail)]), tail...)
			}
			for i, it := range items {
				if it == "." {
					if i >= len(prev) {
						problems = append(problems, fmt.Sprintf("%s: \".\" at %d has nothing above it", rwhere, i))
						continue
					}
					items[i] = prev[i]
				}
			}
			prev = items
			if len(items) < 2 || len(items)%2 != 0 {
				problems = append(problems, fmt.Sprintf("%s: %q is not namespace, name and dimension pairs", rwhere, items))
				continue
			}
			if items[0] != metrics.Namespace {
				continue
			}
			ref := metricRef{Source: rwhere, Namespace: items[0], Name: items[1], Dims: map[string]string{}}
			for i := 2; i < len(items); i += 2 {
				ref.Dims[items[i]] = items[i+1]
			}
			refs = append(refs, ref)
		}
	}
	return refs, problems
}

// unmatchedRefs returns the references no emitted series answers: the
// name, the dimension set and the values must all be equal, as CloudWatch
// keeps {Service} and {Service, JobType} apart.
func unmatchedRefs(refs []metricRef, emitted *metricstest.Result) []string {
	var out []string
	for _, r := range refs {
		if emitted.Lookup(r.Namespace, r.Name, r.Dims) != nil {
			continue
		}
		var same []string
		for _, s := range emitted.Series() {
			if s.Namespace == r.Namespace && s.Name == r.Name {
				same = append(same, seriesString(s.Namespace, s.Name, s.Dims))
			}
		}
		msg := fmt.Sprintf("%s watches %s, which is never emitted", r.Source, seriesString(r.Namespace, r.Name, r.Dims))
		if len(same) > 0 {
			msg += "; emitted under that name: " + strings.Join(same, ", ")
		} else {
			msg += "; no metric of that name is emitted"
		}
		out = append(out, msg)
	}
	return out
}

// checkFunctionsWriteEMF checks that the stack's four functions write
// their metrics: METRICS is emf (or unset: emf in Lambda), and no JSON
// log format with a level above INFO drops the EMF lines (docs/metrics.md,
// "Deploying").
func checkFunctionsWriteEMF(t *testing.T, stage string, tpl map[string]any) {
	t.Helper()
	res, _ := tpl["Resources"].(map[string]any)
	found := 0
	for _, id := range slices.Sorted(maps.Keys(res)) {
		r, _ := res[id].(map[string]any)
		if r["Type"] != "AWS::Lambda::Function" || !isServiceFunction(id) {
			continue
		}
		found++
		props, _ := r["Properties"].(map[string]any)
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if m, ok := vars["METRICS"]; ok && m != metrics.ModeEMF {
			t.Errorf("%s: function %s has METRICS=%v: it writes no metrics", stage, id, m)
		}
		lc, _ := props["LoggingConfig"].(map[string]any)
		if lc["LogFormat"] == "JSON" {
			if lvl, ok := lc["ApplicationLogLevel"]; ok && !slices.Contains([]any{"TRACE", "DEBUG", "INFO"}, lvl) {
				t.Errorf("%s: function %s logs JSON at ApplicationLogLevel %v, which drops every EMF line", stage, id, lvl)
			}
		}
	}
	if found != 4 {
		t.Errorf("%s: found %d of the api, scheduler, worker and dlq functions", stage, found)
	}
}

func isServiceFunction(logicalID string) bool {
	for _, f := range []string{"FunctionsApi", "FunctionsScheduler", "FunctionsWorker", "FunctionsDlq"} {
		if strings.HasPrefix(logicalID, f) {
			return true
		}
	}
	return false
}

// --- what the docs promise ---

// docMetric is a row of the table in docs/metrics.md.
type docMetric struct {
	Name, Unit string
	DimSets    [][]string // {Service} and/or {Service, JobType}
	Services   []string
}

// readMetricsDoc parses the table under "## The metrics".
func readMetricsDoc(t *testing.T, path string) []docMetric {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docMetric
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "| name | unit | dimensions | emitted by |") {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(line, "|---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			if len(out) > 0 {
				break
			}
			continue
		}
		cols := strings.Split(strings.Trim(line, "|"), "|")
		if len(cols) < 4 {
			t.Fatalf("%s: table row %q", path, line)
		}
		m := docMetric{Name: strings.Trim(strings.TrimSpace(cols[0]), "`"), Unit: strings.TrimSpace(cols[1])}
		for _, d := range strings.Split(cols[2], ",") {
			switch strings.TrimSpace(d) {
			case "S":
				m.DimSets = append(m.DimSets, []string{"Service"})
			case "S+JT":
				m.DimSets = append(m.DimSets, []string{"Service", "JobType"})
			default:
				t.Fatalf("%s: %s: unknown dimensions %q", path, m.Name, d)
			}
		}
		for _, s := range strings.Split(cols[3], ",") {
			m.Services = append(m.Services, strings.TrimSpace(s))
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("%s: read %d metrics from the table; has its header changed?", path, len(out))
	}
	return out
}

func docNames(doc []docMetric) []string {
	var out []string
	for _, m := range doc {
		out = append(out, m.Name)
	}
	return out
}

// docMismatches compares the doc's table with what was emitted, both
// ways: each metric is emitted by each service it names, under each
// dimension set it names (JobType=SIMULATION, the one job type), in its
// unit; and each emitted series is one the table describes.
func docMismatches(doc []docMetric, emitted *metricstest.Result) []string {
	var out []string
	byName := map[string]docMetric{}
	for _, m := range doc {
		byName[m.Name] = m
		for _, svc := range m.Services {
			for _, set := range m.DimSets {
				dims := map[string]string{"Service": svc}
				if slices.Contains(set, "JobType") {
					dims["JobType"] = "SIMULATION"
				}
				s := emitted.Lookup(metrics.Namespace, m.Name, dims)
				switch {
				case s == nil:
					out = append(out, fmt.Sprintf("docs/metrics.md: %s is never emitted", seriesString(metrics.Namespace, m.Name, dims)))
				case s.Unit != m.Unit:
					out = append(out, fmt.Sprintf("docs/metrics.md: %s has the unit %s, emitted as %s", seriesString(metrics.Namespace, m.Name, dims), m.Unit, s.Unit))
				}
			}
		}
	}
	for _, s := range emitted.Series() {
		m, ok := byName[s.Name]
		set := slices.Sorted(maps.Keys(s.Dims))
		switch {
		case s.Namespace != metrics.Namespace:
			out = append(out, fmt.Sprintf("emitted in another namespace: %s", seriesString(s.Namespace, s.Name, s.Dims)))
		case !ok:
			out = append(out, fmt.Sprintf("emitted but not in docs/metrics.md: %s", seriesString(s.Namespace, s.Name, s.Dims)))
		case !slices.Contains(m.Services, s.Dims["Service"]):
			out = append(out, fmt.Sprintf("emitted by a service docs/metrics.md does not name (%v): %s", m.Services, seriesString(s.Namespace, s.Name, s.Dims)))
		case !slices.ContainsFunc(m.DimSets, func(d []string) bool { return slices.Equal(slices.Sorted(slices.Values(d)), set) }):
			out = append(out, fmt.Sprintf("emitted under a dimension set docs/metrics.md does not name: %s", seriesString(s.Namespace, s.Name, s.Dims)))
		}
	}
	return out
}

// The dashboard reader on the shapes the golden templates do not use
// (yet): "." and "..." rows, tokens, expressions.
func TestDashboardMetricRefs(t *testing.T) {
	body := cfnString(map[string]any{"Fn::Join": []any{"", []any{
		`{"widgets":[{"type":"text","properties":{"markdown":"JobWeaver"}},{"type":"metric","properties":{"region":"`,
		map[string]any{"Ref": "AWS::Region"},
		`","metrics":[` +
			`["JobWeaver","JobsDispatched","Service","scheduler",{"stat":"Sum"}],` +
			`[".","JobsFailed",".","."],` +
			`["...",{"stat":"p99"}],` +
			`["...","worker"],` +
			`[{"expression":"m1/m2"}],` +
			`["AWS/Lambda","Errors","FunctionName","`, map[string]any{"Ref": "FunctionsApi"}, `"],` +
			`["JobWeaver","BatchSize","Service","dlq","JobType","X"]` +
			`]}}]}`,
	}}})
	refs, problems := dashboardMetricRefs("test", body)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var got []string
	for _, r := range refs {
		got = append(got, seriesString(r.Namespace, r.Name, r.Dims))
	}
	want := []string{
		"JobWeaver/JobsDispatched {Service=scheduler}",
		"JobWeaver/JobsFailed {Service=scheduler}",
		"JobWeaver/JobsFailed {Service=scheduler}",
		"JobWeaver/JobsFailed {Service=worker}",
		"JobWeaver/BatchSize {JobType=X, Service=dlq}",
	}
	if !slices.Equal(got, want) {
		t.Errorf("refs:\n got %q\nwant %q", got, want)
	}

	_, problems = dashboardMetricRefs("test", `{"widgets":[{"type":"metric","properties":{"metrics":[`+
		`[{"expression":"SEARCH('{JobWeaver,Service} MetricName=\"JobsFailed\"', 'Sum')"}],`+
		`[".","X"],`+
		`["JobWeaver","JobsFailed","Service"]]}},`+
		`{"type":"explorer","properties":{"metrics":[{"metricName":"JobsFailed"}]}}]}`)
	if len(problems) != 4 {
		t.Errorf("problems = %q; want the SEARCH, the dangling \".\", the odd row and the explorer widget", problems)
	}
	if got := cfnString(map[string]any{"Fn::GetAtt": []any{"Queue", "QueueName"}}); got != "{{GetAtt [Queue,QueueName]}}" {
		t.Errorf("GetAtt placeholder = %q", got)
	}
}
