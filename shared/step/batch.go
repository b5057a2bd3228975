package step

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jobweaver/jobweaver/shared/script"
)

// Batch is the one step of a BATCH_PROCESS job: its item step, run once
// per item by the worker, which checkpoints the items' results chunk by
// chunk (package worker, batch.go). It is not run as a plain step: Run
// refuses.
//
// The item step is one of BatchItem's kinds. Item returns the step for
// one item, with the item bound:
//   - SCRIPT reads the item as the global item and its 0-based index as
//     index (besides json); outputs is empty.
//   - HTTP_CALL fills in templates in its url, header values and body,
//     and LOG in its message: {{item}}, {{item.<field>}} (a path of object
//     keys and array indexes, {{item.user.id}}, {{item.tags.0}}) and
//     {{index}}. Into a url a value goes URL-escaped (every byte but
//     A-Z a-z 0-9 - . _ ~ as %XX), unless the url is one template alone,
//     which takes the value as the whole URL; into a body, a string that
//     is one template alone becomes the value itself (any JSON), and a
//     template inside a longer string puts the value's text there,
//     JSON-escaped; into a header value or a message, the value's text.
//     A value's text is a string's characters, or the compact JSON of
//     anything else. The filled-in request is checked as at submit; an
//     item whose request fails the check (a missing field, a bad URL, a
//     header value with a line break) fails, permanently.
//   - SLEEP, COMPUTE and FAIL run as they are.
type Batch struct {
	Items          []json.RawMessage
	ChunkSize      int
	MaxFailedItems int
	item           Step
}

// Batch limits.
const (
	MaxBatchItems         = 10_000
	MaxBatchChunkSize     = 1000
	DefaultBatchChunkSize = 100
	// MaxBatchItemBytes caps one item, as compact JSON.
	MaxBatchItemBytes = 64 << 10
)

// CodeBatchItemInvalid fails an item whose templates cannot be filled in
// (a missing field) or whose filled-in request is not valid.
const CodeBatchItemInvalid = "WORKER.BATCH_ITEM_INVALID"

// NewBatch returns the batch of item over items.
func NewBatch(item Step, items []json.RawMessage, chunkSize, maxFailed int) *Batch {
	return &Batch{Items: items, ChunkSize: chunkSize, MaxFailedItems: maxFailed, item: item}
}

// Action is the item step's action.
func (b *Batch) Action() string { return b.item.Action() }

// ItemStep is the item step as submitted (templates unfilled): its class
// is the batch's.
func (b *Batch) ItemStep() Step { return b.item }

// Simulated is one item's time budget: the batch resumes item by item
// across attempts, so one item, not the batch, must fit an attempt.
func (b *Batch) Simulated() int64 { return b.item.Simulated() }

// Run refuses: the worker runs a batch item by item (Item).
func (b *Batch) Run(context.Context, Env) error {
	return fmt.Errorf("%w: a BATCH_PROCESS step runs item by item in the worker", ErrStepFailed)
}

// Item returns the step for item i, its templates filled in. An error is
// a *CodedError (CodeBatchItemInvalid, permanent).
func (b *Batch) Item(i int) (Step, error) {
	if t, ok := b.item.(itemTemplate); ok {
		s, err := t.forItem(i, b.Items[i])
		if err != nil {
			return nil, &CodedError{Code: CodeBatchItemInvalid, Permanent: true, Err: fmt.Errorf("%w: item %d: %v", ErrStepFailed, i, err)}
		}
		return s, nil
	}
	return b.item, nil
}

// itemTemplate is an item step that binds its item.
type itemTemplate interface {
	forItem(index int, item json.RawMessage) (Step, error)
}

