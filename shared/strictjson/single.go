package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// TrailingDataError is data after the one JSON value a body may hold:
// `{...}}`, `{} {}` or `{}x`. Whitespace after the value is not trailing
// data.
type TrailingDataError struct {
	// Offset is the byte offset of the first byte after the value that
	// is not whitespace.
	Offset int64
}

func (e *TrailingDataError) Error() string {
	return fmt.Sprintf("the body must hold exactly one JSON value; found more data at byte %d", e.Offset)
}

// CheckEnd returns a *TrailingDataError when body holds anything but JSON
// whitespace from offset on. Call it after a json.Decoder over body has
// decoded one value, with the decoder's InputOffset: json.Decoder reads a
// stream of values and leaves the rest of the body unread.
func CheckEnd(body []byte, offset int64) error {
	if offset < 0 || offset > int64(len(body)) {
		return &TrailingDataError{Offset: 0}
	}
	if i := skipSpace(body, int(offset)); i < len(body) {
		return &TrailingDataError{Offset: int64(i)}
	}
	return nil
}

// Decode decodes the one JSON value of body into v, rejecting unknown
// fields (json.Decoder.DisallowUnknownFields) and trailing data (a
// *TrailingDataError). Other errors are encoding/json's.
func Decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return CheckEnd(body, dec.InputOffset())
}
