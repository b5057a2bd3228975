// Package ssrf builds HTTP clients that cannot be turned against the
// platform's own network: server-side request forgery protection for the
// worker's HTTP_CALL step.
//
// A guarded client speaks only http and https, ignores proxy settings, and
// checks every address it connects to at dial time, after DNS resolution
// (through net.Dialer.Control), so a host name that resolves, or later
// re-resolves, to an internal address is refused just like the address
// itself. Redirects go through the same dialer and are limited to five.
//
// Refused by default: unspecified, loopback, link-local (including the
// cloud metadata endpoints 169.254.169.254 and fd00:ec2::254), private
// (RFC 1918, fc00::/7), shared address space (CGNAT, 100.64.0.0/10),
// multicast, documentation and other reserved ranges, also when written
// as IPv4-compatible, NAT64 or 6to4 IPv6 addresses; and every IPv4-mapped
// (::ffff:0:0/96) or IPv4-translated (::ffff:0:0:0/96) address, whatever
// it embeds.
//
// A refusal's message names the kind of range only ("the destination is
// a loopback address"), never the address a host name resolved to: it
// reaches the job's results, and must not map the internal network.
//
// An allowlist lets an operator permit some of them: each entry is a CIDR
// (or a single IP) whose addresses may be dialed, or a host name that is
// then dialed without the address check (exact, case-insensitive match).
package ssrf