// BatchItem is the registry of BATCH_PROCESS item steps: SCRIPT (item
// bound), HTTP_CALL and LOG (templated), SLEEP, COMPUTE and FAIL. Steps
// carry no id.
var BatchItem = func() *Registry {
	r := NewRegistry()
	r.Register("SLEEP", parseSleep)
	r.Register("COMPUTE", parseCompute)
	r.Register("FAIL", parseFail)
	r.Register("LOG", parseItemLog)
	r.Register("HTTP_CALL", parseItemHTTP)
	r.Register("SCRIPT", parseItemScript)
	return r
}()

// --- SCRIPT ---

type itemScript struct{ scriptStep }

func parseItemScript(raw json.RawMessage) (Step, error) {
	var s scriptStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	if err := between("timeoutMs", s.TimeoutMs, 1, MaxScriptTimeoutMs, false); err != nil {
		return nil, err
	}
	p, err := script.CheckWith(s.Source, "item", "index")
	if err != nil {
		return nil, invalid("source", "%v", err)
	}
	s.prog = p
	return &itemScript{s}, nil
}

func (s *itemScript) forItem(index int, item json.RawMessage) (Step, error) {
	return &boundScript{s: &s.scriptStep, vars: map[string]json.RawMessage{
		"item": item, "index": json.RawMessage(strconv.Itoa(index))}}, nil
}

// boundScript is an item script with its item.
type boundScript struct {
	s    *scriptStep
	vars map[string]json.RawMessage
}

func (b *boundScript) Action() string   { return "SCRIPT" }
func (b *boundScript) Simulated() int64 { return b.s.Simulated() }
func (b *boundScript) Run(ctx context.Context, env Env) error {
	_, err := b.Produce(ctx, env)
	return err
}

func (b *boundScript) Produce(ctx context.Context, _ Env) (json.RawMessage, error) {
	out, err := b.s.prog.RunWith(ctx, nil, b.vars, time.Duration(b.s.Simulated())*time.Millisecond)
	return out, scriptError(err)
}

// --- LOG ---

type itemLog struct {
	logStep
	msg []tpart
}

func parseItemLog(raw json.RawMessage) (Step, error) {
	s, err := parseLog(raw)
	if err != nil {
		return nil, err
	}
	l := s.(*logStep)
	parts, err := parseTemplate(*l.Message)
	if err != nil {
		return nil, invalid("message", "%v", err)
	}
	return &itemLog{logStep: *l, msg: parts}, nil
}

func (s *itemLog) forItem(index int, item json.RawMessage) (Step, error) {
	v, err := decodeItem(item)
	if err != nil {
		return nil, err
	}
	msg, err := render(s.msg, index, v, textOf)
	if err != nil {
		return nil, err
	}
	msg = cut(msg, MaxMessageBytes)
	return &logStep{Kind: "LOG", Message: &msg}, nil
}

// --- HTTP_CALL ---

type itemHTTP struct {
	httpCallStep
	url     []tpart
	headers map[string][]tpart
	// bodyRefs: the body holds templates (else it is sent as given).
	bodyRefs bool
}

func parseItemHTTP(raw json.RawMessage) (Step, error) {
	var s httpCallStep
	if err := strict(raw, &s); err != nil {
		return nil, err
	}
	t := &itemHTTP{httpCallStep: s, headers: map[string][]tpart{}}
	var err error
	if t.url, err = parseTemplate(s.URL); err != nil {
		return nil, invalid("url", "%v", err)
	}
	for k, v := range s.Headers {
		if t.headers[k], err = parseTemplate(v); err != nil {
			return nil, invalid("headers", "%s: %v", k, err)
		}
	}
	if t.bodyRefs, err = checkBodyTemplates(s.Body); err != nil {
		return nil, invalid("body", "%v", err)
	}
	// Checked as HTTP_CALL with each template as a one-letter value.
	probe := s
	probe.URL = placeholder(t.url, "x")
	if len(t.url) == 1 && t.url[0].ref != nil {
		probe.URL = "https://x" // the whole URL from the item
	}
	if s.Headers != nil {
		probe.Headers = make(map[string]string, len(s.Headers))
		for k := range s.Headers {
			probe.Headers[k] = placeholder(t.headers[k], "x")
		}
	}
	if s.Body != nil {
		v, _ := decodeItem(s.Body)
		probe.Body = marshal(fillPlaceholders(v))
	}
	raw2, _ := json.Marshal(probe)
	p, err := parseHTTPCall(raw2)
	if err != nil {
		return nil, err
	}
	t.Method = p.(*httpCallStep).Method
	return t, nil
}

