package ssrf_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jobweaver/jobweaver/shared/ssrf"
)

func TestDenied(t *testing.T) {
	cases := []struct {
		ip     string
		denied bool
	}{
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"172.32.0.1", false},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // instance metadata
		{"169.254.0.1", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"100.128.0.1", false},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"255.255.255.255", true},
		{"198.18.0.1", true},
		{"8.8.8.8", false},
		{"1.1.1.1", false},
		{"93.184.216.34", false},
		{"::", true},
		{"::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fd00:ec2::254", true}, // EC2 IPv6 metadata
		{"fc00::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:10.0.0.1", true},
		{"::ffff:8.8.8.8", true}, // IPv4-mapped: refused as a whole
		{"::ffff:0:0", true},
		{"::ffff:0:808:808", true},      // IPv4-translated (SIIT)
		{"64:ff9b::", true},             // NAT64 of 0.0.0.0
		{"64:ff9b::7f00:1", true},       // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", true},        // NAT64 of 10.0.0.1
		{"64:ff9b:1::808:808", true},    // local-use NAT64
		{"192.0.2.1", true},             // documentation
		{"203.0.113.9", true},           // documentation
		{"2001:db8::1", true},           // documentation
		{"2001:10::1", true},            // ORCHID
		{"::127.0.0.1", true},           // IPv4-compatible
		{"64:ff9b::a9fe:a9fe", true},    // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", false},     // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", true},        // 6to4 of 127.0.0.1
		{"2002:808:808::1", false},      // 6to4 of 8.8.8.8
		{"2001:4860:4860::8888", false}, // public
		{"2606:4700:4700::1111", false}, // public
	}
	for _, c := range cases {
		t.Run(c.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(c.ip)
			reason, denied := ssrf.Denied(ip)
			if denied != c.denied {
				t.Fatalf("Denied(%s) = %v (%s), want %v", c.ip, denied, reason, c.denied)
			}
			g, err := ssrf.NewGuard(nil)
			if err != nil {
				t.Fatal(err)
			}
			err = g.Check(ip)
			if (err != nil) != c.denied {
				t.Fatalf("Check(%s) = %v, want denied=%v", c.ip, err, c.denied)
			}
			if err != nil && !errors.Is(err, ssrf.ErrBlocked) {
				t.Fatalf("Check error %v does not wrap ErrBlocked", err)
			}
		})
	}
}

func TestBlockedErrorHidesTheAddress(t *testing.T) {
	g, err := ssrf.NewGuard(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.1.2.3", "169.254.169.254", "::ffff:10.9.8.7", "fd00:ec2::254"} {
		err := g.Check(netip.MustParseAddr(ip))
		var be *ssrf.BlockedError
		if !errors.As(err, &be) || be.Reason == "" {
			t.Fatalf("Check(%s) = %v, want a *BlockedError with a reason", ip, err)
		}
		if msg := err.Error(); strings.Contains(msg, ip) || strings.Contains(msg, strings.TrimPrefix(ip, "::ffff:")) || !strings.Contains(msg, be.Reason) {
			t.Errorf("Check(%s) message %q must name the reason %q and not the address", ip, msg, be.Reason)
		}
	}
}

