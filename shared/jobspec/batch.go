package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/jobweaver/jobweaver/shared/envelope"
	"github.com/jobweaver/jobweaver/shared/step"
)

// BatchProcess is BATCH_PROCESS: payload {items: [...] (1 to
// step.MaxBatchItems JSON values, each at most step.MaxBatchItemBytes),
// chunkSize? (1 to step.MaxBatchChunkSize, default
// step.DefaultBatchChunkSize), maxFailedItems? (0 to step.MaxBatchItems,
// default 0), step: {one step.BatchItem step}}. The step runs once per
// item (step.Batch); the worker checkpoints the items' results chunk by
// chunk and keeps the batch's output {total, succeeded, failed, ...}.
// The whole payload must also fit the job's events (Job.CheckSize).
var BatchProcess = Type{Name: "BATCH_PROCESS", Schema: "BatchProcessPayload", KeepsOutputs: true, Resumes: true, Parse: parseBatch}

type batchPayload struct {
	Items          []json.RawMessage `json:"items"`
	ChunkSize      *int64            `json:"chunkSize,omitempty"`
	MaxFailedItems *int64            `json:"maxFailedItems,omitempty"`
	Step           json.RawMessage   `json:"step"`
}

func parseBatch(raw json.RawMessage) (Plan, []string) {
	const shape = `{"items": [...], "step": {...}}`
	if len(raw) == 0 || string(raw) == "null" {
		return Plan{}, []string{"payload: is required, as " + shape}
	}
	var p batchPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return Plan{}, []string{fmt.Sprintf("payload.%s: must be %s (got %s)", ute.Field, step.JSONType(ute.Type), ute.Value)}
		}
		return Plan{}, []string{"payload: must be an object " + shape}
	}
	if msg := checkKeys("payload.", raw, &p); msg != "" {
		return Plan{}, []string{msg}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch {
	case p.Items == nil:
		add("payload.items: is required: an array of 1 to %d JSON values", step.MaxBatchItems)
	case len(p.Items) == 0 || len(p.Items) > step.MaxBatchItems:
		add("payload.items: must hold 1 to %d items (got %d): split a longer list into several jobs", step.MaxBatchItems, len(p.Items))
	}
	items := make([]json.RawMessage, len(p.Items))
	for i, it := range p.Items {
		if len(problems) >= 10 {
			break
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, it)
		if buf.Len() > step.MaxBatchItemBytes {
			add("payload.items[%d]: must take at most %d bytes as compact JSON (got %d)", i, step.MaxBatchItemBytes, buf.Len())
			continue
		}
		plain, err := plainNumbers(buf.Bytes())
		if err != nil {
			add("payload.items[%d]: %v", i, err)
			continue
		}
		items[i] = plain
	}
	chunk := int64(step.DefaultBatchChunkSize)
	if p.ChunkSize != nil {
		if chunk = *p.ChunkSize; chunk < 1 || chunk > step.MaxBatchChunkSize {
			add("payload.chunkSize: must be between 1 and %d (got %d)", step.MaxBatchChunkSize, chunk)
		}
	}
	var maxFailed int64
	if p.MaxFailedItems != nil {
		if maxFailed = *p.MaxFailedItems; maxFailed < 0 || maxFailed > step.MaxBatchItems {
			add("payload.maxFailedItems: must be between 0 and %d (got %d)", step.MaxBatchItems, maxFailed)
		}
	}
	var item step.Step
	switch {
	case len(p.Step) == 0 || string(p.Step) == "null":
		add(`payload.step: is required: the step each item runs, such as {"action": "HTTP_CALL", "url": "https://example.com/users/{{item.id}}"}`)
	default:
		plain, err := plainNumbers(p.Step)
		if err != nil {
			add("payload.step: %v", err)
			break
		}
		p.Step = plain
		s, err := step.BatchItem.Parse(p.Step)
		if err != nil {
			problems = append(problems, fieldProblem("payload.step.", err))
			break
		}
		// An item runs within one invocation (items do not park): its
		// budget is a step's (MaxStepMs), which the worker's timeout holds.
		if s.Simulated() > MaxStepMs {
			add("payload.step: one item's time budget is %d ms, over the step time limit of %d ms: shorten the step, or split it into a DATA_PIPELINE", s.Simulated(), MaxStepMs)
		}
		item = s
	}
	if len(problems) > 0 {
		return Plan{}, problems
	}
	// Stored in one canonical form, numbers written out (plainNumbers).
	payload, _ := envelope.JSON(batchPayload{Items: items, ChunkSize: p.ChunkSize, MaxFailedItems: p.MaxFailedItems, Step: p.Step})
	b := step.NewBatch(item, items, int(chunk), int(maxFailed))
	return Plan{Steps: []step.Step{b}, Parts: []json.RawMessage{payload}, Payload: payload}, nil
}

// MaxNumberExponent bounds the exponent of a number written with one
// (1e30) in a BATCH_PROCESS payload. Postgres jsonb, which the scheduler
// keeps payloads in, writes numbers out in full (1e100 comes back as 101
// bytes), so a payload within every limit as submitted could otherwise
// outgrow the broker's once stored. Numbers with an exponent are stored
// written out, as jsonb would write them, and counted that way.
const MaxNumberExponent = 30

// plainNumbers returns the compact JSON value raw with every number that
// has an exponent written out ("1.5e3" as "1500"), or an error for an
// exponent beyond MaxNumberExponent. Without such numbers, raw is
// returned as it is.
func plainNumbers(raw json.RawMessage) (json.RawMessage, error) {
	if !hasExponent(raw) {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("is not JSON: %v", err)
	}
	v, err := plainValue(v)
	if err != nil {
		return nil, err
	}
	return envelope.JSON(v)
}

// hasExponent says whether a compact JSON text has a number with an
// exponent: a digit followed by e or E outside strings.
func hasExponent(doc []byte) bool {
	found := false
	outsideStrings(doc, func(i int) bool {
		c := doc[i]
		found = (c == 'e' || c == 'E') && i > 0 && doc[i-1] >= '0' && doc[i-1] <= '9'
		return !found
	})
	return found
}

func plainValue(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return plainNumber(x)
	case map[string]any:
		for k, e := range x {
			p, err := plainValue(e)
			if err != nil {
				return nil, err
			}
			x[k] = p
		}
	case []any:
		for i, e := range x {
			p, err := plainValue(e)
			if err != nil {
				return nil, err
			}
			x[i] = p
		}
	}
	return v, nil
}

// plainNumber writes n out without its exponent, keeping its decimal
// places as Postgres numeric does ("1.50e1" is "15.0").
func plainNumber(n json.Number) (json.Number, error) {
	s := string(n)
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return n, nil
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
	if err != nil || exp > MaxNumberExponent || exp < -MaxNumberExponent {
		return "", fmt.Errorf("the number %s has an exponent beyond ±%d: Postgres would store it written out in full; send it as a string", cutNumber(s), MaxNumberExponent)
	}
	frac := 0
	if d := strings.IndexByte(s[:i], '.'); d >= 0 {
		frac = i - d - 1
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", fmt.Errorf("the number %s is not valid", cutNumber(s))
	}
	return json.Number(r.FloatString(max(frac-exp, 0))), nil
}

func cutNumber(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