func (s *itemHTTP) forItem(index int, item json.RawMessage) (Step, error) {
	v, err := decodeItem(item)
	if err != nil {
		return nil, err
	}
	c := s.httpCallStep
	if len(s.url) == 1 && s.url[0].ref != nil {
		c.URL, err = render(s.url, index, v, textOf)
	} else {
		c.URL, err = render(s.url, index, v, urlOf)
	}
	if err != nil {
		return nil, err
	}
	if s.Headers != nil {
		c.Headers = make(map[string]string, len(s.Headers))
		for k := range s.Headers {
			if c.Headers[k], err = render(s.headers[k], index, v, textOf); err != nil {
				return nil, err
			}
		}
	}
	if s.bodyRefs {
		if c.Body, err = fillBody(s.Body, index, v); err != nil {
			return nil, err
		}
	}
	if c.URL != "" || c.LatencyMs == nil {
		if err := checkRequest(c.URL, &c.Method, httpCallMethods, c.Headers, c.Body); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, fmt.Errorf("the filled-in %s %s", fe.Field, fe.Message)
			}
			return nil, err
		}
	}
	return &c, nil
}

// --- templates ---

// tpart is a literal or a reference: {{index}}, {{item}} or
// {{item.<path>}}.
type tpart struct {
	lit string
	ref *tref
}

type tref struct {
	index bool
	path  []string
}

func (r *tref) String() string {
	if r.index {
		return "{{index}}"
	}
	if len(r.path) == 0 {
		return "{{item}}"
	}
	return "{{item." + strings.Join(r.path, ".") + "}}"
}

// parseTemplate splits s into literals and references. A "{{" must open
// a valid reference.
func parseTemplate(s string) ([]tpart, error) {
	var out []tpart
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			if s != "" {
				out = append(out, tpart{lit: s})
			}
			return out, nil
		}
		if i > 0 {
			out = append(out, tpart{lit: s[:i]})
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("%q opens a template that is never closed with }}", cut(s[i:], 40))
		}
		expr := strings.TrimSpace(s[i+2 : i+j])
		r, err := parseRef(expr)
		if err != nil {
			return nil, err
		}
		out = append(out, tpart{ref: r})
		s = s[i+j+2:]
	}
}

func parseRef(expr string) (*tref, error) {
	bad := fmt.Errorf("{{%s}} is not a template; use {{item}}, {{item.<field>}} (a path such as item.user.id or item.tags.0) or {{index}}", expr)
	switch {
	case expr == "index":
		return &tref{index: true}, nil
	case expr == "item":
		return &tref{}, nil
	case !strings.HasPrefix(expr, "item."):
		return nil, bad
	}
	path := strings.Split(strings.TrimPrefix(expr, "item."), ".")
	for _, p := range path {
		if p == "" || strings.ContainsAny(p, "{} \t\n\"\\") {
			return nil, bad
		}
	}
	return &tref{path: path}, nil
}

