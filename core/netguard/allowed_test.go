package netguard

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseAllowed(t *testing.T) {
	t.Parallel()

	got, err := ParseAllowed([]string{
		"127.0.0.0/8", " ::1 ", "10.1.2.3", "fd00::/8", "::ffff:192.168.0.0/112", "::ffff:10.0.0.9",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.1.2.3/32"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("10.0.0.9/32"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseAllowed = %v, want %v", got, want)
	}

	if got, err := ParseAllowed(nil); err != nil || len(got) != 0 {
		t.Fatalf("ParseAllowed(nil) = %v, %v; want empty, nil", got, err)
	}
}

func TestParseAllowedErrors(t *testing.T) {
	t.Parallel()

	cases := []struct {
		entry string
		want  []string // substrings of the error
	}{
		{"localhost", []string{`[1] "localhost"`, "not an IP address", "10.0.0.0/8"}},
		{"10.0.0.0/33", []string{`[1] "10.0.0.0/33"`, "not a CIDR prefix"}},
		{"10.0.0.1/8", []string{`[1] "10.0.0.1/8"`, "host bits are set", "did you mean 10.0.0.0/8"}},
		{"", []string{`[1] ""`, "empty entry"}},
		{"fe80::1%eth0", []string{`"fe80::1%eth0"`, "zones are not supported"}},
		{"300.1.1.1", []string{`"300.1.1.1"`, "not an IP address"}},
	}
	for _, tc := range cases {
		t.Run(tc.entry, func(t *testing.T) {
			t.Parallel()
			got, err := ParseAllowed([]string{"127.0.0.0/8", tc.entry})
			if err == nil {
				t.Fatalf("ParseAllowed(%q) = %v, want error", tc.entry, got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "delivery.allowed_networks[1]") {
				t.Errorf("error %q does not name the config key and index", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestNewNormalisesPrefixes(t *testing.T) {
	t.Parallel()

	// Unmasked and invalid prefixes given directly to New are handled too.
	g := New([]netip.Prefix{netip.MustParsePrefix("10.9.9.9/16"), {}})
	if err := g.Check(netip.MustParseAddr("10.9.0.1")); err != nil {
		t.Fatalf("Check(10.9.0.1) = %v, want nil", err)
	}
	requireBlocked(t, g, "10.10.0.1")
}
