package script

import (
	"fmt"
	"reflect"
	"strings"

	starjson "go.starlark.net/lib/json"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// The rewrite turns every expression that can build a large value in one
// Starlark step into a call of a guard, which estimates the size of the
// result from its operands and refuses it, before allocating, when it
// would exceed MaxValueLen:
//
//	x * y, x + y, x % y        -> _jw_mul(x, y), _jw_add(x, y), _jw_mod(x, y)
//	x *= y, x += y, x %= y     -> x = _jw_imul(x, y), ... (lists keep += in place)
//	r.join(...), r.replace(...), r.format(...), r.extend(...)
//	                           -> _jw_call(r, "join", ...)
//	json.encode(...), json.indent(...), str(...), repr(...)
//	                           -> _jw_call(json, "encode", ...), _jw_str(...), _jw_repr(...)
//	list(x), sorted(x), max(x), ... (every builtin that walks an iterable
//	in one call), getattr(x, n)
//	                           -> _jw_list(x), _jw_sorted(x), ...
//
// The universal builtins that walk an iterable refuse one of more than
// MaxValueLen elements (list(range(1 << 40)) would otherwise allocate, or
// max(range(1 << 62)) spin, inside one step, where neither the step
// budget nor Thread.Cancel can stop it); int * int refuses a product over
// 8 × MaxValueLen bits. Names starting with _jw_ are reserved; a script
// may not use them, may use the guarded methods only as direct calls
// (x.join(l), not f = x.join), and may use the guarded builtins only as
// direct calls and not rebind them.

const guardPrefix = "_jw_"

var guardedMethods = map[string]bool{"join": true, "replace": true, "format": true, "extend": true, "encode": true, "indent": true, "decode": true,
	"union": true, "update": true, "difference": true, "intersection": true, "symmetric_difference": true,
	"issubset": true, "issuperset": true}

// guardedUniversals are rewritten to _jw_<name>; they may only be called
// directly.
var guardedUniversals = map[string]bool{"str": true, "repr": true, "getattr": true,
	"list": true, "tuple": true, "sorted": true, "reversed": true, "enumerate": true, "zip": true,
	"set": true, "dict": true, "max": true, "min": true, "any": true, "all": true, "bytes": true}

var guardNames = map[string]bool{}

var guards = starlark.StringDict{}

func init() {
	for name, fn := range map[string]func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error){
		"_jw_mul":     binGuard(syntax.STAR),
		"_jw_add":     binGuard(syntax.PLUS),
		"_jw_mod":     binGuard(syntax.PERCENT),
		"_jw_imul":    binGuard(syntax.STAR),
		"_jw_iadd":    iadd,
		"_jw_imod":    binGuard(syntax.PERCENT),
		"_jw_call":    callGuard,
		"_jw_str":     universalGuard("str"),
		"_jw_repr":    universalGuard("repr"),
		"_jw_getattr": getattrGuard,
	} {
		guardNames[name] = true
		guards[name] = starlark.NewBuiltin(name, fn)
	}
	for name := range guardedUniversals {
		if guards["_jw_"+name] == nil {
			guardNames["_jw_"+name] = true
			guards["_jw_"+name] = starlark.NewBuiltin("_jw_"+name, iterGuard(name))
		}
	}
}

// iterLen is how many elements walking v visits, when that is known.
func iterLen(v starlark.Value) int {
	if s, ok := v.(starlark.Sequence); ok {
		return clampLen(s.Len())
	}
	if m, ok := v.(starlark.IterableMapping); ok {
		return clampLen(len(m.Items()))
	}
	return 0
}

// iterGuard calls the universal name after checking that none of its
// arguments walks more than MaxValueLen elements.
func iterGuard(name string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		for _, a := range args {
			if n := iterLen(a); n > MaxValueLen {
				return nil, tooBig(name+"()", n)
			}
		}
		return starlark.Call(thread, starlark.Universe[name], args, kwargs)
	}
}

// getattrGuard is getattr, refusing the guarded methods.
func getattrGuard(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) >= 2 {
		if n, ok := starlark.AsString(args[1]); ok && guardedMethods[n] {
			return nil, fmt.Errorf("getattr: .%s may only be called directly, as x.%s(...)", n, n)
		}
	}
	return starlark.Call(thread, starlark.Universe["getattr"], args, kwargs)
}

type budgetError struct{ msg string }

func (e *budgetError) Error() string { return e.msg }

