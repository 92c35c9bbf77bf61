package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckHostRefusesBlockedSpellings(t *testing.T) {
	t.Parallel()
	g := New(nil)
	for _, host := range []string{
		"127.0.0.1", "127.0.0.1.", "[::1]", "::1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "2130706433",
		"0x7f000001", "0x7f.1", "0177.0.0.1", "127.1", "127.0.1", "localhost", "LOCALHOST.", "api.localhost",
		"169.254.169.254", "[fd00:ec2::254]", "metadata.google.internal", "10.0.0.1", "0", "[fe80::1%25eth0]",
		"[64:ff9b::7f00:1]", "[2002:7f00:1::]", "0.0.0.0", "192.168.0.1",
		// Spellings the HTTP client maps to the above (IDNA), and a short
		// name the search domain completes.
		"１２７.０.０.１", "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "ＬＯＣＡＬＨＯＳＴ", "metadata",
	} {
		var b *BlockedError
		if err := g.CheckHost(host); !errors.As(err, &b) {
			t.Errorf("CheckHost(%q) = %v, want a *BlockedError", host, err)
		}
	}
	for _, host := range []string{"example.com", "93.184.215.14", "[2606:4700::1]", "hooks.example.org.", "1.2.3.4.5", "08.1.1.1", "1e3", "bücher.example"} {
		if err := g.CheckHost(host); err != nil {
			t.Errorf("CheckHost(%q) = %v, want nil", host, err)
		}
	}
}

func TestCheckHostHonoursAllowedNetworks(t *testing.T) {
	t.Parallel()
	g := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")})
	for _, host := range []string{"127.0.0.1", "[::1]", "localhost", "2130706433"} {
		if err := g.CheckHost(host); err != nil {
			t.Errorf("CheckHost(%q) with loopback allowed = %v", host, err)
		}
	}
	if err := g.CheckHost("10.0.0.1"); err == nil {
		t.Error("10.0.0.1 passed with only loopback allowed")
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1", "010.0.0.1": "8.0.0.1",
		"1.2.65535": "1.2.255.255", "0": "0.0.0.0", "0x0": "0.0.0.0",
	} {
		got, ok := parseLegacyIPv4(in)
		if !ok || got.String() != want {
			t.Errorf("parseLegacyIPv4(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "256.1.1.1", "1.2.3.256", "1.2.65536", "4294967296", "a.b", "1..2", "08", "1.2.3.4.5"} {
		if got, ok := parseLegacyIPv4(in); ok {
			t.Errorf("parseLegacyIPv4(%q) = %v, want no address", in, got)
		}
	}
}

// LegacyIPv4 picks out the IPv4 spellings the guard reads but the dialer
// does not, in the forms CheckHost judges (brackets, case, a trailing dot).
func TestLegacyIPv4(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0x7f000001": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "2130706433.": "127.0.0.1",
		"0X08080808": "8.8.8.8", "010.0.0.1": "8.0.0.1",
	} {
		got, ok := LegacyIPv4(in)
		if !ok || got.String() != want {
			t.Errorf("LegacyIPv4(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"127.0.0.1", "8.8.8.8.", "[::1]", "::ffff:127.0.0.1", "example.com", "0x7f.example", "1.2.3.4.5", ""} {
		if got, ok := LegacyIPv4(in); ok {
			t.Errorf("LegacyIPv4(%q) = %v, want false", in, got)
		}
	}
}
