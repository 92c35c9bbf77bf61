package netguard

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// metadataNames are host names that clouds resolve to their metadata
// services; refused by CheckHost like the addresses they resolve to.
var metadataNames = map[string]bool{
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
	"metadata":                   true, // metadata.google.internal by the search domain
}

// CheckHost judges the host of a URL before anything is dialled, so that
// an endpoint aimed at a refused address can be refused when it is made,
// with the same *BlockedError the dial would give. It catches IP literals
// in every spelling a resolver may accept (127.0.0.1, [::ffff:127.0.0.1],
// 2130706433, 0x7f.1, 0177.0.0.1, a trailing dot), "localhost" and names
// under .localhost, and the well-known metadata host names. Any other
// name passes here: it is resolved, and checked, at every dial, which is
// what stops a name that later resolves elsewhere (DNS rebinding).
func (g *Guard) CheckHost(host string) error {
	h, err := hostAsDialled(host)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return g.Check(ip)
	}
	if ip, ok := parseLegacyIPv4(h); ok {
		return g.Check(ip)
	}
	switch {
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		// Resolvers answer these with loopback without asking DNS (RFC 6761).
		if err := g.Check(netip.MustParseAddr("127.0.0.1")); err != nil {
			return err
		}
		return g.Check(netip.IPv6Loopback())
	case metadataNames[h]:
		return g.Check(netip.MustParseAddr("169.254.169.254"))
	}
	return nil
}

// hostAsDialled is host as the HTTP client reads it, to judge: in ASCII,
// lower case, without a trailing dot or brackets.
func hostAsDialled(host string) (string, error) {
	h := strings.TrimSpace(host)
	if !isASCII(h) {
		// As the HTTP client will dial it: fullwidth digits are digits,
		// circled letters letters (１２７.０.０.１ is 127.0.0.1).
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", errors.New("the host " + strconv.Quote(host) + " is not a valid host name")
		}
		h = a
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), nil
}

// LegacyIPv4 reports whether host is an IPv4 address in one of the
// spellings of inet_aton other than dotted decimal (2130706433, 0x7f.1,
// 0177.0.0.1, 127.1), and returns the address. CheckHost reads these, to
// refuse the addresses it blocks, but the dialer does not: Go's resolver
// takes them for names and looks them up, which fails.
func LegacyIPv4(host string) (netip.Addr, bool) {
	h, err := hostAsDialled(host)
	if err != nil {
		return netip.Addr{}, false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return netip.Addr{}, false
	}
	return parseLegacyIPv4(h)
}

// parseLegacyIPv4 reads the IPv4 spellings of inet_aton, which the C
// resolver accepts for a host name: one to four parts, each decimal,
// octal (leading 0) or hex (0x), the last filling the remaining bytes
// (127.1 is 127.0.0.1, 2130706433 is 127.0.0.1).
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if s == "" || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case strings.HasPrefix(p, "0x"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" && base != 16 {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(cmpOr(digits, "0"), base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = n
	}
	last := len(vals) - 1
	var v uint64
	for i := range last {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
		v |= vals[i] << (24 - 8*i)
	}
	if vals[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	v |= vals[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
