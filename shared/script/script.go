// Package script is the sandbox of the SCRIPT step: a Starlark program
// (go.starlark.net) that reads the outputs of earlier steps as
// outputs["<id>"] and sets a global named result, which becomes its
// output.
//
// A script has the json module (go.starlark.net/lib/json) and nothing
// else: no load, no clock, no I/O; print is discarded. Recursion stays
// forbidden (Starlark's default); while loops and top-level for/if are
// allowed. A script is bounded by
//   - MaxSourceBytes of source, checked at submit (Check);
//   - MaxSteps Starlark execution steps (Thread.SetMaxExecutionSteps);
//   - a wall-clock limit (Thread.Cancel when it passes);
//   - MaxValueLen: the operators and calls that can build a large value
//     in one step (* + % and their augmented forms, join, replace,
//     format, extend, str, repr, json.encode, json.indent) are rewritten
//     at parse time into checked calls that refuse, before allocating, a
//     result over MaxValueLen bytes or elements (see guard.go);
//   - a heap watchdog: if the process heap grows by more than
//     MaxHeapGrowth while the script runs, the script is cancelled;
//   - MaxInputBytes of outputs in, MaxOutputBytes of result out.
//
// A failure is an *Error: Budget says a bound was hit, Line (1-based,
// 0 when unknown) where.
package script

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/metrics"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Limits.
const (
	MaxSourceBytes = 16 << 10
	MaxSteps       = 10_000_000
	DefaultTimeout = time.Second
	MaxTimeout     = 10 * time.Second
	MaxValueLen    = 1 << 20
	MaxInputBytes  = 256 << 10
	MaxOutputBytes = 64 << 10
	MaxHeapGrowth  = 256 << 20
)

// Error is a script that cannot be compiled or that failed.
type Error struct {
	Line   int  // 1-based; 0 when unknown
	Budget bool // a bound (steps, time, size, memory) was hit
	Msg    string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// Program is a checked, compiled script.
type Program struct{ prog *starlark.Program }

var predeclaredNames = map[string]bool{"outputs": true, "json": true}

func isPredeclared(name string) bool { return predeclaredNames[name] || guardNames[name] }

// Check parses, rewrites and compiles source. A syntax or name error
// names its line.
func Check(source string) (*Program, error) { return CheckWith(source) }

// CheckWith is Check for a script that may also read the globals named
// vars (a BATCH_PROCESS item script reads item and index), bound by
// RunWith.
func CheckWith(source string, vars ...string) (*Program, error) {
	if len(source) == 0 {
		return nil, &Error{Msg: "source is empty"}
	}
	if len(source) > MaxSourceBytes {
		return nil, &Error{Msg: fmt.Sprintf("source must be at most %d bytes (got %d)", MaxSourceBytes, len(source))}
	}
	f, err := fileOptions.Parse("script", source, 0)
	if err != nil {
		var se syntax.Error
		if errors.As(err, &se) {
			return nil, &Error{Line: int(se.Pos.Line), Msg: se.Msg}
		}
		return nil, &Error{Msg: err.Error()}
	}
	if err := rewrite(f); err != nil {
		return nil, err
	}
	prog, err := starlark.FileProgram(f, func(name string) bool {
		return isPredeclared(name) || slices.Contains(vars, name)
	})
	if err != nil {
		return nil, compileError(err)
	}
	return &Program{prog: prog}, nil
}

func compileError(err error) error {
	var se syntax.Error
	if errors.As(err, &se) {
		return &Error{Line: int(se.Pos.Line), Msg: se.Msg}
	}
	// resolve.ErrorList: the first error, "script:LINE:COL: msg".
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "script:"); ok {
		var line, col int
		if n, _ := fmt.Sscanf(rest, "%d:%d:", &line, &col); n == 2 {
			_, m, _ := strings.Cut(rest, ": ")
			if i := strings.Index(m, "\n"); i >= 0 {
				m = m[:i]
			}
			return &Error{Line: line, Msg: m}
		}
	}
	return &Error{Msg: msg}
}

// Run runs p with outputs (earlier steps' outputs by step ID, each a JSON
// document) bound as outputs, within timeout (DefaultTimeout when 0) and
// ctx, and returns the JSON encoding of its global result.
func (p *Program) Run(ctx context.Context, outputs map[string]json.RawMessage, timeout time.Duration) (out json.RawMessage, err error) {
	return p.RunWith(ctx, outputs, nil, timeout)
}

