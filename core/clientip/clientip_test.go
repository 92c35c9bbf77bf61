package clientip_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/hookd/hookd/core/clientip"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestFrom(t *testing.T) {
	t.Parallel()
	loopback := prefixes(t, "127.0.0.1/32", "::1/128")
	chain := prefixes(t, "127.0.0.1/32", "10.0.0.0/8")
	tests := []struct {
		name    string
		remote  string
		xff     []string // one entry per header line
		realIP  string
		trusted []netip.Prefix
		want    string
	}{
		{name: "no proxy trusted", remote: "198.51.100.7:5123", want: "198.51.100.7"},
		{name: "headers ignored when nothing is trusted", remote: "127.0.0.1:5123",
			xff: []string{"203.0.113.9"}, realIP: "203.0.113.9", want: "127.0.0.1"},
		{name: "spoofed headers from an untrusted peer", remote: "198.51.100.7:5123",
			xff: []string{"203.0.113.9"}, realIP: "203.0.113.9", trusted: loopback, want: "198.51.100.7"},
		{name: "nginx in front", remote: "127.0.0.1:40000",
			xff: []string{"203.0.113.9"}, realIP: "203.0.113.9", trusted: loopback, want: "203.0.113.9"},
		{name: "client-sent entries left of the trusted hop are not believed", remote: "127.0.0.1:40000",
			xff: []string{"6.6.6.6, 203.0.113.9"}, trusted: loopback, want: "203.0.113.9"},
		{name: "several proxies", remote: "127.0.0.1:40000",
			xff: []string{"6.6.6.6, 203.0.113.9, 10.1.2.3", "10.4.5.6"}, trusted: chain, want: "203.0.113.9"},
		{name: "every hop trusted: the leftmost", remote: "127.0.0.1:40000",
			xff: []string{"10.9.9.9, 10.1.2.3"}, trusted: chain, want: "10.9.9.9"},
		{name: "client on the proxy's host", remote: "127.0.0.1:40000",
			xff: []string{"127.0.0.1"}, realIP: "127.0.0.1", trusted: loopback, want: "127.0.0.1"},
		{name: "malformed entry ends the walk", remote: "127.0.0.1:40000",
			xff: []string{"203.0.113.9, not-an-ip, 10.1.2.3"}, trusted: chain, want: "10.1.2.3"},
		{name: "malformed rightmost falls back to X-Real-IP", remote: "127.0.0.1:40000",
			xff: []string{"203.0.113.9, bogus"}, realIP: "198.51.100.1", trusted: loopback, want: "198.51.100.1"},
		{name: "empty X-Forwarded-For falls back to X-Real-IP", remote: "127.0.0.1:40000",
			xff: []string{""}, realIP: " 198.51.100.1 ", trusted: loopback, want: "198.51.100.1"},
		{name: "malformed headers fall back to the peer", remote: "127.0.0.1:40000",
			xff: []string{"999.1.1.1"}, realIP: "unknown", trusted: loopback, want: "127.0.0.1"},
		{name: "entries with ports", remote: "127.0.0.1:40000",
			xff: []string{"[2001:db8::9]:443, 203.0.113.9:8080"}, trusted: loopback, want: "203.0.113.9"},
		{name: "IPv6 peer and client", remote: "[::1]:40000",
			xff: []string{"2001:db8::9"}, trusted: loopback, want: "2001:db8::9"},
		{name: "bracketed IPv6 entry", remote: "[::1]:40000",
			xff: []string{"[2001:db8::9]"}, trusted: loopback, want: "2001:db8::9"},
		{name: "IPv6 untrusted peer", remote: "[2001:db8::1]:40000",
			xff: []string{"203.0.113.9"}, trusted: loopback, want: "2001:db8::1"},
		{name: "IPv4-mapped peer matches an IPv4 prefix", remote: "[::ffff:127.0.0.1]:40000",
			xff: []string{"::ffff:203.0.113.9"}, trusted: loopback, want: "203.0.113.9"},
		{name: "zoned peer", remote: "[fe80::1%eth0]:40000",
			xff: []string{"203.0.113.9"}, trusted: prefixes(t, "fe80::/10"), want: "203.0.113.9"},
		{name: "remote without an IP is returned as is", remote: "@",
			xff: []string{"203.0.113.9"}, trusted: loopback, want: "@"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/in/shop", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := clientip.From(r, tc.trusted); got != tc.want {
				t.Errorf("From(remote %q, X-Forwarded-For %q, X-Real-IP %q) = %q, want %q",
					tc.remote, tc.xff, tc.realIP, got, tc.want)
			}
		})
	}
}
