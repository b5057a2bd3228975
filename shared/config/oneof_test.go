package config

import "testing"

func TestOneOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env     map[string]string
		want    string
		wantErr string
	}{
		{map[string]string{}, "none", ""},
		{map[string]string{"K": "  "}, "none", ""},
		{map[string]string{"K": "tls"}, "tls", ""},
		{map[string]string{"K": "IAM"}, "iam", ""},
		{map[string]string{"K": "sasl"}, "none", `config: K must be one of none, tls or iam (got "sasl")`},
	} {
		env := FromMap(c.env)
		got := env.OneOf("K", "none", "none", "tls", "iam")
		if got != c.want {
			t.Errorf("%v: OneOf = %q; want %q", c.env, got, c.want)
		}
		gotErr := ""
		if env.Err() != nil {
			gotErr = env.Err().Error()
		}
		if gotErr != c.wantErr {
			t.Errorf("%v: Err = %q; want %q", c.env, gotErr, c.wantErr)
		}
	}
}
