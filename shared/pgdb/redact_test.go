package pgdb_test

import (
	"strings"
	"testing"

	"github.com/jobweaver/jobweaver/shared/pgdb"
)

func TestRedact(t *testing.T) {
	tests := []struct{ name, dsn, want string }{
		{"URL without password", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"},
		{"URL user password", "postgres://app:s3cret@db:5432/jw", "postgres://app:xxxxx@db:5432/jw"},
		{"postgresql scheme", "postgresql://app:s3cret@db/jw", "postgresql://app:xxxxx@db/jw"},
		{"escaped password", "postgres://app:p%40ss%2Fw@db/jw", "postgres://app:xxxxx@db/jw"},
		{"unescaped @ and / in password", "postgres://app:p@ss/w@db/jw", "postgres://app:xxxxx@db/jw"},
		{"query password", "postgres://app@db/jw?sslmode=require&password=s3cret", "postgres://app@db/jw?sslmode=require&password=xxxxx"},
		{"query sslpassword and user password", "postgres://app:a@db/jw?sslpassword=b&connect_timeout=5", "postgres://app:xxxxx@db/jw?sslpassword=xxxxx&connect_timeout=5"},
		{"query key in capitals", "postgres://db/jw?PASSWORD=s3cret", "postgres://db/jw?PASSWORD=xxxxx"},
		{"query key escaped", "postgres://db/jw?pass%77ord=s3cret", "postgres://db/jw?pass%77ord=xxxxx"},
		{"several hosts", "postgres://app:s3cret@h1:5432,h2:5432/jw?target_session_attrs=read-write", "postgres://app:xxxxx@h1:5432,h2:5432/jw?target_session_attrs=read-write"},
		{"fragment kept", "postgres://app:s3cret@db/jw#x", "postgres://app:xxxxx@db/jw#x"},
		{"keywords", "host=db user=app password=s3cret dbname=jw", "host=db user=app password=xxxxx dbname=jw"},
		{"keywords quoted", "host=db password='s3 cr\\'et' dbname=jw", "host=db password=xxxxx dbname=jw"},
		{"keywords spaced", "host = db  password = s3cret\tsslmode=disable", "host = db  password = xxxxx\tsslmode=disable"},
		{"keywords escaped space", `password=s3\ cret host=db`, "password=xxxxx host=db"},
		{"keywords sslpassword", "sslpassword=k3y sslkey=/k.pem", "sslpassword=xxxxx sslkey=/k.pem"},
		{"keywords unterminated quote", "host=db password='s3cret", "host=db password=xxxxx"},
		{"keywords appended dbname", "host=db password=s3cret dbname=jobweaver_api", "host=db password=xxxxx dbname=jobweaver_api"},
		{"no secret", "host=/var/run/postgresql dbname=jw", "host=/var/run/postgresql dbname=jw"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pgdb.Redact(tt.dsn)
			if got != tt.want {
				t.Fatalf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			for _, secret := range []string{"s3cret", "s3 cr", "k3y", "p@ss", "p%40ss"} {
				if strings.Contains(got, secret) {
					t.Fatalf("Redact(%q) = %q still holds %q", tt.dsn, got, secret)
				}
			}
		})
	}
}

// FuzzRedact: Redact never panics, and redacting twice changes nothing
// more (what it hides, it hides the first time).
func FuzzRedact(f *testing.F) {
	for _, seed := range []string{
		"host=db password=s3cret", "postgres://app:s3cret@db/jw?password=x&a=b",
		"password='a\\'b' x=y", "postgres://a:b@c@d/e?#", "k = 'v", "=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		once := pgdb.Redact(dsn)
		if twice := pgdb.Redact(once); twice != once {
			t.Fatalf("Redact(%q) = %q, but redacting that again gives %q", dsn, once, twice)
		}
	})
}
