package ssrf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a guarded client follows.
const MaxRedirects = 5

// ErrBlocked is wrapped by every refusal of the guard.
var ErrBlocked = errors.New("ssrf: destination not allowed")

// BlockedError says which address was refused and why.
//
// Its message names only the kind of range (Reason), never Addr: the
// message reaches the job's own results (a failed HTTP_CALL step), and
// the address a host name resolves to inside the platform's network is
// what an attacker probing it wants to learn.
type BlockedError struct {
	Addr   netip.Addr // the resolved address (zero when the refusal is not about an address); for operators, not in Error
	Reason string     // such as "loopback" or "private (RFC 1918)"
}

func (e *BlockedError) Error() string {
	if !e.Addr.IsValid() {
		return "ssrf: refused: " + e.Reason
	}
	return "ssrf: refused: the destination is a " + e.Reason + " address"
}

// Unwrap makes errors.Is(err, ErrBlocked) true.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

type deny struct {
	prefix netip.Prefix
	reason string
}

// denied lists the ranges refused by default. IPv4-mapped IPv6 addresses
// (::ffff:0:0/96) are refused as a whole, and so are IPv4-translated ones
// (::ffff:0:0:0/96): a dialer never produces them for an IPv4 destination,
// so a socket address in either range is a detour. NAT64 (64:ff9b::/96)
// and 6to4 addresses are checked by the IPv4 address they embed, so that
// public destinations stay reachable from IPv6-only networks.
var denied = func() []deny {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "shared (CGNAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "reserved (IETF protocol assignments)"},
		{"192.0.2.0/24", "reserved (documentation)"},
		{"192.88.99.0/24", "reserved (6to4 relay anycast)"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "reserved (benchmarking)"},
		{"198.51.100.0/24", "reserved (documentation)"},
		{"203.0.113.0/24", "reserved (documentation)"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"}, // includes 255.255.255.255
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "IPv4-compatible (deprecated)"},
		{"::ffff:0:0/96", "IPv4-mapped IPv6"},
		{"::ffff:0:0:0/96", "IPv4-translated IPv6"},
		{"64:ff9b:1::/48", "local-use NAT64"},
		{"100::/64", "discard-only"},
		{"2001::/32", "Teredo"},
		{"2001:10::/28", "reserved (ORCHID)"},
		{"2001:db8::/32", "reserved (documentation)"},
		{"3fff::/20", "reserved (documentation)"},
		{"fc00::/7", "private (unique local)"}, // includes fd00:ec2::254
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local (deprecated)"},
		{"ff00::/8", "multicast"},
	}
	out := make([]deny, len(list))
	for i, d := range list {
		out[i] = deny{netip.MustParsePrefix(d.cidr), d.reason}
	}
	return out
}()

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96")
	sixToIV = netip.MustParsePrefix("2002::/16")
)

// Denied reports whether ip lies in a range the guard refuses by default,
// and names the range.
func Denied(ip netip.Addr) (reason string, refused bool) {
	if !ip.IsValid() {
		return "invalid", true
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return "IPv4-mapped IPv6", true
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			v4 := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
			if r, bad := Denied(v4); bad {
				return r + " (NAT64)", true
			}
			return "", false
		case sixToIV.Contains(ip):
			v4 := netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
			if r, bad := Denied(v4); bad {
				return r + " (6to4)", true
			}
			return "", false
		}
	}
	for _, d := range denied {
		if d.prefix.Contains(ip) {
			return d.reason, true
		}
	}
	return "", false
}

// Guard decides which destinations may be reached.
type Guard struct {
	nets  []netip.Prefix
	hosts map[string]bool
}

// NewGuard parses an allowlist: each entry is a CIDR ("10.1.0.0/16"), a
// single IP, or a host name matched exactly and case-insensitively. A bad
// entry is an error that names it.
func NewGuard(allow []string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}}
	for _, raw := range allow {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("ssrf: allowlist entry %q is not a valid CIDR: %v", raw, err)
			}
			g.nets = append(g.nets, normPrefix(p))
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
			ip = ip.WithZone("").Unmap()
			g.nets = append(g.nets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		h, ok := normHost(e)
		if !ok {
			return nil, fmt.Errorf("ssrf: allowlist entry %q is neither a CIDR, an IP nor a host name", raw)
		}
		g.hosts[h] = true
	}
	return g, nil
}

func normPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// normHost lower-cases a host name, drops a trailing dot, and checks that
// it is made of DNS labels (letters, digits, hyphens and underscores).
func normHost(h string) (string, bool) {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	return h, true
}

// Check returns nil if ip may be dialed: it is outside the refused ranges,
// or inside an allowlisted CIDR. Otherwise it returns a *BlockedError.
//
// An allowlisted IPv4 range also admits its IPv4-mapped form; outside the
// allowlist, every IPv4-mapped address is refused.
func (g *Guard) Check(ip netip.Addr) error {
	ip = ip.WithZone("")
	for _, p := range g.nets {
		if p.Contains(ip.Unmap()) {
			return nil
		}
	}
	if reason, bad := Denied(ip); bad {
		return &BlockedError{Addr: ip, Reason: reason}
	}
	return nil
}

// HostAllowed reports whether host (a name from a URL) is allowlisted by
// name, in which case its addresses are not checked.
func (g *Guard) HostAllowed(host string) bool {
	if len(g.hosts) == 0 {
		return false
	}
	h, ok := normHost(host)
	return ok && g.hosts[h]
}

// Control is a net.Dialer Control function that refuses connections to
// addresses Check refuses. It sees the address after DNS resolution.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp4", "tcp6":
	default:
		return &BlockedError{Reason: "network " + network}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: fmt.Sprintf("unparsable address %q", address)}
	}
	return g.Check(ap.Addr())
}

// Dialer returns the dial function of a guarded transport: host names on
// the allowlist are dialed as they are, everything else through a dialer
// whose Control checks each resolved address.
func (g *Guard) Dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	guarded := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.Control}
	open := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(addr); err == nil && g.HostAllowed(host) {
			return open.DialContext(ctx, network, addr)
		}
		conn, err := guarded.DialContext(ctx, network, addr)
		var blocked *BlockedError
		if errors.As(err, &blocked) {
			// Not the *net.OpError, whose message names the resolved
			// address: see BlockedError.
			return nil, blocked
		}
		return conn, err
	}
}

// Client returns an HTTP client guarded by g. timeout bounds a whole
// request, redirects included (0 means no limit beyond the request's
// context).
func (g *Guard) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial on our behalf, past the guard
		DialContext:            g.Dialer(10 * time.Second),
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    10,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: schemeGuard{tr},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return &BlockedError{Reason: fmt.Sprintf("more than %d redirects", MaxRedirects)}
			}
			return checkScheme(req)
		},
	}
}

// NewClient returns an HTTP client that refuses internal destinations
// except those allow permits (see NewGuard).
func NewClient(allow []string, timeout time.Duration) (*http.Client, error) {
	g, err := NewGuard(allow)
	if err != nil {
		return nil, err
	}
	return g.Client(timeout), nil
}

type schemeGuard struct{ next http.RoundTripper }

func (s schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkScheme(req); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return s.next.RoundTrip(req)
}

func checkScheme(req *http.Request) error {
	switch req.URL.Scheme {
	case "http", "https":
		return nil
	}
	return &BlockedError{Reason: fmt.Sprintf("scheme %q (only http and https)", req.URL.Scheme)}
}