// RunWith is Run with vars (each a JSON document, decoded) bound as
// globals of their names too, as CheckWith declared them; they count
// against MaxInputBytes with the outputs.
func (p *Program) RunWith(ctx context.Context, outputs, vars map[string]json.RawMessage, timeout time.Duration) (out json.RawMessage, err error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var in int
	for _, v := range outputs {
		in += len(v)
	}
	for _, v := range vars {
		in += len(v)
	}
	if in > MaxInputBytes {
		return nil, &Error{Budget: true, Msg: fmt.Sprintf("the earlier steps' outputs take %d bytes; a script reads at most %d", in, MaxInputBytes)}
	}
	thread := &starlark.Thread{Name: "script", Print: func(*starlark.Thread, string) {}}
	var why atomic.Pointer[string]
	stop := func(reason string) {
		why.CompareAndSwap(nil, &reason)
		thread.Cancel(reason)
	}
	thread.SetMaxExecutionSteps(MaxSteps)
	thread.OnMaxSteps = func(*starlark.Thread) {
		stop(fmt.Sprintf("the script ran more than %d steps", MaxSteps))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				stop(fmt.Sprintf("the script ran longer than %s", timeout))
			} else {
				stop("the step was cancelled")
			}
		case <-done:
		}
	}()
	go watchHeap(done, stop)

	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &Error{Msg: fmt.Sprintf("the script crashed: %v", r)}
		}
	}()
	od, err := decodeOutputs(thread, outputs)
	if err != nil {
		return nil, err
	}
	pre := starlark.StringDict{"outputs": od, "json": starjson.Module}
	for name, raw := range vars {
		v, err := starlark.Call(thread, starjson.Module.Members["decode"], starlark.Tuple{starlark.String(raw)}, nil)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("%s is not JSON: %v", name, err)}
		}
		v.Freeze()
		pre[name] = v
	}
	for name, fn := range guards {
		pre[name] = fn
	}
	globals, err := p.prog.Init(thread, pre)
	if err != nil {
		return nil, runError(err, why.Load())
	}
	res, ok := globals["result"]
	if !ok {
		return nil, &Error{Msg: "the script did not set a global named result"}
	}
	if n := deepSize(res, MaxOutputBytes+1); n >= tooDeep {
		return nil, &Error{Budget: true, Msg: fmt.Sprintf("result is nested more than %d levels deep", MaxNesting)}
	} else if n > MaxOutputBytes {
		return nil, &Error{Budget: true, Msg: fmt.Sprintf("result is over the %d-byte output limit", MaxOutputBytes)}
	}
	enc, err := starlark.Call(thread, starjson.Module.Members["encode"], starlark.Tuple{res}, nil)
	if err != nil {
		return nil, runError(err, why.Load())
	}
	s, _ := starlark.AsString(enc)
	if len(s) > MaxOutputBytes {
		return nil, &Error{Budget: true, Msg: fmt.Sprintf("result takes %d bytes as JSON; the limit is %d", len(s), MaxOutputBytes)}
	}
	return json.RawMessage(s), nil
}

func decodeOutputs(thread *starlark.Thread, outputs map[string]json.RawMessage) (*starlark.Dict, error) {
	d := starlark.NewDict(len(outputs))
	ids := make([]string, 0, len(outputs))
	for id := range outputs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v, err := starlark.Call(thread, starjson.Module.Members["decode"], starlark.Tuple{starlark.String(outputs[id])}, nil)
		if err != nil {
			return nil, &Error{Msg: fmt.Sprintf("outputs[%q] is not JSON: %v", id, err)}
		}
		_ = d.SetKey(starlark.String(id), v)
	}
	d.Freeze()
	return d, nil
}

// runError turns an evaluation error into an *Error naming the line of
// the innermost frame; why is set when a bound cancelled the thread.
func runError(err error, why *string) error {
	line := 0
	msg := err.Error()
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		msg = ee.Msg
		for i := len(ee.CallStack) - 1; i >= 0; i-- {
			if l := int(ee.CallStack[i].Pos.Line); l > 0 {
				line = l
				break
			}
		}
	}
	if why != nil {
		return &Error{Line: line, Budget: true, Msg: *why}
	}
	var be *budgetError
	if errors.As(err, &be) {
		return &Error{Line: line, Budget: true, Msg: be.msg}
	}
	return &Error{Line: line, Msg: msg}
}

// watchHeap cancels the script when the heap grows by more than
// MaxHeapGrowth while it runs.
func watchHeap(done <-chan struct{}, stop func(string)) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > base+MaxHeapGrowth {
				stop(fmt.Sprintf("the script used more than %d MiB of memory", MaxHeapGrowth>>20))
				return
			}
		}
	}
}
