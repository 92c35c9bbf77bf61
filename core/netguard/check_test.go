package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckBlocksByCategory(t *testing.T) {
	t.Parallel()

	g := New(nil)
	cases := []struct {
		addr     string
		category string
	}{
		{"127.0.0.1", CategoryLoopback},
		{"127.255.255.254", CategoryLoopback},
		{"::1", CategoryLoopback},
		{"::ffff:127.0.0.1", CategoryLoopback},
		{"10.0.0.1", CategoryPrivate},
		{"172.16.0.1", CategoryPrivate},
		{"172.31.255.255", CategoryPrivate},
		{"192.168.1.1", CategoryPrivate},
		{"::ffff:10.1.2.3", CategoryPrivate},
		{"::ffff:192.168.0.1", CategoryPrivate},
		{"fc00::1", CategoryPrivate},
		{"fd12:3456::1", CategoryPrivate},
		{"fec0::1", CategoryPrivate},
		{"169.254.1.1", CategoryLinkLocal},
		{"::ffff:169.254.1.1", CategoryLinkLocal},
		{"fe80::1", CategoryLinkLocal},
		{"fe80::1%eth0", CategoryLinkLocal},
		{"100.64.0.1", CategoryCGNAT},
		{"100.127.255.255", CategoryCGNAT},
		{"224.0.0.1", CategoryMulticast},
		{"239.255.255.250", CategoryMulticast},
		{"ff02::1", CategoryMulticast},
		{"ff0e::1", CategoryMulticast},
		{"0.0.0.0", CategoryUnspecified},
		{"::", CategoryUnspecified},
		{"::ffff:0.0.0.0", CategoryUnspecified},
		{"0.1.2.3", CategoryThisNetwork},
		{"255.255.255.255", CategoryBroadcast},
		{"240.0.0.1", CategoryReserved},
		{"192.0.0.8", CategoryReserved},
		{"100::1", CategoryReserved},
		{"::127.0.0.1", CategoryReserved}, // IPv4-compatible (deprecated)
		{"169.254.169.254", CategoryMetadata},
		{"::ffff:169.254.169.254", CategoryMetadata},
		{"169.254.170.2", CategoryMetadata},
		{"100.100.100.200", CategoryMetadata},
		{"168.63.129.16", CategoryMetadata},
		{"fd00:ec2::254", CategoryMetadata},
		{"fd20:ce::254", CategoryMetadata},
		{"192.0.2.10", CategoryDocumentation},
		{"198.51.100.10", CategoryDocumentation},
		{"203.0.113.10", CategoryDocumentation},
		{"2001:db8::1", CategoryDocumentation},
		{"3fff::1", CategoryDocumentation},
		{"198.18.0.1", CategoryBenchmarking},
		{"198.19.255.255", CategoryBenchmarking},
		{"2001:2::1", CategoryBenchmarking},
		{"64:ff9b:1::1", CategoryPrivate}, // local-use NAT64
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			be := requireBlocked(t, g, tc.addr)
			if be.Category != tc.category {
				t.Errorf("Check(%s) category = %q, want %q", tc.addr, be.Category, tc.category)
			}
			if be.Embedded.IsValid() {
				t.Errorf("Check(%s) Embedded = %s, want zero", tc.addr, be.Embedded)
			}
		})
	}
}

func TestCheckEmbeddedIPv4(t *testing.T) {
	t.Parallel()

	g := New(nil)
	cases := []struct {
		addr     string
		category string
		embedded string
		via      string
	}{
		{"64:ff9b::7f00:1", CategoryLoopback, "127.0.0.1", "NAT64"},
		{"64:ff9b::a9fe:a9fe", CategoryMetadata, "169.254.169.254", "NAT64"},
		{"2002:7f00:1::1", CategoryLoopback, "127.0.0.1", "6to4"},
		{"2002:a00:1::", CategoryPrivate, "10.0.0.1", "6to4"},
		{"2002:c0a8:101::1", CategoryPrivate, "192.168.1.1", "6to4"},
		// Teredo: server 8.8.8.8 (public), client 127.0.0.1 obfuscated.
		{"2001:0:808:808::80ff:fffe", CategoryLoopback, "127.0.0.1", "Teredo client"},
		// Teredo: server 10.0.0.1, client 8.8.8.8 obfuscated.
		{"2001:0:a00:1::f7f7:f7f7", CategoryPrivate, "10.0.0.1", "Teredo server"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			be := requireBlocked(t, g, tc.addr)
			if be.Category != tc.category || be.Embedded.String() != tc.embedded || be.Via != tc.via {
				t.Errorf("Check(%s) = {%q %s %q}, want {%q %s %q}", tc.addr,
					be.Category, be.Embedded, be.Via, tc.category, tc.embedded, tc.via)
			}
		})
	}
}

