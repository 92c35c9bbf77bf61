package help

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// The filter syntax wraps between words only, its next lines indented
// under it: at 80 columns the help's column cut "2026-" from "01-02" and
// started a paragraph's second line at the first one's indent.
func TestFilterSyntaxWrapsBetweenWords(t *testing.T) {
	t.Parallel()
	for width := 30; width <= 60; width++ {
		for _, para := range FilterSyntax {
			lines := hangingUnder("  ", "    ", para, width)
			if got := strings.Join(strings.Fields(strings.Join(lines, " ")), " "); got != strings.Join(strings.Fields(para), " ") {
				t.Fatalf("at %d the words changed: %q", width, got)
			}
			for i, l := range lines {
				if ansi.StringWidth(l) > width && len(strings.Fields(l)) > 1 {
					t.Errorf("at %d, line %q is wider than the column", width, l)
				}
				if i > 0 && !strings.HasPrefix(l, "    ") {
					t.Errorf("at %d, a next line %q is not indented under its paragraph", width, l)
				}
			}
		}
	}
}
