// Package paging parses page/size query parameters and shapes paged
// responses as the original JobWeaver API does: {content, page, size,
// totalElements, totalPages}, with 0-based pages.
//
// Beside page numbers, lists that grow without bound take keyset cursors
// (Cursor: opaque, validated, the position after the last item of a page),
// count only up to a cap and estimate beyond it (Count), and bound a
// page's bytes (Fit).
package paging

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/jobweaver/jobweaver/shared/apierror"
)

// Page is one page of results.
type Page[T any] struct {
	Content       []T   `json:"content"`
	Page          int   `json:"page"`
	Size          int   `json:"size"`
	TotalElements int64 `json:"totalElements"`
	TotalPages    int   `json:"totalPages"`
	// TotalIsEstimate is true when TotalElements (and TotalPages) is the
	// planner's estimate rather than an exact count (see Count).
	TotalIsEstimate bool `json:"totalIsEstimate,omitempty"`
	// NextCursor continues after the last item of Content; it is absent
	// on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// New builds a page; content is never null in JSON.
func New[T any](content []T, page, size int, total int64) Page[T] {
	if content == nil {
		content = []T{}
	}
	pages := 0
	if size > 0 {
		pages = int((total + int64(size) - 1) / int64(size))
	}
	return Page[T]{Content: content, Page: page, Size: size, TotalElements: total, TotalPages: pages}
}

// Request is a parsed page request.
type Request struct{ Page, Size int }

// Offset is the row offset of the page.
func (r Request) Offset() int { return r.Page * r.Size }

// MaxPage bounds page so that offsets stay sane.
const MaxPage = 1_000_000

// Parse reads page (default 0) and size (default def; larger than max is
// capped to max). A bad
// value is an *apierror.Error with code namespace+".INVALID_REQUEST".
func Parse(q url.Values, def, max int, namespace string) (Request, error) {
	r := Request{Page: 0, Size: def}
	bad := func(name, v string, lo, hi int) error {
		return apierror.New(http.StatusBadRequest, namespace+".INVALID_REQUEST",
			fmt.Sprintf("%s must be an integer from %d to %d (got %q)", name, lo, hi, v))
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxPage {
			return r, bad("page", v, 0, MaxPage)
		}
		r.Page = n
	}
	if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return r, bad("size", v, 1, max)
		}
		r.Size = min(n, max) // capped, as the original API does
	}
	return r, nil
}
