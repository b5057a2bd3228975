package tracing

import (
	"testing"

	"github.com/google/uuid"
)

func TestIDOf(t *testing.T) {
	t.Parallel()
	u := uuid.MustParse("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")
	for _, c := range []struct {
		in, want string
	}{
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{u.String(), "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"1-5759e988-bd862e3fe1be46a994272793", "5759e988bd862e3fe1be46a994272793"},
		// Not hex, or the all-zero ID: hashed.
		{"abc", "ba7816bf8f01cfea414140de5dae2223"},
		{"00000000000000000000000000000000", "84e0c0eafaa95a34c293f278ac52e45c"},
	} {
		got := IDOf(c.in)
		if !got.IsValid() {
			t.Errorf("IDOf(%q) is not a valid trace ID", c.in)
		}
		if got.String() != c.want {
			t.Errorf("IDOf(%q) = %s; want %s", c.in, got, c.want)
		}
	}
	if a, b := IDOf("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"), IDOf(string([]byte("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"))); a != b {
		t.Error("IDOf is not stable")
	}
	if IDOf("").IsValid() {
		t.Error(`IDOf("") is valid`)
	}
}
