package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/trace"
)

// FuzzSubmit posts arbitrary bodies and content types through the whole
// handler (real database and broker). The answer is always 202, 400, 413
// or 415, always JSON of the accept or error contract, and always carries
// the trace ID.
func FuzzSubmit(f *testing.F) {
	b := setup(f, Config{BodyLimit: 4096})
	for _, seed := range []struct{ ct, body string }{
		{"application/json", sampleJob},
		{"application/json; charset=utf-8", `{"jobType":"SIMULATION","payload":{"steps":[{"action":"FAIL","message":"immediate failure"}]},"maxRetryCount":0}`},
		{"application/json", `{"jobType":"SIMULATION","payload":{"steps":[{"action":"HTTP_CALL","url":"https://example.com","timeoutMs":100}]}}`},
		{"application/json", `{"jobType":"SIMULATION","payload":{"steps":[{"action":"SLEEP","durationMs":-1}]}}`},
		{"application/json", `{"jobType":"SIMULATION","payload":{"steps":[]}}`},
		{"application/json", `{"jobType":"SIMULATION","extra":1}`},
		{"application/json", `{"jobType":`},
		{"application/json", `[]`},
		{"application/json", `null`},
		{"application/json", ``},
		{"application/json", "\xff\xfe\x00"},
		{"application/json", `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"` + strings.Repeat("x", 5000) + `"}]}}`},
		{"text/plain", sampleJob},
		{"", sampleJob},
		{"application/json; charset=utf-16", sampleJob},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/jobs", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		b.svc.HTTPHandler().ServeHTTP(w, r)

		traceID := w.Header().Get(trace.HTTPHeader)
		if uuid.Validate(traceID) != nil {
			t.Fatalf("X-Trace-Id = %q", traceID)
		}
		if w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("Content-Type = %q", w.Header().Get("Content-Type"))
		}
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		switch w.Code {
		case http.StatusAccepted:
			var a Accepted
			if err := dec.Decode(&a); err != nil || uuid.Validate(a.JobID) != nil || a.TraceID != traceID {
				t.Fatalf("202 body %q: %v", w.Body.String(), err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			var e errorBody
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("%d body %q: %v", w.Code, w.Body.String(), err)
			}
			want := map[int]string{
				http.StatusBadRequest:            "API.INVALID_REQUEST",
				http.StatusRequestEntityTooLarge: "API.PAYLOAD_TOO_LARGE",
				http.StatusUnsupportedMediaType:  "API.UNSUPPORTED_MEDIA_TYPE",
			}[w.Code]
			if e.Status != w.Code || e.ErrorCode != want || e.Message == "" || e.TraceID != traceID {
				t.Fatalf("%d body = %+v", w.Code, e)
			}
			if w.Code == http.StatusBadRequest && len(e.Details) == 0 {
				t.Fatalf("400 without details: %+v", e)
			}
		default:
			t.Fatalf("status %d, want 202, 400, 413 or 415; body %s", w.Code, w.Body.String())
		}
	})
}

// FuzzBatchBody posts arbitrary batch bodies: a batch is accepted only
// when its body is exactly one valid JSON value (json.Valid), and every
// refusal is a structured 400 or 413.
func FuzzBatchBody(f *testing.F) {
	b := setup(f, Config{BodyLimit: 4096})
	one := `{"jobType":"SIMULATION","payload":{"steps":[{"action":"LOG","message":"x"}]}}`
	for _, seed := range []string{
		`{"jobs":[` + one + `]}`,
		`{"jobs":[` + one + `]} ` + "\n",
		`{"jobs":[` + one + `]}}`,
		`{"jobs":[` + one + `]}]`,
		`{"jobs":[` + one + `]} {}`,
		`{"jobs":[` + one + `]}x`,
		`{"jobs":[` + one + `]}` + "\x00",
		`{"jobs":[` + one + `,` + one + `]}{"jobs":[]}`,
		`{} {}`,
		`{"jobs":[]}`,
		`{"jobs":[` + one + `]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/jobs/batch", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		b.svc.HTTPHandler().ServeHTTP(w, r)
		switch w.Code {
		case http.StatusAccepted:
			if !json.Valid(body) {
				t.Fatalf("accepted a body that is not exactly one JSON value: %q", body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Status != w.Code || e.Message == "" {
				t.Fatalf("%d body %q: %v", w.Code, w.Body.String(), err)
			}
		default:
			t.Fatalf("status %d, want 202, 400 or 413; body %s", w.Code, w.Body.String())
		}
	})
}
