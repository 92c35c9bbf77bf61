package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/auditview"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/deliveries"
	"github.com/hookd/hookd/tui/endpoints"
	helpview "github.com/hookd/hookd/tui/help"
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

// On a terminal too short for it the overview scrolls: every section can
// be brought into view, and the last line says how.
func TestOverviewScrollsOnAShortTerminal(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 80, 14, false)
	out := screen(m)
	if strings.Contains(out, "Endpoints in trouble") || !strings.Contains(out, "j/k, pgup/pgdn scroll") {
		t.Fatalf("10 lines cannot hold the overview; the screen must say it scrolls:\n%s", out)
	}
	commontest.Press(t, up, "G")
	out = screen(m)
	for _, want := range []string{"Endpoints in trouble", "Legacy ERP", "Billing service"} {
		if !strings.Contains(out, want) {
			t.Fatalf("scrolled to the bottom, the overview lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n") + 1; n != 14 {
		t.Fatalf("the screen must stay 14 lines, is %d", n)
	}
	commontest.Press(t, up, "pgup", "pgup", "pgup")
	if out := screen(m); !strings.Contains(out, "events in") {
		t.Fatalf("paging up returns to the top:\n%s", out)
	}
	commontest.Press(t, up, "j")
	if out := screen(m); strings.Contains(out, "Rates") {
		t.Fatalf("j scrolls a line down:\n%s", out)
	}
}

// At 80 columns the endpoints view keeps what is wrong with each
// endpoint; columns it repeats or that matter less give way.
func TestEndpointsSayWhatIsWrongAtEightyColumns(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 80, 24, false)
	commontest.Press(t, up, "2")
	out := screen(m)
	if !strings.Contains(out, "WHAT IS WRONG") {
		t.Fatalf("80 columns lack the what-is-wrong column:\n%s", out)
	}
	for _, r := range tableRows(out, "ENDPOINT") {
		if strings.HasPrefix(r, "Billing service") && !strings.Contains(r, "breaker open for 3m") {
			t.Fatalf("the open breaker is not said: %q", r)
		}
		if strings.HasPrefix(r, "Legacy ERP") && !strings.Contains(r, "disabled (4 held)") {
			t.Fatalf("the disabled endpoint is not said: %q", r)
		}
	}
}

// After x the endpoint page says the fifo line is held, at once: neither
// the line's old words nor a refresh read before the disable come back.
func TestDisabledFifoLineSaysItIsHeld(t *testing.T) {
	t.Parallel()
	src := fixture()
	src.Eps = append(src.Eps, data.EndpointRow{
		Endpoint: &endpoint.Endpoint{ID: "ep_01jdorders000000000000000", Description: "Orders", URL: "https://orders.example/in",
			Enabled: true, Kind: endpoint.KindWebhook, BodyFormat: endpoint.BodyEnvelope, Ordering: endpoint.OrderingFIFO},
		Health: &delivery.Health{Pending: 3},
	})
	m, up := newApp(t, src, 120, 40, false)
	commontest.Press(t, up, "2")
	ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
	if !ep.Table().SetCursorID("ep_01jdorders000000000000000") {
		t.Fatal("no Orders row")
	}
	commontest.Press(t, up, "enter")
	if !strings.Contains(screen(m), "the line moves") {
		t.Fatalf("an enabled fifo endpoint's line moves:\n%s", screen(m))
	}
	// A refresh reads the endpoint, enabled, and answers after the disable.
	stale := ep.Page().RefreshNow()()
	commontest.Press(t, up, "x", "y")
	commontest.Drain(t, up, func() tea.Msg { return stale })
	out := screen(m)
	if strings.Contains(out, "the line moves") || !strings.Contains(out, "held while the endpoint is disabled") ||
		!strings.Contains(out, "DISABLED") {
		t.Fatalf("disabled, the page must say the line is held:\n%s", out)
	}
}

