package script

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name, src string
		line      int
		msg       string
	}{
		{"ok", "result = 1", 0, ""},
		{"syntax error", "x = 1\ny = (\n", 3, "got end of file"},
		{"undefined name", "x = 1\nresult = nope\n", 2, "undefined: nope"},
		{"load", "load('x', 'y')\nresult = 1", 1, "load is not available"},
		{"reserved name", "result = _jw_mul(1, 2)", 1, "reserved"},
		{"join not called", "f = ','.join\nresult = f(['a'])", 1, "may only be called directly"},
		{"list not called", "f = list\nresult = f([1])", 1, "may only be called directly"},
		{"max rebound", "def max(a):\n  return a\nresult = 1", 1, "not rebound"},
		{"recursion allowed syntactically", "def f(n):\n  return f(n)\nresult = 1", 0, ""},
		{"empty", "", 0, "empty"},
		{"too long", "result = 1 #" + strings.Repeat("x", MaxSourceBytes), 0, "at most"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check(c.src)
			if c.msg == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Check = %v; want *Error", err)
			}
			if se.Line != c.line || !strings.Contains(se.Msg, c.msg) {
				t.Errorf("Check = line %d %q; want line %d containing %q", se.Line, se.Msg, c.line, c.msg)
			}
		})
	}
}

func TestRun(t *testing.T) {
	in := map[string]json.RawMessage{
		"fetch": json.RawMessage(`{"status":200,"body":{"items":[1,2,3],"name":"x"}}`),
	}
	for _, c := range []struct {
		name, src string
		want      string // JSON result, or
		errMsg    string // error text it contains
		budget    bool
		line      int
	}{
		{"reads outputs", `t = 0
for i in outputs["fetch"]["body"]["items"]:
    t += i
result = {"total": t, "name": outputs["fetch"]["body"]["name"].upper()}`, `{"name":"X","total":6}`, "", false, 0},
		{"json module", `result = json.decode(json.encode({"a": [1, "b"]}))`, `{"a":[1,"b"]}`, "", false, 0},
		{"augmented list stays in place", "a = [1]\nb = a\na += [2]\nresult = b", `[1,2]`, "", false, 0},
		{"string ops", `result = "-".join(["a", "b"]) + "x" * 3 + "%d" % 5 + "{}".format("y") + "ab".replace("a", "c")`, `"a-bxxx5ycb"`, "", false, 0},
		{"no result", "x = 1", "", "did not set a global named result", false, 0},
		{"runtime error names line", "x = 1\ny = {}\nresult = y[\"missing\"]", "", "missing", false, 3},
		{"recursion", "def f(n):\n  return f(n)\nresult = f(1)", "", "called recursively", false, 2},
		{"infinite loop", "x = 0\nwhile True:\n  x += 1\nresult = x", "", "steps", true, 0},
		{"huge repeat", `result = len("x" * 1000000000)`, "", "at most", true, 1},
		{"huge tuple repeat", `result = len((1,) * 1073741823)`, "", "at most", true, 1},
		{"doubling", "s = \"x\"\nfor i in range(64):\n  s += s\nresult = len(s)", "", "at most", true, 3},
		{"join blowup", "s = \"x\" * 1000000\nl = []\nfor i in range(1000):\n  l.append(s)\nresult = len(\"\".join(l))", "", "at most", true, 5},
		{"replace blowup", "s = \"x\" * 2000\nresult = len(s.replace(\"\", s))", "", "at most", true, 2},
		{"str blowup", "s = \"x\" * 1000000\nl = []\nfor i in range(1000):\n  l.append(s)\nresult = len(str(l))", "", "at most", true, 5},
		{"encode blowup", "s = \"x\" * 1000000\nl = []\nfor i in range(1000):\n  l.append(s)\nresult = len(json.encode(l))", "", "at most", true, 5},
		{"huge result", `result = "x" * 1000000`, "", "output limit", true, 0},
		{"str of a deep nest", "l = []\nfor i in range(1000000):\n  l = [l]\nresult = len(str(l))", "", "nested more than 100", true, 4},
		{"encode of a deep nest", "l = []\nfor i in range(200):\n  l = [l]\nresult = len(json.encode(l))", "", "nested more than 100", true, 4},
		{"deep result", "l = []\nfor i in range(200):\n  l = [l]\nresult = l", "", "nested more than 100", true, 0},
		{"decode of a deep text", `result = json.decode("[" * 1000000)`, "", "nested more than 100", true, 1},
		{"json.indent refused", `result = json.indent("[1]")`, "", "not available", false, 1},
		{"nesting at the limit", "l = 1\nfor i in range(99):\n  l = [l]\nresult = len(json.encode(json.decode(json.encode(l)))) + len(str(l))", "398", "", false, 0},
		{"list of a huge range", `result = len(list(range(1 << 40)))`, "", "at most", true, 1},
		{"max of a huge range", `result = max(range(1 << 62))`, "", "at most", true, 1},
		{"sorted of a huge range", `result = sorted(range(1 << 30))[0]`, "", "at most", true, 1},
		{"extend with a huge range", "l = []\nl.extend(range(1 << 40))\nresult = 1", "", "at most", true, 2},
		{"set union with a huge range", "s = set()\nresult = len(s.union(range(1 << 40)))", "", "at most", true, 2},
		{"integer squaring", "x = 2 << 500\nfor i in range(64):\n  x = x * x\nresult = 1", "", "bits", true, 3},
		{"integer augmented squaring", "x = 2 << 500\nfor i in range(64):\n  x *= x\nresult = 1", "", "bits", true, 3},
		{"getattr of a guarded method", "l = []\nf = getattr(l, \"extend\")\nresult = 1", "", "only be called directly", false, 2},
		{"builtins still work", `result = [sorted([3, 1, 2]), max(1, 5), min([4, 2]), list(range(3)), tuple("ab".elems()), dict(a = 1), any([False, True]), all([]), list(enumerate(["a"])), list(zip([1], [2])), list(reversed([1, 2])), str(1), repr("x"), getattr("x", "upper")()]`, `[[1,2,3],5,2,[0,1,2],["a","b"],{"a":1},true,true,[[0,"a"]],[[1,2]],[2,1],"1","\"x\"","X"]`, "", false, 0},
		{"result at the limit", `result = "x" * (65536 - 2)`, `"` + strings.Repeat("x", 65534) + `"`, "", false, 0},
		{"outputs frozen", `outputs["x"] = 1
result = 1`, "", "frozen", false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Check(c.src)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			start := time.Now()
			out, err := p.Run(context.Background(), in, 2*time.Second)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("Run took %s; a bound must stop it", el)
			}
			if c.errMsg == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if string(out) != c.want {
					t.Errorf("Run = %s; want %s", out, c.want)
				}
				return
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Run = %s, %v; want *Error", out, err)
			}
			if !strings.Contains(se.Msg, c.errMsg) || se.Budget != c.budget || (c.line != 0 && se.Line != c.line) {
				t.Errorf("Run error = line %d budget %v %q; want line %d budget %v containing %q", se.Line, se.Budget, se.Msg, c.line, c.budget, c.errMsg)
			}
		})
	}
}

