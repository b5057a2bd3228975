package envelope

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestJobCreatedCreatedBy: createdBy is optional. An event from before it
// (testdata/job-created-v1.json) still decodes, with none, and re-encodes
// without the field; an event with it keeps it.
func TestJobCreatedCreatedBy(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"job-created-v1.json", ""},
		{"job-created-owned.json", "jwt:alice"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			e, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			var c JobCreated
			if err := e.DecodePayload(&c); err != nil {
				t.Fatal(err)
			}
			if c.CreatedBy != tc.want || c.JobType != "SIMULATION" || c.CreatedAt.IsZero() {
				t.Fatalf("decoded %+v, want createdBy %q", c, tc.want)
			}
			again, err := JSON(c)
			if err != nil {
				t.Fatal(err)
			}
			var in, out map[string]any
			if err := json.Unmarshal(e.Payload, &in); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &out); err != nil {
				t.Fatal(err)
			}
			if _, has := out["createdBy"]; has != (tc.want != "") || len(in) != len(out) {
				t.Fatalf("re-encoded %s from %s", again, e.Payload)
			}
		})
	}
}
