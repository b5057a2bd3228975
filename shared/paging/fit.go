package paging

import "encoding/json"

// MaxPageBytes bounds the JSON of a page's items: well under the 6 MB a
// Lambda function may return, with room for the envelope, escaping and the
// api's re-encoding.
const MaxPageBytes = 4 << 20

// Fit returns how many of items, from the first, fit in maxBytes of JSON
// (at least one, so that a list always moves forward).
func Fit[T any](items []T, maxBytes int) int {
	total := 2 // []
	for i, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return max(i, 1)
		}
		total += len(b) + 1
		if total > maxBytes && i > 0 {
			return i
		}
	}
	return len(items)
}
