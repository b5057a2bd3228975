package strictjson_test

import (
	"errors"
	"testing"

	"github.com/jobweaver/jobweaver/shared/strictjson"
)

func TestCheckText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		offset int // -1: no error
	}{
		{"plain", `{"m":"hello <world> é"}`, -1},
		{"escaped backslash then u0000", `{"m":"\\u0000"}`, -1},
		{"other escapes", `{"m":"\u0001\n\"\\"}`, -1},
		{"NUL escape", `{"m":"a\u0000"}`, 7},
		{"NUL after an escaped backslash", `{"m":"\\\u0000"}`, 8},
		{"invalid UTF-8", "{\"m\":\"a\xff\"}", 7},
		{"truncated sequence", "{\"m\":\"\xc3\"}", 6},
		{"backslash at the end", `\`, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := strictjson.CheckText([]byte(tt.raw))
			var te *strictjson.TextError
			switch {
			case tt.offset < 0 && err != nil:
				t.Fatalf("CheckText = %v; want nil", err)
			case tt.offset >= 0 && !errors.As(err, &te):
				t.Fatalf("CheckText = %v; want a *TextError", err)
			case tt.offset >= 0 && te.Offset != tt.offset:
				t.Fatalf("offset = %d; want %d (%v)", te.Offset, tt.offset, err)
			}
		})
	}
}
