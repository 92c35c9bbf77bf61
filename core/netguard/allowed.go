package netguard

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseAllowed parses the entries of delivery.allowed_networks: CIDR
// prefixes ("127.0.0.0/8", "fd00::/8") and bare IP addresses ("10.1.2.3",
// "::1"), IPv4 or IPv6. Surrounding spaces are ignored. An entry with host
// bits set ("10.0.0.1/8"), a zone, or anything else is rejected with an
// error that names the entry and what is accepted.
func ParseAllowed(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for i, raw := range cidrs {
		p, err := parseAllowedEntry(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("delivery.allowed_networks[%d] %q: %w", i, raw, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseAllowedEntry(s string) (netip.Prefix, error) {
	const accepted = "want a CIDR prefix such as 10.0.0.0/8 or fd00::/8, or an IP address such as 127.0.0.1 or ::1"
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty entry; %s", accepted)
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("zones are not supported; %s", accepted)
	}
	if !strings.Contains(s, "/") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address; %s", accepted)
		}
		return normalisePrefix(netip.PrefixFrom(ip, ip.BitLen())), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR prefix; %s", accepted)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("host bits are set; did you mean %s?", m)
	}
	return normalisePrefix(p), nil
}

// normalisePrefix masks p and turns an IPv4-mapped prefix into its IPv4
// form, since Check compares unmapped addresses.
func normalisePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}