func TestGuardAllowlist(t *testing.T) {
	g, err := ssrf.NewGuard([]string{"10.1.0.0/16", " 127.0.0.1 ", "fd00::/8", "Internal.Example.com.", "::ffff:192.168.7.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, ok := range map[string]bool{
		"10.1.2.3":           true,
		"10.2.0.1":           false,
		"127.0.0.1":          true,
		"::ffff:127.0.0.1":   true,
		"127.0.0.2":          false,
		"fd00:ec2::254":      true,
		"fc00::1":            false,
		"192.168.7.9":        true,
		"192.168.8.9":        false,
		"169.254.169.254":    false,
		"8.8.8.8":            true,
		"2001:4860::8888:11": true,
	} {
		if err := g.Check(netip.MustParseAddr(ip)); (err == nil) != ok {
			t.Errorf("Check(%s) = %v, want allowed=%v", ip, err, ok)
		}
	}
	for h, ok := range map[string]bool{
		"internal.example.com":   true,
		"INTERNAL.example.com.":  true,
		"example.com":            false,
		"x.internal.example.com": false,
	} {
		if g.HostAllowed(h) != ok {
			t.Errorf("HostAllowed(%s) = %v, want %v", h, !ok, ok)
		}
	}
}

func TestNewGuardRejectsBadEntries(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "10.0.0/8", "http://example.com", "*.example.com", "exa mple.com", "-bad.example.com", "a..b", "fd00::/129", "example.com:8080"} {
		_, err := ssrf.NewGuard([]string{"127.0.0.1/32", bad})
		if err == nil {
			t.Errorf("NewGuard(%q) accepted a bad entry", bad)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("error %q does not name the entry %q", err, bad)
		}
	}
	if _, err := ssrf.NewClient([]string{"nope/8"}, time.Second); err == nil {
		t.Error("NewClient accepted a bad entry")
	}
	if _, err := ssrf.NewGuard([]string{"", "  "}); err != nil {
		t.Errorf("empty entries: %v", err)
	}
}

func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestClientLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	defer srv.Close()
	ctx := context.Background()

	denied, err := ssrf.NewClient(nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(ctx, denied, srv.URL); !errors.Is(err, ssrf.ErrBlocked) {
		t.Fatalf("request to %s without allowlist: err = %v, want ErrBlocked", srv.URL, err)
	}
	// A host name that resolves to loopback is refused after resolution.
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	_, _, err = get(ctx, denied, localhost)
	if !errors.Is(err, ssrf.ErrBlocked) {
		t.Fatalf("request to %s without allowlist: err = %v, want ErrBlocked", localhost, err)
	}
	// The job learns the kind of range, never the address its name
	// resolved to.
	if msg := err.Error(); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "::1") || !strings.Contains(msg, "loopback") {
		t.Fatalf("refusal %q must name the range (loopback) and not the resolved address", msg)
	}

	allowed, err := ssrf.NewClient([]string{"127.0.0.1/32"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := get(ctx, allowed, srv.URL)
	if err != nil || code != 200 || body != "hello" {
		t.Fatalf("allowlisted request = %d %q %v", code, body, err)
	}

	byName, err := ssrf.NewClient([]string{"localhost"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, err := get(ctx, byName, localhost); err != nil || code != 200 {
		t.Fatalf("request to allowlisted host name = %d %v", code, err)
	}
	if _, _, err := get(ctx, byName, srv.URL); !errors.Is(err, ssrf.ErrBlocked) {
		t.Fatalf("host name allowlist must not permit the bare IP: err = %v", err)
	}
}

func TestClientRedirects(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/loopback", func(w http.ResponseWriter, r *http.Request) {
		// 127.0.0.2 is loopback but outside the allowlisted 127.0.0.1/32.
		http.Redirect(w, r, strings.Replace("http://"+r.Host+"/ok", "127.0.0.1", "127.0.0.2", 1), http.StatusFound)
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		_, _ = fmt.Sscan(r.PathValue("n"), &n) // not a number: n stays 0, the last hop
		if n == 0 {
			_, _ = io.WriteString(w, "landed")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := ssrf.NewClient([]string{"127.0.0.1/32"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, path := range []string{"/metadata", "/loopback", "/file", "/hop/6"} {
		if _, _, err := get(ctx, c, srv.URL+path); !errors.Is(err, ssrf.ErrBlocked) {
			t.Errorf("GET %s: err = %v, want ErrBlocked", path, err)
		}
	}
	if code, body, err := get(ctx, c, srv.URL+"/hop/5"); err != nil || code != 200 || body != "landed" {
		t.Errorf("five redirects = %d %q %v, want them followed", code, body, err)
	}
	if _, _, err := get(ctx, c, "ftp://127.0.0.1/"); !errors.Is(err, ssrf.ErrBlocked) {
		t.Errorf("ftp: err = %v, want ErrBlocked", err)
	}
}
