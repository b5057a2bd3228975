package api

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jobweaver/jobweaver/shared/auth"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/pgdb"
	"github.com/jobweaver/jobweaver/shared/tracing"
)

// openAPI loads docs/openapi.yaml from the module root.
func openAPI(t *testing.T) map[string]any {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "docs", "openapi.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return doc
}

func mapAt(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	cur := m
	for _, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("openapi: no object at %s", strings.Join(keys, "."))
		}
		cur = next
	}
	return cur
}

// Every route the service serves is documented, with its responses, and
// nothing undocumented is served.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := openAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi version = %q, want 3.1.x", v)
	}
	paths := mapAt(t, doc, "paths")
	svc := &Service{}
	served := map[string]bool{}
	for _, rt := range svc.routes() {
		key := strings.ToLower(rt.method) + " " + rt.path
		served[key] = true
		item, ok := paths[rt.path].(map[string]any)
		if !ok {
			t.Errorf("%s %s is not documented", rt.method, rt.path)
			continue
		}
		op, ok := item[strings.ToLower(rt.method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s: no %s operation", rt.method, rt.path, strings.ToLower(rt.method))
			continue
		}
		responses, _ := op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s %s: no responses", rt.method, rt.path)
		}
		if op["operationId"] == nil {
			t.Errorf("%s %s: no operationId", rt.method, rt.path)
		}
		if !neverShed(&http.Request{URL: &url.URL{Path: rt.path}}) {
			checkDocumentsShedding(t, doc, rt.method+" "+rt.path, responses["503"])
		}
	}
	for p, item := range paths {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "post", "put", "patch", "delete", "head", "options":
				if !served[method+" "+p] {
					t.Errorf("documented %s %s is not served", strings.ToUpper(method), p)
				}
			}
		}
	}
}

// checkDocumentsShedding fails unless resp (an operation's 503, inline or
// a $ref) names API.OVERLOADED and its Retry-After header: the shedder
// (shed.go) answers so on every route but the health checks.
func checkDocumentsShedding(t *testing.T, doc map[string]any, op string, resp any) {
	t.Helper()
	m, _ := resp.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		m = mapAt(t, doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
	if m == nil {
		t.Errorf("%s: no 503 documented; every route but health is shed with 503 API.OVERLOADED", op)
		return
	}
	if d, _ := m["description"].(string); !strings.Contains(d, "API.OVERLOADED") {
		t.Errorf("%s: its 503 does not name API.OVERLOADED: %q", op, d)
	}
	if h, _ := m["headers"].(map[string]any); h["Retry-After"] == nil {
		t.Errorf("%s: its 503 documents no Retry-After header", op)
	}
}

// Every $ref points at something that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("%s: external $ref %q", at, ref)
				} else {
					var cur any = doc
					for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
						m, _ := cur.(map[string]any)
						cur = m[part]
					}
					if cur == nil {
						t.Errorf("%s: $ref %q does not resolve", at, ref)
					}
				}
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for _, e := range x {
				walk(e, at+"[]")
			}
		}
	}
	walk(doc, "#")
}