// An endpoint deleted outside the console: its open page says so at the
// next refresh and acts no more; back on the list it is gone.
func TestDeletedEndpointLeavesTheScreen(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "2")
	ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
	if !ep.Table().SetCursorID("ep_01jdbilling0000000000000000") {
		t.Fatal("no Billing service row")
	}
	commontest.Press(t, up, "enter")
	src.Eps = slices.DeleteFunc(src.Eps, func(r data.EndpointRow) bool { return r.Endpoint.ID == "ep_01jdbilling0000000000000000" })
	commontest.Press(t, up, "ctrl+r")
	out := screen(m)
	if !strings.Contains(out, "This endpoint was deleted.") || strings.Contains(out, "Recent deliveries") {
		t.Fatalf("the page of a deleted endpoint must say so:\n%s", out)
	}
	msgs := commontest.Press(t, up, "x")
	if st := commontest.Statuses(msgs); len(st) != 1 || !strings.Contains(st[0], "was deleted") || ep.Page().Confirm().Active() {
		t.Fatalf("x on a deleted endpoint is refused: %v", st)
	}
	commontest.Press(t, up, "esc")
	out = screen(m)
	if rows := tableRows(out, "ENDPOINT"); len(rows) != 2 || strings.Contains(strings.Join(rows, "\n"), "Billing service") {
		t.Fatalf("back on the list the deleted endpoint is gone:\n%s", out)
	}
}

// A filter applied while the database is unreachable keeps the rows and
// the filter they match, and says why the new one was not applied; once
// the database is back the same filter applies.
func TestFilterWhileTheDatabaseIsDownKeepsTheLastData(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "3", "/")
	commontest.Type(t, up, "state:dead")
	commontest.Press(t, up, "enter")
	dv := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
	dead := len(dv.List().Items())
	if dead != 8 {
		t.Fatalf("state:dead lists the 8 dead, not %d", dead)
	}
	src.SetDown(datafake.ErrDown)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, " endpoint:ep_01jdbilling0000000000000000")
	commontest.Press(t, up, "enter")
	out := screen(m)
	if len(dv.List().Items()) != dead || len(tableRows(out, "ID")) != dead || dv.List().FilterText() != "state:dead" {
		t.Fatalf("the rows of state:dead must stay, %d left, filter %q:\n%s", len(dv.List().Items()), dv.List().FilterText(), out)
	}
	if !strings.Contains(out, "connection refused") || !strings.Contains(m.StatusLine(), "not applied") {
		t.Fatalf("the error must show, and that the filter was not applied (%q):\n%s", m.StatusLine(), out)
	}
	src.SetDown(nil)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, " endpoint:ep_01jdbilling0000000000000000")
	commontest.Press(t, up, "enter")
	if n := len(dv.List().Items()); n != 4 || strings.Contains(screen(m), "connection refused") {
		t.Fatalf("back up, the filter applies: %d rows\n%s", n, screen(m))
	}
}

// The endpoints view keeps its rows the same way when a filter cannot be
// applied.
func TestEndpointsFilterWhileTheDatabaseIsDownKeepsTheLastData(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "2")
	src.SetDown(datafake.ErrDown)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "billing")
	commontest.Press(t, up, "enter")
	out := screen(m)
	if rows := tableRows(out, "ENDPOINT"); len(rows) != 3 || !strings.Contains(out, "connection refused") {
		t.Fatalf("the 3 endpoints must stay, with the error:\n%s", out)
	}
	if !strings.Contains(m.StatusLine(), "filter /billing not applied") || strings.Contains(out, "matching") {
		t.Fatalf("the filter is not in force, and the view says so (%q):\n%s", m.StatusLine(), out)
	}
	src.SetDown(nil)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "billing")
	commontest.Press(t, up, "enter")
	if rows := tableRows(screen(m), "ENDPOINT"); len(rows) != 1 || !strings.HasPrefix(rows[0], "Billing service") {
		t.Fatalf("back up, the filter applies:\n%s", screen(m))
	}
}

