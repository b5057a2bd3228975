package httpjson_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jobweaver/jobweaver/shared/httpjson"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		status int
		v      any
		want   string
	}{
		{"object", http.StatusAccepted, map[string]string{"jobId": "j"}, "{\"jobId\":\"j\"}\n"},
		{"empty list", http.StatusOK, []int{}, "[]\n"},
		{"null", http.StatusServiceUnavailable, nil, "null\n"},
	} {
		w := httptest.NewRecorder()
		httpjson.Write(w, c.status, c.v)
		if w.Code != c.status || w.Body.String() != c.want || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q (%s); want %d %q", c.name, w.Code, w.Body.String(), w.Header().Get("Content-Type"), c.status, c.want)
		}
	}
}
