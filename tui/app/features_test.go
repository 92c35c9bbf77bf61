package app_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/deadletters"
	"github.com/hookd/hookd/tui/endpoints"
	helpview "github.com/hookd/hookd/tui/help"
)

// The header names the hookd, the database, the operator and the mode.
func TestHeaderSaysWhereAndWho(t *testing.T) {
	t.Parallel()
	m, _ := newAppWith(t, fixture(), 200, 40, app.Options{ReadOnly: true, Actor: audit.SSHKey("SHA256:abc", "oncall"), Remote: "10.1.2.3:5555"})
	first := strings.Split(screen(m), "\n")[0]
	for _, want := range []string{"READ-ONLY", "you: ssh SHA256:abc (oncall) from 10.1.2.3:5555", "hookd v1.4.0 on ops-1", "db hookd@127.0.0.1:5432/hookd"} {
		if !strings.Contains(first, want) {
			t.Errorf("the header lacks %q: %q", want, first)
		}
	}
}

// The palette's hint is whole at any width: the longest that fits.
func TestPaletteHintFits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		width int
		want  string
	}{
		{120, "a view (dead, endpoints, tenants…), or a delivery, event, endpoint or tenant id"},
		{80, "a view, or a delivery, event, endpoint or tenant id"},
		{40, "a view or an id"},
	} {
		m, up := newApp(t, fixture(), c.width, 24, false)
		commontest.Press(t, up, ":")
		lines := strings.Split(screen(m), "\n")
		var prompt string
		for _, l := range lines {
			if strings.HasPrefix(l, ":") {
				prompt = strings.TrimRight(l, " ")
			}
		}
		if prompt != ":"+c.want {
			t.Errorf("at %d columns the palette reads %q; want %q", c.width, prompt, ":"+c.want)
		}
	}
}

// : jumps to a view (with a filter) or to any id pasted.
func TestPaletteJumps(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 120, 40, false)
	jump := func(text string) {
		t.Helper()
		commontest.Press(t, up, ":")
		commontest.Type(t, up, text)
		commontest.Press(t, up, "enter")
	}
	jump("dead endpoint:billing")
	if m.Active() != common.ViewDeadLetters || m.ViewAt(common.ViewDeadLetters).(*deadletters.Model).List().FilterText() != "endpoint:billing" {
		t.Fatalf("a view's name with a filter: active %d", m.Active())
	}
	jump("ep_01jdbilling0000000000000000")
	ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
	if m.Active() != common.ViewEndpoints || ep.Page() == nil || ep.Page().ID() != "ep_01jdbilling0000000000000000" {
		t.Fatal("an endpoint id opens its page")
	}
	jump("evt_01jd00000000000000000004")
	if m.Active() != common.ViewDeliveries || !strings.Contains(screen(m), "event evt_01jd00000000000000000004") {
		t.Fatalf("an event id opens the event:\n%s", screen(m))
	}
	jump("104")
	if !strings.Contains(screen(m), "delivery 104 ") {
		t.Fatalf("a delivery id opens its attempts:\n%s", screen(m))
	}
	commontest.Press(t, up, "esc", "esc")
	if m.Active() != common.ViewEndpoints {
		t.Fatalf("esc walks back through the jumps: active %d", m.Active())
	}
	jump("nope")
	if !strings.Contains(m.StatusLine(), `"nope" is no view, delivery, event, endpoint or tenant`) {
		t.Fatalf("an unknown id says so: %q", m.StatusLine())
	}
	jump("q")
	if !m.QuitDialog().Active() {
		t.Fatal(":q asks to quit")
	}
}

// The audit view lists what the console did, with who.
func TestAuditViewListsActions(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newAppWith(t, src, 120, 40, app.Options{Actor: audit.SSHKey("SHA256:abc", "alice")})
	commontest.Press(t, up, "4", "r", "y", "6")
	out := screen(m)
	if !strings.Contains(out, "replay") || !strings.Contains(out, "delivery 111") || !strings.Contains(out, "ssh SHA256:abc (alice)") {
		t.Fatalf("the audit view lists the replay with its actor:\n%s", out)
	}
	for _, c := range src.Actions() {
		if c.Actor != audit.SSHKey("SHA256:abc", "alice") {
			t.Fatalf("every action carries the console's actor: %+v", c)
		}
	}
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "action:disable")
	commontest.Press(t, up, "enter")
	if !strings.Contains(screen(m), "no entries match /action:disable") {
		t.Fatalf("the audit view filters:\n%s", screen(m))
	}
}