// placeholder renders parts with every reference as v.
func placeholder(parts []tpart, v string) string {
	var b strings.Builder
	for _, p := range parts {
		if p.ref != nil {
			b.WriteString(v)
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// decodeItem decodes an item, numbers kept as written.
func decodeItem(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the item is not JSON: %v", err)
	}
	return v, nil
}

// lookup resolves a reference against an item.
func lookup(r *tref, index int, item any) (any, error) {
	if r.index {
		return json.Number(strconv.Itoa(index)), nil
	}
	v := item
	for k, p := range r.path {
		switch x := v.(type) {
		case map[string]any:
			f, ok := x[p]
			if !ok {
				return nil, fmt.Errorf("%s: the item has no field %q", r, strings.Join(r.path[:k+1], "."))
			}
			v = f
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(x) {
				return nil, fmt.Errorf("%s: the item has no element %q (an array of %d)", r, strings.Join(r.path[:k+1], "."), len(x))
			}
			v = x[n]
		default:
			return nil, fmt.Errorf("%s: the item's %q is not an object or array", r, strings.Join(append([]string{"item"}, r.path[:k]...), "."))
		}
	}
	return v, nil
}

// textOf is a value's text: a string's characters, else compact JSON.
func textOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(marshal(v))
}

// urlOf is a value's text, URL-escaped: every byte outside the
// unreserved set as %XX, safe in a path segment and in a query.
func urlOf(v any) string {
	s := textOf(v)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// render fills in parts, each value through enc.
func render(parts []tpart, index int, item any, enc func(any) string) (string, error) {
	var b strings.Builder
	for _, p := range parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := lookup(p.ref, index, item)
		if err != nil {
			return "", err
		}
		b.WriteString(enc(v))
	}
	return b.String(), nil
}

// checkBodyTemplates checks the templates in a body's strings and says
// whether there are any.
func checkBodyTemplates(raw json.RawMessage) (bool, error) {
	if raw == nil {
		return false, nil
	}
	v, err := decodeItem(raw)
	if err != nil {
		return false, err
	}
	refs := false
	err = walkStrings(v, func(s string) error {
		parts, err := parseTemplate(s)
		for _, p := range parts {
			refs = refs || p.ref != nil
		}
		return err
	})
	return refs, err
}

func walkStrings(v any, f func(string) error) error {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		for _, e := range x {
			if err := walkStrings(e, f); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := walkStrings(e, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillBody fills in the templates of a body's strings: a string that is
// one reference alone becomes the value; a reference inside a longer
// string puts the value's text there. The result is compact JSON, with
// every string JSON-escaped by the encoder.
func fillBody(raw json.RawMessage, index int, item any) (json.RawMessage, error) {
	v, err := decodeItem(raw)
	if err != nil {
		return nil, err
	}
	out, err := fillValue(v, index, item)
	if err != nil {
		return nil, err
	}
	return marshal(out), nil
}

func fillValue(v any, index int, item any) (any, error) {
	switch x := v.(type) {
	case string:
		parts, err := parseTemplate(x)
		if err != nil {
			return nil, err
		}
		if len(parts) == 1 && parts[0].ref != nil {
			return lookup(parts[0].ref, index, item)
		}
		return render(parts, index, item, textOf)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			f, err := fillValue(e, index, item)
			if err != nil {
				return nil, err
			}
			out[k] = f
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			f, err := fillValue(e, index, item)
			if err != nil {
				return nil, err
			}
			out[i] = f
		}
		return out, nil
	}
	return v, nil
}

// fillPlaceholders replaces every reference in a body's strings by "x".
func fillPlaceholders(v any) any {
	switch x := v.(type) {
	case string:
		parts, _ := parseTemplate(x)
		return placeholder(parts, "x")
	case map[string]any:
		for k, e := range x {
			x[k] = fillPlaceholders(e)
		}
	case []any:
		for i, e := range x {
			x[i] = fillPlaceholders(e)
		}
	}
	return v
}

// scriptError words a script failure with its code.
func scriptError(err error) error {
	if err == nil {
		return nil
	}
	var se *script.Error
	if errors.As(err, &se) && se.Budget {
		return &CodedError{Code: CodeScriptBudget, Err: fmt.Errorf("%w: script: %v", ErrStepFailed, err)}
	}
	return &CodedError{Code: CodeScriptFailed, Err: fmt.Errorf("%w: script: %v", ErrStepFailed, err)}
}