func tooBig(what string, n int) error {
	if n >= tooDeep {
		return &budgetError{msg: fmt.Sprintf("%s would be too large or nested more than %d levels deep", what, MaxNesting)}
	}
	return &budgetError{msg: fmt.Sprintf("%s would hold about %d bytes or elements; a value may hold at most %d", what, n, MaxValueLen)}
}

// MaxNesting caps how deep the values that str, repr, json.encode and
// json.decode handle and a result may nest: Starlark walks them
// recursively, in one step, in time that grows with the square of the
// depth.
const MaxNesting = 100

// tooDeep is deepSize's answer for a value nested deeper than MaxNesting.
const tooDeep = 1 << 45

// clampLen keeps a length estimate below tooDeep.
func clampLen(n int) int { return min(n, 1<<40) }

// jsonDepth is how deep a JSON text nests.
func jsonDepth(s string) int {
	depth, deepest, in, esc := 0, 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case in:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// deepSize estimates the bytes and elements v holds, counting a value
// each time it is referenced; it stops counting past limit.
func deepSize(v starlark.Value, limit int) int {
	n := 0
	var walk func(v starlark.Value, depth int)
	walk = func(v starlark.Value, depth int) {
		if depth > MaxNesting {
			n = tooDeep
			return
		}
		if n > limit {
			return
		}
		switch x := v.(type) {
		case starlark.String:
			n += len(x) + 2
		case starlark.Bytes:
			n += len(x) + 2
		case *starlark.List:
			n++
			for i := 0; i < x.Len() && n <= limit; i++ {
				walk(x.Index(i), depth+1)
			}
		case starlark.Tuple:
			n++
			for _, e := range x {
				if n > limit {
					break
				}
				walk(e, depth+1)
			}
		case *starlark.Dict:
			n++
			for _, kv := range x.Items() {
				if n > limit {
					break
				}
				walk(kv[0], depth+1)
				walk(kv[1], depth+1)
			}
		case *starlark.Set:
			n += x.Len()
		default:
			n += 8
		}
	}
	walk(v, 0)
	return n
}

// flatSize is a string's or bytes' length, or a container's deepSize.
func flatSize(v starlark.Value) int {
	switch x := v.(type) {
	case starlark.String:
		return len(x)
	case starlark.Bytes:
		return len(x)
	}
	return deepSize(v, MaxValueLen)
}

func seqLen(v starlark.Value) (int, bool) {
	switch x := v.(type) {
	case starlark.String:
		return len(x), true
	case starlark.Bytes:
		return len(x), true
	case *starlark.List:
		return x.Len(), true
	case starlark.Tuple:
		return len(x), true
	}
	return 0, false
}

func binGuard(op syntax.Token) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		if len(args) != 2 {
			return nil, fmt.Errorf("internal: %s guard takes 2 operands", op)
		}
		x, y := args[0], args[1]
		if err := checkBinary(op, x, y); err != nil {
			return nil, err
		}
		return starlark.Binary(op, x, y)
	}
}

func checkBinary(op syntax.Token, x, y starlark.Value) error {
	switch op {
	case syntax.STAR:
		if a, ok := x.(starlark.Int); ok {
			if b, ok := y.(starlark.Int); ok {
				if n := a.BigInt().BitLen() + b.BigInt().BitLen(); n > 8*MaxValueLen {
					return &budgetError{msg: fmt.Sprintf("an integer product would have about %d bits; at most %d", n, 8*MaxValueLen)}
				}
				return nil
			}
		}
		seq, cnt := x, y
		if _, ok := seqLen(seq); !ok {
			seq, cnt = y, x
		}
		l, ok := seqLen(seq)
		c, isInt := cnt.(starlark.Int)
		if !ok || !isInt || l == 0 {
			return nil
		}
		k, exact := c.Int64()
		if !exact || k > int64(MaxValueLen) {
			return tooBig("a repetition", MaxValueLen+1)
		}
		if f := flatSize(seq); f >= tooDeep {
			return tooBig("a repetition", f)
		} else if k > 0 && int64(f)*k > int64(MaxValueLen) {
			return tooBig("a repetition", int(min(int64(f)*k, 1<<40)))
		}
	case syntax.PLUS:
		_, ok1 := seqLen(x)
		_, ok2 := seqLen(y)
		if ok1 && ok2 {
			if n := min(flatSize(x)+flatSize(y), tooDeep); n > MaxValueLen {
				return tooBig("a concatenation", n)
			}
		}
	case syntax.PERCENT:
		if f, ok := x.(starlark.String); ok {
			d := deepSize(y, MaxValueLen)
			if d >= tooDeep {
				return tooBig("a % format", d)
			}
			if n := len(f) + (strings.Count(string(f), "%")+1)*d; n > MaxValueLen {
				return tooBig("a % format", n)
			}
		}
	}
	return nil
}

