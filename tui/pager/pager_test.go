package pager_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/tui/pager"
)

// Text wraps at spaces, a line's next lines indented two cells past it;
// only a word longer than the width is cut, and a date or an id is not
// broken at its hyphens (2026-12- / 04T20:25:08Z).
func TestWrapsAtWords(t *testing.T) {
	t.Parallel()
	var m pager.Model
	m.SetSize(40, 20)
	m.SetContent("attempt 2 of delivery 1641 to intake forwarding for source payments (ep_fwd_payments)\n" +
		"  \"amount\": 7700,\n" +
		"  X-Webhook-Signature: t=1796412659,v1=0e6aa8eef9edba23b05f64675673d51e50b91a15b2c8ec28c4d7941f58f82787\n" +
		"received at 21:04, forwarded 2026-12-04T20:25:08Z")
	got := strings.Split(m.View(), "\n")
	want := []string{
		"attempt 2 of delivery 1641 to intake",
		"  forwarding for source payments",
		"  (ep_fwd_payments)",
		`  "amount": 7700,`,
		"  X-Webhook-Signature:",
		"    t=1796412659,v1=0e6aa8eef9edba23b05f",
		"    64675673d51e50b91a15b2c8ec28c4d7941f",
		"    58f82787",
		"received at 21:04, forwarded",
		"  2026-12-04T20:25:08Z",
	}
	for i, w := range want {
		if i >= len(got) || strings.TrimRight(got[i], " ") != w {
			t.Fatalf("line %d:\n got %q\nwant %q\nall: %q", i, at(got, i), w, got)
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}