// The endpoint page's actions: rotate (the secret shown once, copyable),
// edit (only what changed), test event; each after a question.
func TestEndpointPageActions(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 120, 40, false)
	commontest.Press(t, up, "2", "j", "enter") // Billing service
	ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
	page := ep.Page()
	if page == nil || page.ID() != "ep_01jdbilling0000000000000000" {
		t.Fatal("the page of Billing service")
	}
	out := screen(m)
	for _, want := range []string{"Billing service", "https://billing.example/hooks", "invoice.*", "6 behind the breaker · 4 retrying · 0 in flight",
		"37 dead", "14 failures in a row", "Errors by reason", "Recent deliveries", "HTTP 503 Service Unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("the page lacks %q:\n%s", want, out)
		}
	}
	commontest.Press(t, up, "K")
	if !strings.Contains(page.Confirm().Prompt(), "Rotate the signing secret of Billing service") {
		t.Fatalf("K asks: %q", page.Confirm().Prompt())
	}
	commontest.Press(t, up, "y")
	if !strings.Contains(screen(m), src.Secret) {
		t.Fatalf("the new secret is shown once:\n%s", screen(m))
	}
	msgs := commontest.Press(t, up, "y")
	if !strings.Contains(strings.Join(commontest.Statuses(msgs), " "), "copied the new secret") {
		t.Fatalf("y copies it: %v", commontest.Statuses(msgs))
	}
	commontest.Press(t, up, "esc")
	if strings.Contains(screen(m), src.Secret) {
		t.Fatal("closed, the secret is gone from the screen")
	}
	commontest.Press(t, up, "E", "tab", "tab", "tab") // to the rate limit
	if !strings.Contains(screen(m), "0 = unlimited") {
		t.Fatalf("the form says what a rate limit of 0 means while the field has the cursor:\n%s", screen(m))
	}
	for range 3 {
		commontest.Press(t, up, "backspace")
	}
	commontest.Type(t, up, "25")
	commontest.Press(t, up, "enter")
	if p := page.Confirm().Prompt(); !strings.Contains(p, "rate limit /s: 0 → 25") || strings.Contains(p, "URL:") {
		t.Fatalf("the edit names only what changed: %q", p)
	}
	commontest.Press(t, up, "y", "t", "y")
	acts := src.Actions()
	if len(acts) != 3 || acts[0].Method != "RotateSecret" || acts[1].Method != "UpdateEndpoint" || acts[2].Method != "SendTestEvent" {
		t.Fatalf("rotate, edit, test: %v", acts)
	}
	u := acts[1].Args[1].(endpoint.UpdateParams)
	if u.RateLimit == nil || *u.RateLimit != 25 || u.URL != nil || u.EventTypes != nil || u.Description != nil {
		t.Fatalf("only the rate limit is sent: %+v", u)
	}
	// A bad value is refused in the form, naming the field.
	commontest.Press(t, up, "E", "tab", "tab", "tab", "tab", "tab")
	commontest.Type(t, up, "soon")
	commontest.Press(t, up, "enter")
	if !strings.Contains(screen(m), `timeout: "0soon" is not a duration`) || len(src.Actions()) != 3 {
		t.Fatalf("a bad timeout is refused in the form:\n%s", screen(m))
	}
	commontest.Press(t, up, "esc")
	if page.Capturing() {
		t.Fatal("esc closes the form")
	}
}

// Dead letters grouped by endpoint and reason, replayed per group.
func TestGroupedDeadLetters(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 120, 40, false)
	commontest.Press(t, up, "4", "v")
	dl := m.ViewAt(common.ViewDeadLetters).(*deadletters.Model)
	gs := dl.Groups()
	if !dl.Grouped() || len(gs) != 2 || gs[0].Count != 4 {
		t.Fatalf("two groups of 4: %+v", gs)
	}
	out := screen(m)
	if !strings.Contains(out, "Legacy ERP (down: connection refused)") || !strings.Contains(out, "connect: connection refused") ||
		!strings.Contains(out, "Billing service") || !strings.Contains(out, "HTTP 503 Service Unavailable") {
		t.Fatalf("groups name the endpoint and the reason:\n%s", out)
	}
	commontest.Press(t, up, "R")
	p := dl.Confirm().Prompt()
	if !strings.Contains(p, "Replay 4 dead letters") || !strings.Contains(p, "4 × ") || !strings.Contains(p, "endpoint now:") {
		t.Fatalf("the group's preview: %q", p)
	}
	commontest.Type(t, up, "4")
	commontest.Press(t, up, "enter")
	acts := src.Actions()
	if len(acts) != 1 {
		t.Fatalf("%v", acts)
	}
	pv := acts[0].Args[0].(*data.Preview)
	if len(pv.IDs) != 4 || len(pv.Query.EndpointIDs) != 1 || pv.Query.Reason == "" {
		t.Fatalf("the group's replay is that group's: %+v", pv.Query)
	}
	commontest.Press(t, up, "j", "enter")
	if dl.Grouped() || !strings.HasPrefix(dl.List().FilterText(), "endpoint:") || !strings.Contains(dl.List().FilterText(), "reason:") {
		t.Fatalf("enter lists the group's dead letters: %q", dl.List().FilterText())
	}
}

// / in the help filters the keys as they are typed.
func TestHelpFilters(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 80, 24, false)
	commontest.Press(t, up, "4", "?", "/")
	commontest.Type(t, up, "curl")
	help := m.ViewAt(common.ViewHelp).(*helpview.Model)
	if text := help.Text(); !strings.Contains(text, "copy as curl") || strings.Contains(text, "next view") {
		t.Fatalf("typing filters the keys:\n%s", text)
	}
	commontest.Press(t, up, "esc")
	if text := help.Text(); !strings.Contains(text, "next view") {
		t.Fatal("esc clears the filter")
	}
}

// Clearing the event types in the edit form means all types, as its hint
// says: the form sent [""], which the endpoint now refuses as a list of
// blank entries.
func TestClearingEventTypesInTheFormMeansAll(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 120, 40, false)
	commontest.Press(t, up, "2", "j", "enter") // Billing service, invoice.*
	if m.ViewAt(common.ViewEndpoints).(*endpoints.Model).Page() == nil {
		t.Fatal("no endpoint page")
	}
	commontest.Press(t, up, "E", "tab", "tab") // to the event types
	for range len("invoice.*") + 5 {
		commontest.Press(t, up, "backspace")
	}
	commontest.Press(t, up, "enter", "y")
	acts := src.Actions()
	if len(acts) != 1 || acts[0].Method != "UpdateEndpoint" {
		t.Fatalf("want one edit, got %v\n%s", acts, screen(m))
	}
	u := acts[0].Args[1].(endpoint.UpdateParams)
	if u.EventTypes == nil || len(*u.EventTypes) != 0 {
		t.Fatalf("a cleared event types field sends %v, want [] (all types)", u.EventTypes)
	}
}
