package internalapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// PathItems is the worker's route of a BATCH_PROCESS job's item results
// ({jobId} is a job ID). GET with limit, cursor (ItemCursor) and status
// (ItemSucceeded or ItemFailed): paging.Page[Item], items by index, the
// page's outputs bounded in bytes.
const PathItems = "/internal/items/{jobId}"

// ItemsPath returns the worker's items route of a job.
func ItemsPath(jobID string) string {
	return "/internal/items/" + url.PathEscape(jobID)
}

// Item statuses.
const (
	ItemSucceeded = "SUCCEEDED"
	ItemFailed    = "FAILED"
)

// Item is one finished item of a BATCH_PROCESS job: its 0-based index in
// payload.items, its status, and its step's output (when the step has
// one and it was kept) or its error. OutputOmitted says the output was
// not kept (over the step output cap, or past the job's) or did not fit
// the page (ask for a smaller limit). Attempt is the attempt that ran it
// last.
type Item struct {
	Index         int             `json:"index"`
	Status        string          `json:"status"`
	Attempt       int             `json:"attempt"`
	Output        json.RawMessage `json:"output,omitempty"`
	OutputOmitted bool            `json:"outputOmitted,omitempty"`
	ErrorCode     string          `json:"errorCode,omitempty"`
	Error         string          `json:"error,omitempty"`
}

const itemCursorPrefix = "item:"

// ItemCursor is the opaque cursor of the position after item index.
func ItemCursor(index int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(itemCursorPrefix + strconv.Itoa(index)))
}

// ParseItemCursor reads a cursor made by ItemCursor.
func ParseItemCursor(s string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 64 || !strings.HasPrefix(string(raw), itemCursorPrefix) {
		return 0, fmt.Errorf("is not an items cursor this API made")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(raw), itemCursorPrefix))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("is not an items cursor this API made")
	}
	return n, nil
}