// The audit view keeps its rows the same way when a filter cannot be
// applied.
func TestAuditFilterWhileTheDatabaseIsDownKeepsTheLastData(t *testing.T) {
	t.Parallel()
	src := fixture()
	for i, action := range []string{audit.ActionReplay, audit.ActionDisable, audit.ActionReplay} {
		src.Trail = append(src.Trail, audit.Entry{ID: int64(i + 1), At: commontest.Now, Action: action, Actor: tester,
			Via: audit.ViaConsole, Target: "delivery 1", Rows: 1, Outcome: audit.OutcomeOK})
	}
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "6")
	av := m.ViewAt(common.ViewAudit).(*auditview.Model)
	src.SetDown(datafake.ErrDown)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "action:disable")
	commontest.Press(t, up, "enter")
	if out := screen(m); len(av.Items()) != 3 || !strings.Contains(out, "connection refused") ||
		!strings.Contains(m.StatusLine(), "filter /action:disable not applied") {
		t.Fatalf("the 3 entries must stay, with the error (%q):\n%s", m.StatusLine(), out)
	}
	src.SetDown(nil)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "action:disable")
	commontest.Press(t, up, "enter")
	if len(av.Items()) != 1 {
		t.Fatalf("back up, the filter applies: %d entries", len(av.Items()))
	}
}

// At 80 columns the audit view shows an action's name whole, the longest
// included, next to a long target: the name is what the row is about.
func TestAuditActionsWholeAtEightyColumns(t *testing.T) {
	t.Parallel()
	src := fixture()
	for i, action := range []string{audit.ActionRotate, audit.ActionTest} {
		src.Trail = append(src.Trail, audit.Entry{ID: int64(i + 1), At: commontest.Now, Action: action, Actor: tester,
			Via: audit.ViaConsole, Target: "ep_01jdbilling0000000000000000", Rows: 1, Outcome: audit.OutcomeOK})
	}
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "6")
	out := screen(m)
	for _, action := range []string{audit.ActionRotate, audit.ActionTest} {
		if !strings.Contains(out, " "+action+" ") {
			t.Errorf("action %s is not shown whole:\n%s", action, out)
		}
	}
}

// At 80 columns the help of every view fits: long descriptions and
// filter lines wrap within their column instead of being cut.
func TestHelpFitsEightyColumns(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		m, up := newApp(t, fixture(), 80, 24, false)
		commontest.Press(t, up, v, "?")
		text := m.ViewAt(common.ViewHelp).(*helpview.Model).Text()
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, "…") || ansi.StringWidth(l) > 80 {
				t.Fatalf("view %s: the help cuts %q", v, l)
			}
		}
		for _, want := range []string{"(asks)", "dead, skipped", "keeps its own"} {
			if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
				t.Fatalf("view %s: the help lacks %q:\n%s", v, want, text)
			}
		}
	}
}

// Behind an open breaker nothing is due: the endpoint page counts its
// pending deliveries as waiting on the breaker and its rows say so; an
// endpoint whose breaker is closed says how long its oldest due has
// waited, as the overview reckons it.
func TestBreakerHeldWorkIsNotDueOnTheEndpointPage(t *testing.T) {
	t.Parallel()
	src := fixture()
	for i, ep := range []string{"ep_01jdbilling0000000000000000", "ep_01jdsearch0000000000000000"} {
		src.AddDelivery(delivery.Delivery{ID: int64(600 + i), EventID: "evt_wait", EndpointID: ep, State: delivery.StatePending,
			NextAttemptAt: commontest.Now.Add(-83 * time.Second), CreatedAt: commontest.Now.Add(-83 * time.Second)})
	}
	src.Eps[0].Health.Pending = 1 // search.example's
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "2")
	ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
	ep.Table().SetCursorID("ep_01jdbilling0000000000000000")
	commontest.Press(t, up, "enter")
	out := screen(m)
	if !strings.Contains(out, "6 behind the breaker · 4 retrying · 0 in flight · 0 held · 37 dead") || strings.Contains(out, " due ·") ||
		!strings.Contains(out, "waits on the breaker") || strings.Contains(out, "overdue") {
		t.Fatalf("behind the open breaker nothing is due:\n%s", out)
	}
	commontest.Press(t, up, "esc")
	ep.Table().SetCursorID("ep_01jdsearch0000000000000000")
	commontest.Press(t, up, "enter")
	if out := screen(m); !strings.Contains(out, "1 due, oldest 1m") || !strings.Contains(out, "overdue 1m") {
		t.Fatalf("the oldest due is said as the overview says it (1m):\n%s", out)
	}
	commontest.Press(t, up, "1")
	if out := screen(m); !strings.Contains(out, "behind breakers        6") || !strings.Contains(out, "oldest due      1m") {
		t.Fatalf("the overview counts what the breakers hold apart:\n%s", out)
	}
}
