package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/internalapi"
	"github.com/jobweaver/jobweaver/shared/paging"
	"github.com/jobweaver/jobweaver/shared/trace"
)

const sampleBatch = `{"jobType":"BATCH_PROCESS","payload":{"items":[{"id":1},{"id":2}],"step":{"action":"LOG","message":"{{item.id}}"}}}`

func TestListItems(t *testing.T) {
	b := setup(t, Config{})
	wantError(t, b.do(http.MethodGet, "/api/jobs/"+uuid.NewString()+"/items", ""), http.StatusNotFound, "API.JOB_NOT_FOUND")
	wantError(t, b.do(http.MethodGet, "/api/jobs/nope/items", ""), http.StatusBadRequest, "API.INVALID_JOB_ID")
	a := accepted(t, b.post(sampleBatch))
	path := "/api/jobs/" + a.JobID + "/items"
	for _, c := range []struct{ query, code, text string }{
		{"?limit=0", "API.INVALID_REQUEST", "limit must be an integer from 1 to 100"},
		{"?limit=x", "API.INVALID_REQUEST", "limit must be"},
		{"?status=DONE", "API.INVALID_REQUEST", "status must be SUCCEEDED or FAILED"},
		{"?cursor=bm9wZQ", "API.INVALID_CURSOR", "is not an items cursor"},
	} {
		e := wantError(t, b.do(http.MethodGet, path+c.query, ""), http.StatusBadRequest, c.code)
		if !strings.Contains(e.Message, c.text) {
			t.Errorf("%s: %q", c.query, e.Message)
		}
	}
	if n := len(b.worker.received()); n != 0 {
		t.Fatalf("bad queries reached the worker %d times", n)
	}

	// A worker without the route: no items.
	w := b.do(http.MethodGet, path, "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"content":[],"page":0,"size":20,"totalElements":0,"totalPages":0}` {
		t.Fatalf("no items = %d %s", w.Code, w.Body.String())
	}
	next := internalapi.ItemCursor(1)
	b.worker.on("GET /internal/items/{id}", http.StatusOK, map[string]any{
		"content": []any{
			map[string]any{"index": 0, "status": "SUCCEEDED", "attempt": 1, "output": map[string]any{"n": 1}},
			map[string]any{"index": 1, "status": "FAILED", "attempt": 1, "errorCode": "WORKER.STEP_FAILED", "error": "boom"},
		},
		"page": 0, "size": 2, "totalElements": 3, "totalPages": 2, "nextCursor": next,
	})
	w = b.do(http.MethodGet, path+"?limit=500&status=FAILED&cursor="+internalapi.ItemCursor(0), "", trace.HTTPHeader, "items-trace")
	var page paging.Page[Item]
	decodeStrict(t, w, &page)
	if len(page.Content) != 2 || page.NextCursor != next || string(page.Content[0].Output) != `{"n":1}` || page.Content[1].Error != "boom" {
		t.Fatalf("page = %+v", page)
	}
	calls := b.worker.received()
	last := calls[len(calls)-1]
	if last.Path != "/internal/items/"+a.JobID || last.Query.Get("limit") != "100" || last.Query.Get("status") != "FAILED" ||
		last.Query.Get("cursor") != internalapi.ItemCursor(0) || last.TraceID != "items-trace" {
		t.Fatalf("worker got %+v", last)
	}
	b.worker.on("GET /internal/items/{id}", http.StatusInternalServerError, `{}`)
	wantError(t, b.do(http.MethodGet, path, ""), http.StatusServiceUnavailable, "API.WORKER_UNAVAILABLE")
	b.worker.fail(errors.New("worker gone"))
	wantError(t, b.do(http.MethodGet, path, ""), http.StatusServiceUnavailable, "API.WORKER_UNAVAILABLE")
}
