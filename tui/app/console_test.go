package app_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/tui/common/commontest"
)

// A message speaks of the view it came from: switching views clears it.
func TestStatusStaysWithItsView(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 80, 24, false)
	commontest.Press(t, up, "2", "s")
	if !strings.Contains(m.StatusLine(), "sorted by") {
		t.Fatalf("s on the endpoints says how they are sorted; status %q", m.StatusLine())
	}
	commontest.Press(t, up, "3")
	if s := m.StatusLine(); s != "" || strings.Contains(screen(m), "sorted by") {
		t.Fatalf("the deliveries view shows the endpoints' message %q:\n%s", s, screen(m))
	}
}

// The overview's rates are averages and say over what window.
func TestOverviewRatesNameTheirWindow(t *testing.T) {
	t.Parallel()
	m, _ := newApp(t, fixture(), 80, 24, false)
	out := screen(m)
	for _, want := range []string{"events in       41.7/s over 1m27s", "deliveries out  83.2/s over 1m27s"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the overview lacks %q:\n%s", want, out)
		}
	}
}
