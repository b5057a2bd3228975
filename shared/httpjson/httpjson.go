// Package httpjson writes JSON response bodies: a status, the
// application/json content type and the value encoded on one line. Error
// bodies go through apierror, which writes them with this package.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write writes v as JSON with status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
