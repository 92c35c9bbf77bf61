// Package clientip finds the address of the client behind a request,
// believing proxy headers only from proxies the operator trusts
// (http.trusted_proxies).
//
// # Why the peer decides
//
// X-Forwarded-For and X-Real-IP are plain request headers: anyone can send
// them. They mean something only when the connection comes from a proxy
// that sets them, such as the shipped nginx site, which overwrites both
// with the address it accepted the connection from. So [From] reads them
// only when the TCP peer (r.RemoteAddr) is inside a trusted prefix, and
// then only as far as the chain of trusted proxies reaches.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// From returns the client address of r as an IP string.
//
// When the peer of r.RemoteAddr is not inside one of trusted (always, when
// trusted is empty), From returns the peer's IP and ignores every header.
// Otherwise it walks X-Forwarded-For from the right, the end the nearest
// proxy appended to, skipping trusted addresses, and returns the first
// address that is not trusted: the client as the outermost trusted proxy
// saw it. A malformed entry ends the walk, since nothing to its left can
// be vouched for; the walk then yields the leftmost trusted address it
// passed, if any. When X-Forwarded-For yields nothing, From returns
// X-Real-IP if it holds an address, else the peer.
//
// Entries may be bare IPs or IP:port ("[v6]:port" for IPv6); IPv4-mapped
// IPv6 addresses are reported as IPv4, and zones are dropped. When
// r.RemoteAddr holds no IP (a Unix socket, a test request), From returns it
// unchanged.
func From(r *http.Request, trusted []netip.Prefix) string {
	peer, ok := parse(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	if a, ok := fromForwardedFor(r.Header.Values("X-Forwarded-For"), trusted); ok {
		return a.String()
	}
	if a, ok := parse(r.Header.Get("X-Real-IP")); ok {
		return a.String()
	}
	return peer.String()
}

// fromForwardedFor walks the X-Forwarded-For values (several header lines
// form one list, in order) from the right; see From.
func fromForwardedFor(values []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var last netip.Addr // the leftmost trusted hop passed so far
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parse(hops[i])
		if !ok {
			break
		}
		if !isTrusted(a, trusted) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}

// parse reads an IP, IP:port or [IPv6]:port, normalized for comparison
// with prefixes: IPv4-mapped IPv6 unmapped, zone dropped.
func parse(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
				return netip.Addr{}, false
			}
			if a, err = netip.ParseAddr(s[1 : len(s)-1]); err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
