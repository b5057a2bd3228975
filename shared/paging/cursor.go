package paging

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/jobweaver/jobweaver/shared/apierror"
)

// Cursor is a position in a list ordered by (time DESC, id DESC): a page
// that starts at a cursor holds the items strictly after it. Clients see
// it only as an opaque string (Encode).
type Cursor struct {
	Time time.Time // microsecond precision, as Postgres keeps it
	ID   string    // a UUID
}

// MaxCursorLen bounds a cursor query parameter.
const MaxCursorLen = 128

const cursorVersion = "v1"

// Encode returns the cursor as an opaque, URL-safe string.
func (c Cursor) Encode() string {
	raw := cursorVersion + ":" + strconv.FormatInt(c.Time.UnixMicro(), 10) + ":" + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses a string made by Encode.
func DecodeCursor(s string) (Cursor, error) {
	if s == "" || len(s) > MaxCursorLen {
		return Cursor{}, fmt.Errorf("must be 1 to %d characters", MaxCursorLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("is not a cursor this API made")
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return Cursor{}, fmt.Errorf("is not a cursor this API made")
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || us < 0 {
		return Cursor{}, fmt.Errorf("is not a cursor this API made")
	}
	id, err := uuid.Parse(parts[2])
	if err != nil || len(parts[2]) != 36 {
		return Cursor{}, fmt.Errorf("is not a cursor this API made")
	}
	return Cursor{Time: time.UnixMicro(us).UTC(), ID: id.String()}, nil
}

// ParseCursor reads the cursor query parameter: nil when absent. A
// malformed one, or one given together with page, is an *apierror.Error
// (400) with code namespace+".INVALID_CURSOR".
func ParseCursor(q url.Values, namespace string) (*Cursor, error) {
	v := q.Get("cursor")
	if v == "" {
		return nil, nil
	}
	bad := func(msg string) error {
		return apierror.New(http.StatusBadRequest, namespace+".INVALID_CURSOR", msg)
	}
	if q.Get("page") != "" {
		return nil, bad("give page or cursor, not both: a cursor already says where the page starts")
	}
	c, err := DecodeCursor(v)
	if err != nil {
		return nil, bad(fmt.Sprintf("cursor %v; pass a nextCursor from an earlier page unchanged, or leave cursor out to start at the first page", err))
	}
	return &c, nil
}
