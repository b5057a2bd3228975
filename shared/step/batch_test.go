package step_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/step"
)

// request is what a filled-in HTTP_CALL sent.
type request struct {
	method, uri, body string
	header            http.Header
}

func TestBatchItemTemplates(t *testing.T) {
	var got request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = request{r.Method, r.RequestURI, string(b), r.Header.Clone()}
	}))
	defer srv.Close()
	for _, c := range []struct {
		name, step, item string
		uri, body        string
		header           [2]string
		bad              string // the item's error
	}{
		{name: "path and query escaped", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/u/{{item.id}}?q={{item.q}}"}`,
			item: `{"id":"a/b c","q":"x&y=z+ü"}`, uri: "/u/a%2Fb%20c?q=x%26y%3Dz%2B%C3%BC"},
		{name: "numbers and nested paths", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/u/{{item.user.ids.1}}/{{index}}"}`,
			item: `{"user":{"ids":[10,20]}}`, uri: "/u/20/7"},
		{name: "a whole value in a url", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/o?v={{item}}"}`,
			item: `{"a":[1,"<x>"]}`, uri: "/o?v=%7B%22a%22%3A%5B1%2C%22%3Cx%3E%22%5D%7D"},
		{name: "the whole url from the item", step: `{"action":"HTTP_CALL","url":"{{item.u}}"}`,
			item: `{"u":"` + srv.URL + `/p?x=1&y=2"}`, uri: "/p?x=1&y=2"},
		{name: "body: a value and text in a string", step: `{"action":"HTTP_CALL","method":"POST","url":"` + srv.URL + `/b","body":{"v":"{{item}}","s":"say {{item.t}}!","n":[1,"{{index}}"]}}`,
			item: `{"t":"\"quoted\"\n<&>\u0001"}`, uri: "/b", body: `{"n":[1,7],"s":"say \"quoted\"\n<&>\u0001!","v":{"t":"\"quoted\"\n<&>\u0001"}}`},
		{name: "body without templates is sent as given", step: `{"action":"HTTP_CALL","method":"POST","url":"` + srv.URL + `/b","body":{"z":1,"a":"{x}"}}`,
			item: `1`, uri: "/b", body: `{"z":1,"a":"{x}"}`},
		{name: "a string body from the item", step: `{"action":"HTTP_CALL","method":"PUT","url":"` + srv.URL + `/b","body":"{{item}}"}`,
			item: `"plain text"`, uri: "/b", body: `plain text`},
		{name: "header as text", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/h","headers":{"X-Id":"id-{{item.id}}"}}`,
			item: `{"id":42}`, uri: "/h", header: [2]string{"X-Id", "id-42"}},
		{name: "missing field", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/u/{{item.id}}"}`,
			item: `{"name":"x"}`, bad: `{{item.id}}: the item has no field "id"`},
		{name: "index out of range", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/u/{{item.2}}"}`,
			item: `[1,2]`, bad: `the item has no element "2" (an array of 2)`},
		{name: "field of a scalar", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/u/{{item.a.b}}"}`,
			item: `{"a":5}`, bad: `the item's "item.a" is not an object or array`},
		{name: "line break into a header", step: `{"action":"HTTP_CALL","url":"` + srv.URL + `/h","headers":{"X-A":"{{item}}"}}`,
			item: `"a\r\nX-Evil: 1"`, bad: "the filled-in headers X-A: a value may not hold CR, LF or NUL"},
		{name: "the item is not a URL", step: `{"action":"HTTP_CALL","url":"{{item}}"}`,
			item: `"ftp://x"`, bad: "the filled-in url scheme must be http or https"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got = request{}
			item, err := step.BatchItem.Parse(json.RawMessage(c.step))
			if err != nil {
				t.Fatal(err)
			}
			items := make([]json.RawMessage, 8)
			items[7] = json.RawMessage(c.item)
			b := step.NewBatch(item, items, 10, 0)
			s, err := b.Item(7)
			if c.bad != "" {
				var ce *step.CodedError
				if !errors.As(err, &ce) || ce.Code != step.CodeBatchItemInvalid || !ce.Permanent || !strings.Contains(err.Error(), c.bad) {
					t.Fatalf("Item = %v; want a permanent %s containing %q", err, step.CodeBatchItemInvalid, c.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.(step.Producer).Produce(context.Background(), step.Env{HTTP: srv.Client()}); err != nil {
				t.Fatal(err)
			}
			if got.uri != c.uri || got.body != c.body {
				t.Fatalf("sent %s %s\nwant %s %s", got.uri, got.body, c.uri, c.body)
			}
			if c.header[0] != "" && got.header.Get(c.header[0]) != c.header[1] {
				t.Fatalf("header %s = %q", c.header[0], got.header.Get(c.header[0]))
			}
		})
	}
}

func TestBatchItemScriptAndLog(t *testing.T) {
	s, err := step.BatchItem.Parse(json.RawMessage(`{"action":"SCRIPT","source":"result = [item[\"a\"], index, len(outputs)]"}`))
	if err != nil {
		t.Fatal(err)
	}
	b := step.NewBatch(s, []json.RawMessage{json.RawMessage(`{"a":"x"}`), json.RawMessage(`{"a":[1]}`)}, 1, 0)
	it, _ := b.Item(1)
	out, err := it.(step.Producer).Produce(context.Background(), step.Env{})
	if err != nil || string(out) != `[[1],1,0]` {
		t.Fatalf("script output %s, %v", out, err)
	}
	if b.Action() != "SCRIPT" || step.Classify(b) != step.CPU || b.Run(context.Background(), step.Env{}) == nil {
		t.Fatalf("batch %s %v", b.Action(), step.Classify(b))
	}
	fail, _ := step.BatchItem.Parse(json.RawMessage(`{"action":"SCRIPT","source":"result = item[\"missing\"]"}`))
	it, _ = step.NewBatch(fail, []json.RawMessage{json.RawMessage(`{}`)}, 1, 0).Item(0)
	var ce *step.CodedError
	if _, err := it.(step.Producer).Produce(context.Background(), step.Env{}); !errors.As(err, &ce) || ce.Code != step.CodeScriptFailed || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("failing script: %v", err)
	}
	l, _ := step.BatchItem.Parse(json.RawMessage(`{"action":"LOG","message":"{{index}}: {{item.n}}"}`))
	lb := step.NewBatch(l, []json.RawMessage{json.RawMessage(`{"n":"ok"}`)}, 1, 0)
	if step.Classify(lb) != step.IO {
		t.Fatal("a LOG batch is not I/O")
	}
	if _, err := lb.Item(0); err != nil {
		t.Fatal(err)
	}
}