// iadd is x += y: a list is extended in place, as Starlark does.
func iadd(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("internal: += guard takes 2 operands")
	}
	x, y := args[0], args[1]
	if err := checkBinary(syntax.PLUS, x, y); err != nil {
		return nil, err
	}
	if l, ok := x.(*starlark.List); ok {
		it := starlark.Iterate(y)
		if it == nil {
			return nil, fmt.Errorf("unknown binary op: list += %s", y.Type())
		}
		defer it.Done()
		var e starlark.Value
		var vals []starlark.Value
		for it.Next(&e) {
			vals = append(vals, e)
		}
		for _, v := range vals {
			if err := l.Append(v); err != nil {
				return nil, err
			}
		}
		return l, nil
	}
	return starlark.Binary(syntax.PLUS, x, y)
}

// callGuard is recv.name(args...), checked for join, replace, format,
// extend, json.encode and json.indent.
func callGuard(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("internal: call guard takes a receiver and a name")
	}
	recv := args[0]
	name, _ := starlark.AsString(args[1])
	rest := args[2:]
	var est int
	argSize := func() int {
		n := 0
		for _, a := range rest {
			n += deepSize(a, MaxValueLen)
		}
		for _, kv := range kwargs {
			n += deepSize(kv[1], MaxValueLen)
		}
		return min(n, tooDeep)
	}
	switch name {
	case "join":
		if s, ok := recv.(starlark.String); ok && len(rest) == 1 {
			n, _ := seqLen(rest[0])
			est = min(argSize()+len(s)*n, tooDeep)
		}
	case "replace":
		if s, ok := recv.(starlark.String); ok && len(rest) >= 2 {
			old, _ := starlark.AsString(rest[0])
			nw, _ := starlark.AsString(rest[1])
			cnt := len(s) + 1
			if old != "" {
				cnt = strings.Count(string(s), old)
			}
			est = len(s) + cnt*len(nw)
		}
	case "format":
		if s, ok := recv.(starlark.String); ok {
			if a := argSize(); a >= tooDeep {
				est = tooDeep
			} else {
				est = len(s) + (strings.Count(string(s), "{")+1)*a
			}
		}
	case "extend":
		if l, ok := recv.(*starlark.List); ok {
			est = deepSize(l, MaxValueLen) + argSize()
			for _, a := range rest {
				est += iterLen(a)
			}
		}
	case "union", "update", "difference", "intersection", "symmetric_difference", "issubset", "issuperset":
		for _, a := range rest {
			est += iterLen(a)
		}
		est += iterLen(recv)
	case "encode":
		if recv == starjson.Module {
			est = argSize() * 2
		}
	case "indent":
		if recv == starjson.Module {
			// Its output grows with the input's size times its depth.
			return nil, fmt.Errorf("json.indent is not available in a script; use json.encode")
		}
	case "decode":
		if recv == starjson.Module && len(rest) > 0 {
			if s, ok := starlark.AsString(rest[0]); ok && jsonDepth(s) > MaxNesting {
				est = tooDeep
			}
		}
	}
	if est > MaxValueLen {
		return nil, tooBig(name, est)
	}
	ha, ok := recv.(starlark.HasAttrs)
	if !ok {
		return nil, fmt.Errorf("%s has no .%s field or method", recv.Type(), name)
	}
	fn, err := ha.Attr(name)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("%s has no .%s field or method", recv.Type(), name)
	}
	return starlark.Call(thread, fn, rest, kwargs)
}

func universalGuard(name string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		n := 0
		for _, a := range args {
			n += deepSize(a, MaxValueLen)
		}
		if n*2 > MaxValueLen {
			return nil, tooBig(name, n*2)
		}
		return starlark.Call(thread, starlark.Universe[name], args, kwargs)
	}
}

var exprType = reflect.TypeOf((*syntax.Expr)(nil)).Elem()