// The documented schemas name exactly the fields the service writes.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := openAPI(t)
	schemas := mapAt(t, doc, "components", "schemas")
	cases := []struct {
		schema string
		v      any
		exact  bool
	}{
		{"Job", JobView{}, true},
		{"JobSummary", JobSummary{}, true},
		{"Accepted", Accepted{}, true},
		{"Execution", Execution{}, true},
		{"ExecutionStep", ExecutionStep{}, true},
		{"Error", apierror.Body{}, true},
		{"Health", pgdb.Health{}, true},
		{"JobHistory", JobHistory{}, true},
		{"HistoryEvent", HistoryEvent{}, true},
		{"JobTrace", JobTrace{}, true},
		{"TraceSpan", tracing.Span{}, true},
		{"DeadLetterAction", internalapi.ActionResponse{}, true},
		{"DeadLetterFilter", internalapi.DLQFilter{}, true},
		{"BulkRequest", bulkRequest{}, true},
		{"OperationCreated", internalapi.OperationCreated{}, true},
		{"Operation", internalapi.Operation{}, true},
		{"System", System{}, true},
		{"CreateKeyRequest", CreateKeyRequest{}, true},
		{"CreatedKey", CreatedKey{}, true},
		{"Key", KeyView{}, true},
		{"KeyList", KeyList{}, true},
		{"AuditEntry", AuditEntry{}, true},
	}
	for _, tc := range cases {
		props := mapAt(t, schemas, tc.schema, "properties")
		var documented []string
		for k := range props {
			documented = append(documented, k)
		}
		sort.Strings(documented)
		if got := jsonFields(reflect.TypeOf(tc.v)); !reflect.DeepEqual(got, documented) {
			t.Errorf("schema %s documents %v; %T writes %v", tc.schema, documented, tc.v, got)
		}
	}
	// A page's fields: PageInfo's and content.
	pageProps := mapAt(t, schemas, "PageInfo", "properties")
	documented := []string{"content"}
	for k := range pageProps {
		documented = append(documented, k)
	}
	sort.Strings(documented)
	if got := jsonFields(reflect.TypeOf(paging.Page[JobSummary]{})); !reflect.DeepEqual(got, documented) {
		t.Errorf("PageInfo (+content) documents %v; paging.Page writes %v", documented, got)
	}
	// Every status of a list filter and every API error code is documented.
	if got := mapAt(t, schemas, "HistoryEvent", "properties", "type")["enum"].([]any); len(got) != len(internalapi.HistoryEventTypes) {
		t.Errorf("HistoryEvent type enum %v, service %v", got, internalapi.HistoryEventTypes)
	}
	statuses := mapAt(t, schemas, "JobStatus")["enum"].([]any)
	if len(statuses) != len(internalapi.Statuses) {
		t.Errorf("JobStatus enum %v, service %v", statuses, internalapi.Statuses)
	}
	dlqStatuses := mapAt(t, schemas, "DeadLetterStatus")["enum"].([]any)
	if fmt.Sprint(dlqStatuses) != fmt.Sprint(internalapi.DLQStatuses) {
		t.Errorf("DeadLetterStatus enum %v, service %v", dlqStatuses, internalapi.DLQStatuses)
	}
	codes := map[string]bool{}
	for _, c := range mapAt(t, schemas, "Error", "properties", "errorCode")["enum"].([]any) {
		codes[c.(string)] = true
	}
	src, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range src {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, part := range strings.Split(string(b), `"API.`)[1:] {
			code := "API." + part[:strings.IndexByte(part, '"')]
			if !codes[code] {
				t.Errorf("%s: error code %s is not in the Error schema's enum", f, code)
			}
		}
	}
	// Built from the namespace by apierror and paging.ParseCursor.
	for _, c := range []string{"API.INTERNAL_ERROR", "API.INVALID_CURSOR"} {
		if !codes[c] {
			t.Errorf("error code %s is not documented", c)
		}
	}
}

// jsonFields lists the JSON names of a struct's fields, embedded ones
// flattened.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Each operation's apiKey security names the least role the service asks
// for it (auth.Required); open routes have no security at all.
func TestOpenAPIRolesMatchTheService(t *testing.T) {
	paths := mapAt(t, openAPI(t), "paths")
	for _, e := range Endpoints() {
		op := mapAt(t, paths, e.Path, strings.ToLower(e.Method))
		need := auth.Required(e.Method + " " + e.Path)
		sec, ok := op["security"].([]any)
		if !ok {
			t.Errorf("%s %s: no security list", e.Method, e.Path)
			continue
		}
		var roles []string
		for _, alt := range sec {
			if r, ok := alt.(map[string]any)["apiKey"].([]any); ok {
				for _, x := range r {
					roles = append(roles, x.(string))
				}
			}
		}
		switch {
		case need == auth.Open && len(sec) != 0:
			t.Errorf("%s %s is open but documents security %v", e.Method, e.Path, sec)
		case need != auth.Open && (len(roles) != 1 || roles[0] != need.String()):
			t.Errorf("%s %s documents apiKey roles %v; the service needs %s", e.Method, e.Path, roles, need)
		}
		if need != auth.Open {
			responses := mapAt(t, op, "responses")
			if responses["401"] == nil || responses["403"] == nil {
				t.Errorf("%s %s documents no 401 or 403", e.Method, e.Path)
			}
		}
	}
}
