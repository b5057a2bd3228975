package pgdb

import (
	"net/url"
	"strings"
)

// redacted replaces every secret Redact hides.
const redacted = "xxxxx"

// secretKeys are the connection parameters whose values Redact hides, in
// a URL's query or a keyword/value connection string.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// Redact hides the secrets of a connection string for messages: the
// password of a URL's user information, password= and sslpassword= in a
// URL's query (postgres://host/db?password=…), and the same keywords of
// a keyword/value string (host=… password='…'). The rest is kept as
// written. It works on the text, so a malformed string is redacted too.
func Redact(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return redactURL(dsn)
	}
	return redactKeywords(dsn)
}

func redactURL(dsn string) string {
	scheme, rest, _ := strings.Cut(dsn, "://")
	rest, fragment, hasFragment := strings.Cut(rest, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	// The user information ends at the last '@' before the query: a
	// password may hold a '/' or '@' that its writer did not escape.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
			rest = rest[:colon+1] + redacted + rest[at:]
		}
	}
	var b strings.Builder
	b.WriteString(scheme + "://" + rest)
	if hasQuery {
		b.WriteByte('?')
		for i, param := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			k, _, hasValue := strings.Cut(param, "=")
			if key, err := url.QueryUnescape(k); (err == nil && secretKeys[strings.ToLower(key)]) || (err != nil && secretKeys[strings.ToLower(k)]) {
				if hasValue {
					param = k + "=" + redacted
				}
			}
			b.WriteString(param)
		}
	}
	if hasFragment {
		b.WriteString("#" + fragment)
	}
	return b.String()
}

// redactKeywords hides the secret values of a libpq keyword/value string:
// key = value pairs separated by white space, a value either single-quoted
// (with \' and \\ escapes) or running to the next white space.
func redactKeywords(dsn string) string {
	var b strings.Builder
	i, n := 0, len(dsn)
	for i < n {
		// White space, then a key up to '=' or white space.
		start := i
		for i < n && isSpace(dsn[i]) {
			i++
		}
		keyStart := i
		for i < n && dsn[i] != '=' && !isSpace(dsn[i]) {
			i++
		}
		key := dsn[keyStart:i]
		for i < n && isSpace(dsn[i]) {
			i++
		}
		if i >= n || dsn[i] != '=' {
			b.WriteString(dsn[start:i])
			continue
		}
		i++ // '='
		for i < n && isSpace(dsn[i]) {
			i++
		}
		b.WriteString(dsn[start:i])
		valStart := i
		if i < n && dsn[i] == '\'' {
			i++
			for i < n && dsn[i] != '\'' {
				if dsn[i] == '\\' && i+1 < n {
					i++
				}
				i++
			}
			if i < n {
				i++ // closing quote
			}
		}
		// To the next white space (libpq would refuse anything glued to
		// a closing quote; hidden with the value all the same).
		for i < n && !isSpace(dsn[i]) {
			if dsn[i] == '\\' && i+1 < n {
				i++
			}
			i++
		}
		if secretKeys[strings.ToLower(key)] {
			b.WriteString(redacted)
		} else {
			b.WriteString(dsn[valStart:i])
		}
	}
	return b.String()
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
