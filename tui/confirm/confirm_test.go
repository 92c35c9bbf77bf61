package confirm_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/styles"
)

// A question's long indented line wraps under its own indentation: a
// replay preview's "endpoint now:" lines wrapped to the box's edge.
func TestQuestionWrapsUnderItsIndentation(t *testing.T) {
	t.Parallel()
	st := styles.New(true, true)
	var m confirm.Model
	m.Open("Replay 3 dead letters?\n\n     3 × Billing service: HTTP 503\n"+
		"         endpoint now: STILL FAILING (17 in a row, no HTTP answer): a replay will likely fail again", nil)
	out := ansi.Strip(m.View(&st, 60))
	var cont string // the wrapped line, found
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "again") {
			cont = strings.Trim(l, "│ ")
			inner := strings.TrimPrefix(strings.TrimPrefix(l, "│"), " ")
			if n := len(inner) - len(strings.TrimLeft(inner, " ")); n < 11 {
				t.Fatalf("the wrapped line %q is indented %d cells, want 11 (under its line's 9, and 2):\n%s", l, n, out)
			}
		}
	}
	if cont == "" {
		t.Fatalf("no wrapped line:\n%s", out)
	}
}

// Drawn over a screen, the dialog leaves the screen's lines too long for
// the width cut with "…", as they are without it (they were cut bare:
// "created 2026").
func TestOverCutsTheScreenWithAnEllipsis(t *testing.T) {
	t.Parallel()
	st := styles.New(true, true)
	var m confirm.Model
	m.Open("Replay?", nil)
	base := strings.Repeat("event evt_1 type a.b created 2026-12-04 21:04:05Z (3m ago)\n", 20)
	out := ansi.Strip(m.Over(&st, base, 40, 20))
	first := strings.Split(out, "\n")[0]
	if !strings.HasSuffix(first, "…") || ansi.StringWidth(first) != 40 {
		t.Fatalf("the first line %q is not cut with … at 40 cells", first)
	}
}
