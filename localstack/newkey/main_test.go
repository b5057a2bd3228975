package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/auth"
)

func TestPrintsAValidKey(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(&out, &errs); code != 0 || errs.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs.String())
	}
	if k := strings.TrimSuffix(out.String(), "\n"); !auth.Valid(k) || strings.Contains(k, "\n") {
		t.Fatalf("printed %q", out.String())
	}
}
