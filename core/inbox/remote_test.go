package inbox_test

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/testkit"
)

// TestRejectionLogNamesTheClient: behind a trusted proxy the rejection log
// names the address the proxy forwarded; from any other peer the forwarded
// headers are ignored and the peer is logged, so a sender cannot forge it.
func TestRejectionLogNamesTheClient(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted loopback proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}, "remote=203.0.113.9"},
		{"peer not a trusted proxy", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "remote=127.0.0.1"},
		{"no trusted proxies", nil, "remote=127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			b := setup(t, inbox.HandlerOptions{
				TrustedProxies: c.trusted,
				Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
			})
			b.source(t, inbox.CreateParams{Name: "std", Scheme: "standard", Secrets: []string{secretA}})
			req := standardSigned(t, "m1", time.Now(), "{}", secretB)
			req.header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.9")
			req.header.Set("X-Real-IP", "203.0.113.9")
			if a := b.post(t, "std", req); a.status != http.StatusUnauthorized {
				t.Fatalf("answer %d %v, want 401", a.status, a.body)
			}
			out := logs.String()
			if !strings.Contains(out, "request rejected") || !strings.Contains(out, c.want+" ") {
				t.Fatalf("rejection log lacks %q:\n%s", c.want, out)
			}
		})
	}
}
