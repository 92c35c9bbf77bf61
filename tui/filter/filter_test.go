package filter_test

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/filter"
)

func TestDeliveryTerms(t *testing.T) {
	t.Parallel()
	d, err := filter.Deliveries(`state:retrying ep:legacy tenant:org:cus_42 status:5xx reason:CONNECT type:payment.* id:in:shop:evt_1 refused "dial tcp 10.0.0.7:443"`, now)
	if err != nil {
		t.Fatal(err)
	}
	q := d.Query
	if q.State != delivery.StateRetrying || q.Tenant != "org:cus_42" || d.Endpoint != "legacy" || d.EndpointIsID || q.StatusMin != 500 ||
		q.StatusMax != 599 || q.Reason != "connect" || q.EventType != "payment.*" || q.EventID != "in:shop:evt_1" ||
		q.Text != "refused dial tcp 10.0.0.7:443" {
		t.Fatalf("%+v %+v", d, q)
	}
	if d, _ := filter.Deliveries("endpoint:ep_01abc", now); !d.EndpointIsID || d.Query.EndpointID != "ep_01abc" {
		t.Fatalf("an endpoint id is used as it is: %+v", d)
	}
	for in, want := range map[string]string{
		"state:retry":        `"retry" is not a delivery state (allowed: pending, retrying`,
		"status:99":          "not an HTTP status",
		"reason:nope":        "not an error class (allowed: timeout, connect",
		"stat:dead":          `unknown filter key "stat"`,
		"state:deadid:x":     "separate terms with a space",
		`"open`:              "a quote is not closed",
		"state:":             "state: no value",
		"state:dead state:x": "state: given twice",
		"since:yesterday":    "since:",
		"until:0001-01-01":   "until: 0001-01-01T00:00:00Z is out of range",
		"text:\x07":          "control character",
		"tenant:cus/42":      `tenant: "cus/42" is not a tenant id`,
		"state:skipped x:1":  `unknown filter key "x"`,
	} {
		if _, err := filter.Deliveries(in, now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	// Free text only where the view takes it.
	if _, err := filter.Parse("refused", "source", "state"); err == nil || !strings.Contains(err.Error(), "not a key:value term (keys: source, state)") {
		t.Errorf("free text in a view without it: %v", err)
	}
}

// An open prompt shows as much of its example as fits, cut between words.
func TestPromptExampleCutBetweenWords(t *testing.T) {
	t.Parallel()
	const example = "endpoint:legacy status:5xx reason:connect refused since:1h"
	for _, c := range []struct {
		width int
		want  string
	}{
		{120, "/" + example},
		{80, "/endpoint:legacy status:5xx reason:connect…"},
		{60, "/endpoint:legacy status:5xx…"},
	} {
		p := filter.NewPrompt(example)
		p.SetWidth(c.width)
		p.Start()
		head, _, _ := strings.Cut(ansi.Strip(p.Line("", "100 loaded · updated 1s ago")), "  ")
		if head = strings.TrimRight(head, " "); head != c.want {
			t.Errorf("at %d columns the prompt reads %q; want %q", c.width, head, c.want)
		}
	}
}

// An applied filter says what the rows are: it keeps its room, and the
// info beside it is cut first; with none applied, the hint is cut
// between words. Before, a filter kept 16 cells ("filter: tenant:…")
// next to a long info line, and hints were cut mid-word ("name, UR…").
func TestAppliedFilterBeforeInfo(t *testing.T) {
	t.Parallel()
	const info = "2 of the endpoints matching the filter · by trouble · updated <1s ago"
	p := filter.NewPrompt("example")
	p.SetWidth(80)
	p.SetApplied("tenant:cus_42 state:dead endpoint:ep_01m91b")
	line := ansi.Strip(p.Line("", info))
	if !strings.Contains(line, "tenant:cus_42 state:dead endpoint:ep_01m91b  2 of the") || ansi.StringWidth(line) > 80 {
		t.Errorf("the applied filter gave way to info:\n%q", line)
	}
	p.SetApplied("")
	line = ansi.Strip(p.Line("/ filter by name, URL or id, tenant:", "2 in trouble · 3 endpoints · by trouble · updated <1s ago"))
	if head, _, _ := strings.Cut(line, "  "); head != "/ filter by name…" {
		t.Errorf("the hint reads %q; want it cut between words", head)
	}
}
