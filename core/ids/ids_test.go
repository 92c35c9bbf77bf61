package ids

import (
	"strings"
	"testing"
)

func TestNewIsPrefixedUniqueAndOrdered(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 1000 {
		id := New("ep")
		if !strings.HasPrefix(id, "ep_") || len(id) != 3+26 {
			t.Fatalf("id %q: want ep_ and 26 characters", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		// Same-millisecond ids may come in any order; the time part must not go back.
		if prev != "" && id[3:13] < prev[3:13] {
			t.Fatalf("time part went back: %s after %s", id, prev)
		}
		prev = id
	}
}
