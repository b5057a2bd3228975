package config

import "strings"

// OneOf returns the variable, lower-cased, if it is one of allowed (also
// lower case), or def if it is unset. Any other value is recorded as an
// error that names the variable and lists the allowed values.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	lv := strings.ToLower(v)
	for _, a := range allowed {
		if lv == a {
			return lv
		}
	}
	want := "one of " + strings.Join(allowed, ", ")
	if n := len(allowed); n > 1 {
		want = "one of " + strings.Join(allowed[:n-1], ", ") + " or " + allowed[n-1]
	}
	e.fail(name, want, v)
	return def
}