func TestRunWallClock(t *testing.T) {
	// Sorting big lists: few steps, much time.
	p, err := Check("l = list(range(100000))\nfor i in range(1000000):\n  l = sorted(l, reverse = True)\nresult = 1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Run(context.Background(), nil, 200*time.Millisecond)
	var se *Error
	if !errors.As(err, &se) || !se.Budget || !strings.Contains(se.Msg, "longer than") {
		t.Fatalf("Run = %v; want a wall-clock budget error", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %s past a 200ms limit", el)
	}
}

func TestRunInputLimit(t *testing.T) {
	p, _ := Check("result = 1")
	big := json.RawMessage(`"` + strings.Repeat("x", MaxInputBytes) + `"`)
	_, err := p.Run(context.Background(), map[string]json.RawMessage{"a": big}, 0)
	var se *Error
	if !errors.As(err, &se) || !se.Budget {
		t.Fatalf("Run = %v; want an input budget error", err)
	}
	atLimit := json.RawMessage(`"` + strings.Repeat("x", MaxInputBytes-2) + `"`)
	if _, err := p.Run(context.Background(), map[string]json.RawMessage{"a": atLimit}, 0); err != nil {
		t.Fatalf("Run at the input limit: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"result = 1", "x = (", "def f():\n  return 1\nresult = f()", "a += [1]", "result = ','.join(['a'])"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Check(src)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Check(%q) = %T %v; want *Error", src, err, err)
			}
			return
		}
		if p == nil {
			t.Fatal("nil program without error")
		}
	})
}

// FuzzRun: whatever compiles runs to an end (a result or an *Error) in
// bounded time.
func FuzzRun(f *testing.F) {
	for _, s := range []string{"result = 1", "x = 0\nwhile True:\n  x += 1", "s = 'x'\nfor i in range(64):\n  s += s\nresult = s",
		"l = []\nfor i in range(1000):\n  l = [l]\nresult = str(l)", "result = sorted(list(range(1000)), reverse = True)",
		"result = {'a': [1, 2.5, None, True, 'x' * 10]}", "result = json.decode(json.encode(outputs))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Check(src)
		if err != nil {
			return
		}
		done := make(chan error, 1)
		go func() {
			_, err := p.Run(context.Background(), map[string]json.RawMessage{"a": json.RawMessage(`{"n":[1,2,3]}`)}, 100*time.Millisecond)
			done <- err
		}()
		select {
		case err := <-done:
			var se *Error
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("Run(%q) = %T %v; want *Error", src, err, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Run(%q) did not end within 5 s of a 100 ms limit", src)
		}
	})
}
