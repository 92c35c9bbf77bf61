package netguard

import (
	"cmp"
	"net/netip"
	"slices"
)

// Categories reported in BlockedError.Category.
const (
	CategoryLoopback      = "loopback"
	CategoryPrivate       = "private"
	CategoryLinkLocal     = "link-local"
	CategoryCGNAT         = "cgnat"
	CategoryMulticast     = "multicast"
	CategoryUnspecified   = "unspecified"
	CategoryBroadcast     = "broadcast"
	CategoryMetadata      = "metadata"
	CategoryDocumentation = "documentation"
	CategoryBenchmarking  = "benchmarking"
	CategoryThisNetwork   = "this-network"
	CategoryReserved      = "reserved"
	CategoryInvalid       = "invalid"
)

type blockedRange struct {
	prefix   netip.Prefix
	category string
}

// blockedRanges is sorted longest prefix first, so the first match is the
// most specific one (169.254.169.254 is metadata, not just link-local).
var blockedRanges = sortRanges([]blockedRange{
	// IPv4.
	r("0.0.0.0/32", CategoryUnspecified),
	r("0.0.0.0/8", CategoryThisNetwork),
	r("10.0.0.0/8", CategoryPrivate),
	r("100.64.0.0/10", CategoryCGNAT),
	r("127.0.0.0/8", CategoryLoopback),
	r("169.254.0.0/16", CategoryLinkLocal),
	r("172.16.0.0/12", CategoryPrivate),
	r("192.0.0.0/24", CategoryReserved), // IETF protocol assignments
	r("192.0.2.0/24", CategoryDocumentation),
	r("192.88.99.0/24", CategoryReserved), // deprecated 6to4 relay anycast
	r("192.168.0.0/16", CategoryPrivate),
	r("198.18.0.0/15", CategoryBenchmarking),
	r("198.51.100.0/24", CategoryDocumentation),
	r("203.0.113.0/24", CategoryDocumentation),
	r("224.0.0.0/4", CategoryMulticast),
	r("240.0.0.0/4", CategoryReserved),
	r("255.255.255.255/32", CategoryBroadcast),

	// IPv4 cloud metadata and host services.
	r("169.254.169.254/32", CategoryMetadata), // AWS, GCP, Azure, OCI, DO, Hetzner...
	r("169.254.169.253/32", CategoryMetadata), // AWS VPC DNS
	r("169.254.169.123/32", CategoryMetadata), // AWS time sync
	r("169.254.170.2/32", CategoryMetadata),   // AWS ECS task metadata
	r("169.254.170.23/32", CategoryMetadata),  // AWS EKS pod identity
	r("100.100.100.200/32", CategoryMetadata), // Alibaba Cloud
	r("168.63.129.16/32", CategoryMetadata),   // Azure wireserver (a public address)
	r("192.0.0.192/32", CategoryMetadata),     // Oracle Cloud (legacy)

	// IPv6. IPv4-mapped (::ffff:0:0/96) is unmapped before matching;
	// NAT64, 6to4 and Teredo are judged by the IPv4 address they embed.
	r("::/128", CategoryUnspecified),
	r("::1/128", CategoryLoopback),
	r("::/8", CategoryReserved),          // IPv4-compatible, IPv4-translated, ...
	r("64:ff9b:1::/48", CategoryPrivate), // local-use NAT64
	r("100::/64", CategoryReserved),      // discard-only
	r("2001:2::/48", CategoryBenchmarking),
	r("2001:10::/28", CategoryReserved), // ORCHID (deprecated)
	r("2001:20::/28", CategoryReserved), // ORCHIDv2
	r("2001:db8::/32", CategoryDocumentation),
	r("3fff::/20", CategoryDocumentation),
	r("5f00::/16", CategoryReserved), // SRv6 SIDs
	r("fc00::/7", CategoryPrivate),   // unique local
	r("fe80::/10", CategoryLinkLocal),
	r("fec0::/10", CategoryPrivate), // site-local (deprecated)
	r("ff00::/8", CategoryMulticast),

	// IPv6 cloud metadata.
	r("fd00:ec2::254/128", CategoryMetadata), // AWS IMDS
	r("fd00:ec2::253/128", CategoryMetadata), // AWS VPC DNS
	r("fd00:ec2::123/128", CategoryMetadata), // AWS time sync
	r("fd00:ec2::23/128", CategoryMetadata),  // AWS EKS pod identity
	r("fd20:ce::254/128", CategoryMetadata),  // GCP
})

var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	teredoPrefix = netip.MustParsePrefix("2001::/32")
)

func r(cidr, category string) blockedRange {
	return blockedRange{prefix: netip.MustParsePrefix(cidr), category: category}
}

func sortRanges(rs []blockedRange) []blockedRange {
	slices.SortStableFunc(rs, func(a, b blockedRange) int {
		return cmp.Compare(b.prefix.Bits(), a.prefix.Bits())
	})
	return rs
}

// category returns the blocked category of a zone-less, unmapped address,
// or "" when the address is not in any blocked range.
func category(ip netip.Addr) string {
	for _, br := range blockedRanges {
		if br.prefix.Contains(ip) {
			return br.category
		}
	}
	return ""
}

// embedded is an IPv4 address carried inside an IPv6 address by a
// transition mechanism; traffic to the IPv6 address reaches the IPv4 one.
type embedded struct {
	addr netip.Addr
	via  string
}

// embeddedV4 lists the IPv4 addresses a NAT64, 6to4 or Teredo address
// carries. Teredo carries two: the server and the (obfuscated) client.
func embeddedV4(ip netip.Addr) []embedded {
	if !ip.Is6() {
		return nil
	}
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return []embedded{{v4(b[12], b[13], b[14], b[15]), "NAT64"}}
	case sixToFour.Contains(ip):
		return []embedded{{v4(b[2], b[3], b[4], b[5]), "6to4"}}
	case teredoPrefix.Contains(ip):
		return []embedded{
			{v4(b[4], b[5], b[6], b[7]), "Teredo server"},
			{v4(^b[12], ^b[13], ^b[14], ^b[15]), "Teredo client"},
		}
	}
	return nil
}

func v4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }
