package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// secretEnv are the functions' variables whose values render never
// writes: a key is an admin's.
var secretEnv = map[string]bool{"API_ADMIN_KEY": true}

// render writes v (an SDK input struct, or any value) as one line of
// compact JSON with the fields that are set, keys sorted, the field names
// of the AWS API (which the AWS CLI's --cli-input-json uses too). A field
// whose dotted path is in overrides (such as "Code.ZipFile") is written as
// the override instead of its value; other byte slices as "<N bytes>".
func render(v any, overrides map[string]string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	plain := toPlain(reflect.ValueOf(v), "", overrides)
	if plain == nil {
		plain = map[string]any{}
	}
	if err := enc.Encode(plain); err != nil {
		return fmt.Sprintf("<unprintable: %v>", err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func toPlain(v reflect.Value, path string, overrides map[string]string) any {
	if o, ok := overrides[path]; ok && path != "" {
		return o
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			if _, ok := overrides[p]; !ok && fv.IsZero() {
				continue
			}
			if x := toPlain(fv, p, overrides); x != nil {
				out[f.Name] = x
			}
		}
		return out
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return fmt.Sprintf("<%d bytes>", v.Len())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = toPlain(v.Index(i), path, overrides)
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			if secretEnv[k] && strings.HasSuffix(path, "Environment.Variables") {
				out[k] = "<redacted>"
				continue
			}
			out[k] = toPlain(iter.Value(), path, overrides)
		}
		return out
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return fmt.Sprint(v.Interface())
}