// rewrite applies the guards to f, in place.
func rewrite(f *syntax.File) error {
	for _, st := range f.Stmts {
		if _, ok := st.(*syntax.LoadStmt); ok {
			line, _ := st.Span()
			return &Error{Line: int(line.Line), Msg: "load is not available in a script"}
		}
	}
	var bad error
	var fix func(v reflect.Value)
	fix = func(v reflect.Value) {
		if bad != nil {
			return
		}
		switch v.Kind() {
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			if v.Type() == exprType && v.CanSet() {
				if e := guardExpr(v.Interface().(syntax.Expr)); e != nil {
					v.Set(reflect.ValueOf(e))
					fix(reflect.ValueOf(e).Elem().FieldByName("Args"))
					return
				}
			}
			fix(v.Elem())
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			switch n := v.Interface().(type) {
			case *syntax.Ident:
				if strings.HasPrefix(n.Name, guardPrefix) {
					bad = &Error{Line: int(n.NamePos.Line), Msg: fmt.Sprintf("names starting with %s are reserved (got %s)", guardPrefix, n.Name)}
				}
				// Callees were rewritten before their identifier is seen.
				if guardedUniversals[n.Name] {
					bad = &Error{Line: int(n.NamePos.Line), Msg: fmt.Sprintf("%s may only be called directly, as %s(...), and not rebound", n.Name, n.Name)}
				}
				return
			case *syntax.DotExpr:
				// A guarded method used other than as a direct call
				// (direct calls are rewritten before their callee is seen).
				if guardedMethods[n.Name.Name] {
					bad = &Error{Line: int(n.Dot.Line), Msg: fmt.Sprintf(".%s may only be called directly, as x.%s(...)", n.Name.Name, n.Name.Name)}
					return
				}
			case *syntax.AssignStmt:
				if guardAssign(n) {
					fix(reflect.ValueOf(n).Elem().FieldByName("LHS"))
					fix(reflect.ValueOf(n.RHS).Elem().FieldByName("Args"))
					return
				}
			}
			fix(v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					fix(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				fix(v.Index(i))
			}
		}
	}
	fix(reflect.ValueOf(f))
	return bad
}

func call(pos syntax.Position, name string, args ...syntax.Expr) *syntax.CallExpr {
	return &syntax.CallExpr{Fn: &syntax.Ident{NamePos: pos, Name: name}, Lparen: pos, Args: args, Rparen: pos}
}

func str(pos syntax.Position, s string) *syntax.Literal {
	return &syntax.Literal{Token: syntax.STRING, TokenPos: pos, Raw: fmt.Sprintf("%q", s), Value: s}
}

// guardExpr returns the guarded form of e, or nil to keep e.
func guardExpr(e syntax.Expr) syntax.Expr {
	switch n := e.(type) {
	case *syntax.BinaryExpr:
		switch n.Op {
		case syntax.STAR:
			return call(n.OpPos, "_jw_mul", n.X, n.Y)
		case syntax.PLUS:
			return call(n.OpPos, "_jw_add", n.X, n.Y)
		case syntax.PERCENT:
			return call(n.OpPos, "_jw_mod", n.X, n.Y)
		}
	case *syntax.CallExpr:
		switch fn := n.Fn.(type) {
		case *syntax.DotExpr:
			if guardedMethods[fn.Name.Name] {
				args := append([]syntax.Expr{fn.X, str(fn.Dot, fn.Name.Name)}, n.Args...)
				return &syntax.CallExpr{Fn: &syntax.Ident{NamePos: fn.Dot, Name: "_jw_call"}, Lparen: n.Lparen, Args: args, Rparen: n.Rparen}
			}
		case *syntax.Ident:
			if guardedUniversals[fn.Name] {
				return &syntax.CallExpr{Fn: &syntax.Ident{NamePos: fn.NamePos, Name: "_jw_" + fn.Name}, Lparen: n.Lparen, Args: n.Args, Rparen: n.Rparen}
			}
		}
	}
	return nil
}

// guardAssign turns x op= y into x = _jw_iop(x, y) for * + %.
func guardAssign(a *syntax.AssignStmt) bool {
	var name string
	switch a.Op {
	case syntax.STAR_EQ:
		name = "_jw_imul"
	case syntax.PLUS_EQ:
		name = "_jw_iadd"
	case syntax.PERCENT_EQ:
		name = "_jw_imod"
	default:
		return false
	}
	a.RHS = call(a.OpPos, name, clone(a.LHS), a.RHS)
	a.Op = syntax.EQ
	return true
}

// clone deep-copies a syntax tree (exported fields only).
func clone(e syntax.Expr) syntax.Expr {
	return cloneValue(reflect.ValueOf(e)).Interface().(syntax.Expr)
}

func cloneValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Elem().Type())
		el := v.Elem()
		for i := range el.NumField() {
			if el.Type().Field(i).IsExported() {
				c.Elem().Field(i).Set(cloneValue(el.Field(i)))
			}
		}
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(cloneValue(v.Elem()))
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			c.Index(i).Set(cloneValue(v.Index(i)))
		}
		return c
	}
	return v
}
