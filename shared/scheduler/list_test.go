package scheduler

import (
	"net/url"
	"testing"
	"time"
)

func TestParseListQuery(t *testing.T) {
	ts := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	tests := []struct {
		name     string
		query    string
		wantPage int
		wantSize int
		want     jobFilter
		wantErr  bool
	}{
		{"defaults", "", 0, 20, jobFilter{}, false},
		{"paging", "page=3&size=7", 3, 7, jobFilter{}, false},
		{"size capped", "size=5000", 0, 100, jobFilter{}, false},
		{"filters", "type=SIMULATION&status=FAILED&traceId=abc", 0, 20,
			jobFilter{JobType: "SIMULATION", Status: "FAILED", TraceID: "abc"}, false},
		{"created by", "createdBy=jwt:alice", 0, 20, jobFilter{CreatedBy: "jwt:alice"}, false},
		{"NUL in created by", "createdBy=a%00b", 0, 0, jobFilter{}, true},
		{"status any case", "status=pending", 0, 20, jobFilter{Status: "PENDING"}, false},
		{"time range", "createdFrom=2026-01-01T00:00:00Z&createdTo=2026-01-02T00:00:00.5%2B02:00", 0, 20,
			jobFilter{CreatedFrom: ts("2026-01-01T00:00:00Z"), CreatedTo: ts("2026-01-02T00:00:00.5+02:00")}, false},
		{"unescaped plus in offset", "createdFrom=2026-01-01T00:00:00+02:00", 0, 20,
			jobFilter{CreatedFrom: ts("2026-01-01T00:00:00+02:00")}, false},
		{"bad status", "status=DONE", 0, 0, jobFilter{}, true},
		{"updated since", "updatedSince=2026-01-01T00:00:00Z", 0, 20, jobFilter{UpdatedSince: ts("2026-01-01T00:00:00Z")}, false},
		{"bad updated since", "updatedSince=2026-01-01", 0, 0, jobFilter{}, true},
		{"bad time", "createdFrom=yesterday", 0, 0, jobFilter{}, true},
		{"bad page", "page=-1", 0, 0, jobFilter{}, true},
		{"bad size", "size=abc", 0, 0, jobFilter{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			page, f, err := parseListQuery(q, 100)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eqTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
			if page.Page != tt.wantPage || page.Size != tt.wantSize || f.JobType != tt.want.JobType ||
				f.Status != tt.want.Status || f.TraceID != tt.want.TraceID || f.CreatedBy != tt.want.CreatedBy ||
				!eqTime(f.CreatedFrom, tt.want.CreatedFrom) || !eqTime(f.CreatedTo, tt.want.CreatedTo) ||
				!eqTime(f.UpdatedSince, tt.want.UpdatedSince) {
				t.Fatalf("got page %+v filter %+v, want %d/%d %+v", page, f, tt.wantPage, tt.wantSize, tt.want)
			}
		})
	}
}
