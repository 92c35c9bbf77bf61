package app_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/common"
)

// keySections is every key the help can show, whichever view it was
// opened from: the keys that work everywhere, each view's (drill-downs
// included), moving, dialogs.
func keySections(m *app.Model) []common.HelpSection {
	k := m.Common().Keys
	out := []common.HelpSection{{Title: "everywhere", Keys: k.Global()}}
	for _, v := range m.Views() {
		out = append(out, v.HelpSections()...)
	}
	return append(out, common.HelpSection{Title: "lists and text", Keys: k.Movement()},
		common.HelpSection{Title: "dialogs and forms", Keys: k.Dialog()})
}

// The README's console section lists every key as the help does, and
// nothing else: the table's (key, action) pairs and the help's are equal.
func TestReadmeListsEveryKeyAsTheHelpDoes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	start := strings.Index(section, "<!-- console keys: begin -->")
	end := strings.Index(section, "<!-- console keys: end -->")
	if start < 0 || end < start {
		t.Fatal("README.md has no console key table between <!-- console keys: begin --> and <!-- console keys: end -->")
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| ([^|]+) \\| [^|]+ \\|$")
	var readme []string
	for _, l := range strings.Split(section[start:end], "\n") {
		if g := row.FindStringSubmatch(strings.TrimSpace(l)); g != nil {
			readme = append(readme, g[1]+" = "+strings.TrimSpace(g[2]))
		}
	}
	m, _ := newApp(t, fixture(), 100, 30, false)
	var help []string
	for _, s := range keySections(m) {
		for _, kb := range s.Keys {
			if h := kb.Help(); !slices.Contains(help, h.Key+" = "+h.Desc) {
				help = append(help, h.Key+" = "+h.Desc)
			}
		}
	}
	for _, h := range help {
		if !slices.Contains(readme, h) {
			t.Errorf("README.md's console key table lacks `%s`", h)
		}
	}
	for _, r := range readme {
		if !slices.Contains(help, r) {
			t.Errorf("README.md's console key table lists `%s`, which the help does not", r)
		}
	}
}
