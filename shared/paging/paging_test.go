package paging_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/paging"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query      string
		page, size int
		bad        string // substring of the error message, "" if valid
	}{
		{"", 0, 20, ""},
		{"page=0&size=20", 0, 20, ""},
		{"page=3&size=7", 3, 7, ""},
		{"size=100", 0, 100, ""},
		{"size=101", 0, 100, ""}, // capped, not refused
		{"size=99999999999999999999", 0, 0, "size must be an integer from 1 to 100"},
		{"page=1000000", 1000000, 20, ""},
		{"page=1000001", 0, 0, "page must be an integer from 0 to 1000000"},
		{"page=-1", 0, 0, `page must be an integer from 0 to 1000000 (got "-1")`},
		{"page=x", 0, 0, `(got "x")`},
		{"page=1.5", 0, 0, "page must be an integer"},
		{"size=0", 0, 0, `size must be an integer from 1 to 100 (got "0")`},
		{"size=-5", 0, 0, "size must be an integer"},
		{"size=ten", 0, 0, "size must be an integer"},
		{"page=&size=", 0, 20, ""}, // empty means default
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.query)
		r, err := paging.Parse(q, 20, 100, "API")
		if tc.bad != "" {
			var e *apierror.Error
			if !errors.As(err, &e) {
				t.Errorf("Parse(%q): error %v, want an *apierror.Error", tc.query, err)
				continue
			}
			if e.Status != http.StatusBadRequest || e.Code != "API.INVALID_REQUEST" || !strings.Contains(e.Message, tc.bad) {
				t.Errorf("Parse(%q) = %d %s %q, want 400 API.INVALID_REQUEST …%q…", tc.query, e.Status, e.Code, e.Message, tc.bad)
			}
			continue
		}
		if err != nil || r.Page != tc.page || r.Size != tc.size {
			t.Errorf("Parse(%q) = %+v, %v; want page %d size %d", tc.query, r, err, tc.page, tc.size)
		}
	}
}

func TestParseNamespace(t *testing.T) {
	t.Parallel()
	_, err := paging.Parse(url.Values{"page": {"-1"}}, 20, 100, "SCHEDULER")
	var e *apierror.Error
	if !errors.As(err, &e) || e.Code != "SCHEDULER.INVALID_REQUEST" {
		t.Fatalf("error = %v", err)
	}
}

func TestOffset(t *testing.T) {
	t.Parallel()
	if got := (paging.Request{Page: 3, Size: 20}).Offset(); got != 60 {
		t.Fatalf("Offset = %d", got)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		n, size    int
		total      int64
		totalPages int
	}{
		{0, 20, 0, 0},
		{5, 20, 5, 1},
		{20, 20, 20, 1},
		{20, 20, 21, 2},
		{1, 1, 3, 3},
		{0, 0, 5, 0}, // no division by zero
	}
	for _, tc := range cases {
		p := paging.New(make([]int, tc.n), 0, tc.size, tc.total)
		if p.TotalPages != tc.totalPages || p.TotalElements != tc.total || p.Size != tc.size || len(p.Content) != tc.n {
			t.Errorf("New(%d items, size %d, total %d) = %+v, want %d pages", tc.n, tc.size, tc.total, p, tc.totalPages)
		}
	}
	b, _ := json.Marshal(paging.New[string](nil, 2, 10, 0))
	if string(b) != `{"content":[],"page":2,"size":10,"totalElements":0,"totalPages":0}` {
		t.Fatalf("JSON = %s", b)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	c := paging.Cursor{Time: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC), ID: "0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}
	got, err := paging.DecodeCursor(c.Encode())
	if err != nil || !got.Time.Equal(c.Time) || got.ID != c.ID {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if strings.ContainsAny(c.Encode(), "+/=") {
		t.Fatalf("cursor %q is not URL-safe", c.Encode())
	}
}

func TestParseCursor(t *testing.T) {
	t.Parallel()
	good := paging.Cursor{Time: time.Unix(1700000000, 0), ID: "0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}.Encode()
	for _, tc := range []struct {
		query string
		ok    bool
	}{
		{"", true},
		{"cursor=" + good, true},
		{"cursor=" + good + "&size=5", true},
		{"cursor=" + good + "&page=0", false},
		{"cursor=not-a-cursor", false},
		{"cursor=" + strings.Repeat("A", 200), false},
		{"cursor=djE6MTIzOm5vdC1hLXV1aWQ", false}, // v1:123:not-a-uuid
		{"cursor=djI6MTIzOjAxOTBhMmI0LTVjNmQtN2U4Zi05YTBiLTFjMmQzZTRmNWE2Yg", false}, // v2:...
		{"cursor=djE6LTE6MDE5MGEyYjQtNWM2ZC03ZThmLTlhMGItMWMyZDNlNGY1YTZi", false},   // negative time
	} {
		q, _ := url.ParseQuery(tc.query)
		c, err := paging.ParseCursor(q, "API")
		if tc.ok != (err == nil) {
			t.Errorf("ParseCursor(%s) = %v, %v", tc.query, c, err)
			continue
		}
		var ae *apierror.Error
		if err != nil && (!errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "API.INVALID_CURSOR") {
			t.Errorf("ParseCursor(%s) error %#v", tc.query, err)
		}
		if tc.query == "" && c != nil {
			t.Errorf("no cursor parsed as %+v", c)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(paging.Cursor{Time: time.Unix(1700000000, 5000), ID: "0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b"}.Encode())
	f.Add("djE6MTIzOm5vdC1hLXV1aWQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := paging.DecodeCursor(s)
		if err != nil {
			return
		}
		again, err := paging.DecodeCursor(c.Encode())
		if err != nil || !again.Time.Equal(c.Time) || again.ID != c.ID {
			t.Fatalf("%q decodes to %+v, which does not round-trip: %+v %v", s, c, again, err)
		}
	})
}

func TestFit(t *testing.T) {
	t.Parallel()
	items := []string{strings.Repeat("a", 100), strings.Repeat("b", 100), strings.Repeat("c", 100)}
	for _, tc := range []struct{ max, want int }{
		{1 << 20, 3}, {2 + 103, 1}, {2 + 2*103, 2}, {2 + 3*103, 3}, {10, 1}, // one item always fits
	} {
		if got := paging.Fit(items, tc.max); got != tc.want {
			t.Errorf("Fit(%d bytes) = %d, want %d", tc.max, got, tc.want)
		}
	}
	if got := paging.Fit([]string{}, 10); got != 0 {
		t.Errorf("Fit(empty) = %d", got)
	}
}