func TestCheckAllowsPublic(t *testing.T) {
	t.Parallel()

	// Only checked, never dialled.
	g := New(nil)
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1",
		"169.253.255.255", "198.20.0.1", "223.255.255.255", "11.0.0.1",
		"::ffff:8.8.8.8", "2606:4700:4700::1111", "2001:4860:4860::8888",
		"64:ff9b::808:808",          // NAT64 of 8.8.8.8
		"2002:808:808::1",           // 6to4 of 8.8.8.8
		"2001:0:808:808::f7f7:f7f7", // Teredo, server and client 8.8.8.8
		"2a00:1450:4001:80b::200e",
	} {
		if err := g.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", s, err)
		}
	}
}

func TestCheckAllowedNetworks(t *testing.T) {
	t.Parallel()

	allowed, err := ParseAllowed([]string{"127.0.0.0/8", "::1", "10.1.0.0/16", "fd00:ec2::254"})
	if err != nil {
		t.Fatal(err)
	}
	g := New(allowed)
	for _, s := range []string{
		"127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "::1",
		"10.1.2.3", "::ffff:10.1.2.3", "fd00:ec2::254",
		"64:ff9b::a01:203", // NAT64 of 10.1.2.3
	} {
		if err := g.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("Check(%s) = %v, want nil (allowed)", s, err)
		}
	}
	for _, s := range []string{"10.2.0.1", "192.168.1.1", "169.254.169.254", "fd00:ec2::253", "::2"} {
		requireBlocked(t, g, s)
	}
}

func TestCheckAllowedMappedPrefix(t *testing.T) {
	t.Parallel()

	// An IPv4-mapped prefix allows the plain IPv4 addresses it covers.
	g := New([]netip.Prefix{netip.MustParsePrefix("::ffff:192.168.0.0/112")})
	if err := g.Check(netip.MustParseAddr("192.168.3.4")); err != nil {
		t.Errorf("Check(192.168.3.4) = %v, want nil", err)
	}
	requireBlocked(t, g, "172.16.0.1")
}

func TestCheckInvalidAddress(t *testing.T) {
	t.Parallel()

	var be *BlockedError
	if err := New(nil).Check(netip.Addr{}); !errors.As(err, &be) || be.Category != CategoryInvalid {
		t.Fatalf("Check(zero) = %v, want BlockedError %q", err, CategoryInvalid)
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()

	g := New(nil)
	cases := map[string]string{
		"127.0.0.1": "address 127.0.0.1 is loopback and blocked by the outbound address guard; " +
			"allow it with delivery.allowed_networks",
		"::ffff:169.254.169.254": "address 169.254.169.254 is metadata and blocked by the outbound address guard; " +
			"allow it with delivery.allowed_networks",
		"2002:7f00:1::1": "address 2002:7f00:1::1 carries 127.0.0.1 (6to4), which is loopback, and is " +
			"blocked by the outbound address guard; allow it with delivery.allowed_networks",
	}
	for addr, want := range cases {
		if got := g.Check(netip.MustParseAddr(addr)).Error(); got != want {
			t.Errorf("Check(%s).Error() =\n  %s\nwant\n  %s", addr, got, want)
		}
	}
}

func requireBlocked(t *testing.T, g *Guard, addr string) *BlockedError {
	t.Helper()
	err := g.Check(netip.MustParseAddr(addr))
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("Check(%s) = %v, want *BlockedError", addr, err)
	}
	return be
}
