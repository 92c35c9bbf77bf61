package app_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/deliveries"
	helpview "github.com/hookd/hookd/tui/help"
)

func newApp(t *testing.T, src *datafake.Source, w, h int, readOnly bool) (*app.Model, commontest.Updater) {
	t.Helper()
	return newAppWith(t, src, w, h, app.Options{ReadOnly: readOnly})
}

// newAppWith builds the console on src with opts, a fixed clock and a
// fixed identity (the header names them), sized w x h, every view loaded.
func newAppWith(t *testing.T, src *datafake.Source, w, h int, opts app.Options) (*app.Model, commontest.Updater) {
	t.Helper()
	noColor := true
	opts.Source, opts.NoColor = src, &noColor
	if opts.Now == nil {
		opts.Now = func() time.Time { return commontest.Now }
	}
	opts.Host, opts.Version = "ops-1", "v1.4.0"
	if opts.Actor.IsZero() {
		opts.Actor = audit.Actor{Kind: audit.KindOS, ID: "alice"}
	}
	m := app.New(opts)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	up(tea.WindowSizeMsg{Width: w, Height: h})
	// Load every view once, as Init does, without starting the clock.
	for i := range len(m.Views()) {
		commontest.Drain(t, up, m.ViewAt(i).Init())
	}
	return m, up
}

// fixture is a small hookd: three endpoints with names, one failing, one
// disabled, and deliveries and dead letters to them.
func fixture() *datafake.Source {
	src := datafake.New()
	status := 503
	opened, probe := commontest.Now.Add(-3*time.Minute), commontest.Now.Add(20*time.Second)
	bad := data.EndpointRow{
		Endpoint: &endpoint.Endpoint{ID: "ep_01jdbilling0000000000000000", Description: "Billing service", URL: "https://billing.example/hooks",
			Enabled: true, EventTypes: []string{"invoice.*"}, Kind: endpoint.KindWebhook, BodyFormat: endpoint.BodyEnvelope,
			Tenant: "acme", Ordering: endpoint.OrderingConcurrent},
		Health: &delivery.Health{ConsecutiveFailures: 14, Dead: 37, Pending: 6, Retrying: 4, LastStatus: &status,
			Last5m:  delivery.Window{Attempts: 120, Successes: 30, SuccessRate: 0.25},
			Breaker: delivery.Breaker{State: delivery.BreakerOpen, OpenedAt: &opened, NextProbeAt: &probe}},
		P95: 2500 * time.Millisecond,
	}
	off := data.EndpointRow{
		Endpoint: &endpoint.Endpoint{ID: "ep_01jdcrm000000000000000000", Description: "Legacy ERP (down: connection refused)",
			URL: "https://crm.example/in", DisabledReason: "410 Gone from receiver", Kind: endpoint.KindWebhook, BodyFormat: endpoint.BodyEnvelope,
			Tenant: "globex", Ordering: endpoint.OrderingConcurrent},
		Health: &delivery.Health{Held: 4},
	}
	ok := data.EndpointRow{
		Endpoint: &endpoint.Endpoint{ID: "ep_01jdsearch0000000000000000", URL: "https://search.example/wh", Enabled: true,
			Kind: endpoint.KindWebhook, BodyFormat: endpoint.BodyEnvelope},
		Health: &delivery.Health{Last5m: delivery.Window{Attempts: 900, Successes: 900, SuccessRate: 1}},
		P95:    5 * time.Millisecond,
	}
	src.Eps = []data.EndpointRow{ok, bad, off}
	series := func(f func(i int) int) []int {
		s := make([]int, data.SparkMinutes)
		for i := range s {
			s[i] = f(i)
		}
		return s
	}
	src.Over = &data.Overview{
		At: commontest.Now, EventsPerSec: 41.7, AttemptsPerSec: 83.2, RateWindow: 87 * time.Second, SuccessRate: 0.9612, Attempts5m: 24960,
		Pending: 1178, BreakerHeld: 6, Retrying: 56, InFlight: 12, Dead: 37, Held: 4, OldestDue: 83 * time.Second,
		Accepted: 15230, Duplicates: 41, Rejected: 3,
		EventsPerMinute:   series(func(i int) int { return 2000 + (i%7)*150 }),
		AttemptsPerMinute: series(func(i int) int { return 4000 + (i%5)*300 }),
		FailuresPerMinute: series(func(i int) int { return (i % 6) * 40 }),
		Trouble:           []data.EndpointRow{off, bad}, EndpointsDisabled: 1, EndpointsTotal: 3, BreakersOpen: 1,
	}
	oldest, next := commontest.Now.Add(-29*24*time.Hour).Truncate(24*time.Hour), commontest.Now.Add(3*time.Hour+20*time.Minute)
	src.Stats = &retention.Stats{Period: 720 * time.Hour, TotalBytes: 1_234_567_890, OldestKept: &oldest, NextDrop: &next,
		BytesPerDelivery: 2345, Partitions: make([]partition.Sized, 9)}
	src.TenantRows = []data.TenantRow{
		{ID: "acme", Name: "Acme Corp", Endpoints: 1, Failing: 1, BreakersOpen: 1, Backlog: 10, Dead: 37},
		{ID: "globex", Name: "Globex", Endpoints: 1, Disabled: 1, Backlog: 4, Dead: 4},
		{ID: "initech", Name: "Initech", Endpoints: 3},
	}
	src.TroubleTenants = src.TenantRows[:2]
	// Deliveries, newest last, seven seconds apart; every third dead to
	// Billing service (503), every third after it dead to Legacy ERP.
	refused := "connection failed: dial tcp 10.0.0.7:443: connect: connection refused"
	for i := 1; i <= 12; i++ {
		at := commontest.Now.Add(-time.Duration(13-i) * 7 * time.Second)
		code := 200
		d := delivery.Delivery{ID: int64(100 + i), EventID: fmt.Sprintf("evt_01jd%020d", i), EventType: "payment.succeeded",
			EndpointID: ok.Endpoint.ID, State: delivery.StateSucceeded, Attempts: 1, CreatedAt: at, UpdatedAt: at, LastStatus: &code}
		switch i % 3 {
		case 1:
			died := at.Add(3 * time.Second)
			d.EndpointID, d.TenantID, d.State, d.Attempts, d.LastStatus = bad.Endpoint.ID, "acme", delivery.StateDead, 10, &status
			d.LastErrorClass, d.LastError, d.CompletedAt = delivery.ClassHTTPStatus, "HTTP 503 Service Unavailable", &died
			d.EventType = "invoice.payment_failed"
		case 2:
			died := at.Add(time.Second)
			d.EndpointID, d.TenantID, d.State, d.Attempts, d.LastStatus = off.Endpoint.ID, "globex", delivery.StateDead, 10, nil
			d.LastErrorClass, d.LastError, d.CompletedAt = delivery.ClassConnect, refused, &died
		}
		src.Dels = append(src.Dels, d)
		src.Events[d.EventID] = &outbox.Event{ID: d.EventID, Type: d.EventType, Created: at, Data: json.RawMessage(`{"amount":4200,"currency":"eur"}`)}
	}
	return src
}

func screen(m *app.Model) string { return ansi.Strip(m.Render()) }

// Golden screens of the views an operator opens first, at the smallest
// and a large terminal.
func TestGoldenScreens(t *testing.T) {
	t.Parallel()
	views := []struct {
		name string
		keys []string
	}{{"overview", []string{"1"}}, {"endpoints", []string{"2"}}, {"deadletters", []string{"4"}}, {"tenants", []string{"7"}}, {"help", []string{"4", "?"}}}
	for _, size := range [][2]int{{80, 24}, {200, 50}} {
		for _, v := range views {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, size[0], size[1]), func(t *testing.T) {
				t.Parallel()
				m, up := newApp(t, fixture(), size[0], size[1], false)
				commontest.Press(t, up, v.keys...)
				out := screen(m)
				if n := strings.Count(out, "\n") + 1; n != size[1] {
					t.Fatalf("the screen must be %d lines, is %d", size[1], n)
				}
				fits(t, m, size[0], size[1], v.name)
				golden.RequireEqual(t, out)
			})
		}
	}
}

func TestFitsEightyByTwentyFourAndResizes(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 80, 24, true)
	for _, size := range [][2]int{{80, 24}, {120, 40}, {60, 15}} {
		up(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for v := range 8 {
			commontest.Press(t, up, string(rune('1'+v)))
			out := screen(m)
			lines := strings.Split(out, "\n")
			if len(lines) > size[1] {
				t.Fatalf("%dx%d view %d: %d lines", size[0], size[1], v+1, len(lines))
			}
			for _, l := range lines {
				if w := ansi.StringWidth(l); w > size[0] {
					t.Fatalf("%dx%d view %d: line of width %d: %q", size[0], size[1], v+1, w, l)
				}
			}
		}
	}
	if !strings.Contains(screen(m), "READ-ONLY") {
		t.Fatal("read-only mode must show")
	}
}

func TestSwitchViews(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 100, 30, false)
	steps := []struct {
		key  string
		want int
	}{{"tab", 1}, {"tab", 2}, {"shift+tab", 1}, {"4", 3}, {"]", 4}, {"[", 3}, {"1", 0}, {"shift+tab", 7}, {"6", 5}, {"7", 6}}
	for _, s := range steps {
		commontest.Press(t, up, s.key)
		if m.Active() != s.want {
			t.Fatalf("after %s: view %d, want %d", s.key, m.Active(), s.want)
		}
	}
}

func TestHelpListsTheCurrentViewsBindings(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 100, 40, false)
	commontest.Press(t, up, "4", "?")
	if m.Active() != common.ViewHelp {
		t.Fatal("? opens help")
	}
	out := m.ViewAt(common.ViewHelp).(*helpview.Model).Text()
	for _, want := range []string{"Keys of dead letters", "space", "mark", "replay marked, or all", "ctrl+r", "state:retrying endpoint:legacy",
		"Keys of attempt (request and response)", "copy as curl", "Keys of dead letters grouped"} {
		if !strings.Contains(out, want) {
			t.Fatalf("help lacks %q:\n%s", want, out)
		}
	}
	commontest.Press(t, up, "esc")
	if m.Active() != common.ViewDeadLetters {
		t.Fatal("esc goes back to the view help was opened from")
	}
	// Read-only: help hides actions.
	ro, roUp := newApp(t, fixture(), 100, 40, true)
	commontest.Press(t, roUp, "4", "?")
	if text := ro.ViewAt(common.ViewHelp).(*helpview.Model).Text(); strings.Contains(text, "replay marked, or all") ||
		strings.Contains(text, "space mark") || !strings.Contains(text, "Read-only") {
		t.Fatalf("read-only help must hide replay and marking, and say why:\n%s", text)
	}
}

func TestQuitKeys(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 100, 30, false)
	if isQuit(up(commontest.Key("q"))) || !m.QuitDialog().Active() {
		t.Fatal("q at the top level asks before quitting")
	}
	// The footer of a yes/no dialog says what y does there; "one row" is
	// the help screen's contrast with typing a count.
	if sc := screen(m); strings.Contains(sc, "one row") || !strings.Contains(sc, "y confirm") {
		t.Fatalf("the quit dialog's footer offers y to confirm, without rows:\n%s", sc)
	}
	commontest.Press(t, up, "q")
	if m.QuitDialog().Active() {
		t.Fatal("a second q cancels: a habitual double q does not quit")
	}
	commontest.Press(t, up, "q")
	if msgs := commontest.Press(t, up, "y"); !hasQuit(msgs) {
		t.Fatal("y confirms the quit")
	}
	m, up = newApp(t, src, 100, 30, false)
	commontest.Press(t, up, "4", "enter")
	if !m.ViewAt(common.ViewDeadLetters).Nested() {
		t.Fatal("enter drills into the dead letter")
	}
	if isQuit(up(commontest.Key("q"))) || m.QuitDialog().Active() {
		t.Fatal("q in a sub-view goes back, it does not quit")
	}
	if m.ViewAt(common.ViewDeadLetters).Nested() {
		t.Fatal("q went back")
	}
	// A view chosen by its key is the top again: after a jump from the
	// endpoints to their deliveries, q on the overview asks to quit (it
	// walked back through the jumps, its footer saying "q quit").
	commontest.Press(t, up, "2", "j", "d")
	if m.Active() != common.ViewDeliveries {
		t.Fatalf("d on an endpoint opens deliveries, active %d", m.Active())
	}
	commontest.Press(t, up, "1", "q")
	if !m.QuitDialog().Active() || m.Active() != common.ViewOverview {
		t.Fatalf("q on the overview chosen by its key asks to quit (active %d)", m.Active())
	}
	commontest.Press(t, up, "n")
	commontest.Press(t, up, "/")
	if !isQuit(up(commontest.Key("ctrl+c"))) {
		t.Fatal("ctrl+c always quits, even in a prompt")
	}
}

func hasQuit(msgs []tea.Msg) bool {
	for _, m := range msgs {
		if _, ok := m.(tea.QuitMsg); ok {
			return true
		}
	}
	return false
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestEndpointDeliveriesKeyOpensFilteredDeliveriesAndFiltersStayPerView(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 100, 30, false)
	commontest.Press(t, up, "2", "j", "d")
	if m.Active() != common.ViewDeliveries {
		t.Fatalf("d on an endpoint opens deliveries, active %d", m.Active())
	}
	d := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
	if got := d.List().Prompt.Applied(); !strings.HasPrefix(got, "endpoint:ep_") {
		t.Fatalf("deliveries filtered by the endpoint: %q", got)
	}
	commontest.Press(t, up, "4", "/")
	commontest.Type(t, up, "type:x.*")
	commontest.Press(t, up, "enter", "3")
	if !strings.HasPrefix(d.List().Prompt.Applied(), "endpoint:") {
		t.Fatal("the deliveries filter must survive switching")
	}
	commontest.Press(t, up, "4")
	if !strings.Contains(screen(m), "filter: type:x.*") {
		t.Fatalf("the dead-letter filter must survive switching:\n%s", screen(m))
	}
}

func TestDatabaseBannerAndRecovery(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 100, 30, false)
	src.SetDown(datafake.ErrDown)
	commontest.Press(t, up, "ctrl+r")
	if !m.DatabaseDown() || !strings.Contains(screen(m), "DATABASE UNREACHABLE") {
		t.Fatalf("a failed ping shows the banner:\n%s", screen(m))
	}
	if !strings.Contains(screen(m), "41.7/s") {
		t.Fatal("the last data stays on screen")
	}
	if n := strings.Count(screen(m), "\n") + 1; n != 30 {
		t.Fatalf("the banner must not push the screen past its height: %d lines", n)
	}
	src.SetDown(nil)
	commontest.Press(t, up, "ctrl+r")
	if m.DatabaseDown() || strings.Contains(screen(m), "UNREACHABLE") || m.StatusLine() != "database connection restored" {
		t.Fatalf("the banner goes when the database answers:\n%s", screen(m))
	}
}

func TestPanicInACommandBecomesAMessage(t *testing.T) {
	t.Parallel()
	src := fixture()
	m, up := newApp(t, src, 100, 30, false)
	src.PanicOn = "Overview"
	commontest.Press(t, up, "ctrl+r")
	if out := screen(m); !strings.Contains(out, "refresh failed: internal error") || !strings.Contains(out, "41.7/s") {
		t.Fatalf("a panicking load must show as an error over the last data:\n%s", out)
	}
	src.PanicOn = ""
	commontest.Press(t, up, "ctrl+r")
	if strings.Contains(screen(m), "internal error") {
		t.Fatal("the next good load clears the error")
	}
}

// Past dlist.MaxRefresh rows live refresh pauses and says so; ctrl+r then
// reloads from the newest.
func TestCtrlRReloadsALongList(t *testing.T) {
	t.Parallel()
	src := fixture()
	src.Dels = nil
	for i := 1; i <= 1150; i++ {
		src.Dels = append(src.Dels, delivery.Delivery{ID: int64(i), EventID: "evt", EndpointID: "ep_x", State: delivery.StateSucceeded})
	}
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "3")
	d := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
	for range 20 {
		commontest.Press(t, up, "G")
	}
	if n := len(d.List().Items()); n <= 1000 {
		t.Fatalf("loaded %d rows, want more than 1000", n)
	}
	if out := screen(m); !strings.Contains(out, "live refresh paused: over 1000 rows loaded (ctrl+r reloads)") {
		t.Fatalf("the paused refresh must say so:\n%s", out)
	}
	src.AddDelivery(delivery.Delivery{ID: 1151, EventID: "evt_new", EndpointID: "ep_x", State: delivery.StateDead})
	commontest.Press(t, up, "ctrl+r")
	if items := d.List().Items(); len(items) == 0 || items[0].ID != 1151 {
		t.Fatalf("ctrl+r must reload from the newest; first row %v", items[0].ID)
	}
	if strings.Contains(screen(m), "live refresh paused") {
		t.Fatal("after the reload live refresh runs again")
	}
}

// fits fails the test when the screen is taller or wider than w x h.
func fits(t *testing.T, m *app.Model, w, h int, what string) {
	t.Helper()
	out := m.Render()
	lines := strings.Split(out, "\n")
	if len(lines) > h {
		t.Fatalf("%s at %dx%d: %d lines:\n%s", what, w, h, len(lines), ansi.Strip(out))
	}
	for _, l := range lines {
		if lw := ansi.StringWidth(l); lw > w {
			t.Fatalf("%s at %dx%d: a line of width %d: %q", what, w, h, lw, ansi.Strip(l))
		}
	}
}

// The open filter prompt and its info share one line of the terminal's
// width.
func TestFilterPromptFitsTheWidth(t *testing.T) {
	t.Parallel()
	m, up := newApp(t, fixture(), 80, 24, false)
	for _, v := range []string{"3", "4", "5"} {
		commontest.Press(t, up, v, "/")
		fits(t, m, 80, 24, "view "+v+" with the prompt open")
		if !strings.Contains(screen(m), "loaded") {
			t.Fatalf("view %s: the info stays beside the prompt:\n%s", v, screen(m))
		}
		commontest.Press(t, up, "esc")
	}
}

// On a tiny terminal the body shrinks to a line so the footer stays, and
// no line is wider than the terminal.
func TestTinyTerminalKeepsTheFooter(t *testing.T) {
	t.Parallel()
	src := fixture()
	src.Dels = []delivery.Delivery{{ID: 1, EventID: "evt_1", EndpointID: "ep_x", State: delivery.StateDead, LastError: strings.Repeat("x", 200)}}
	m, up := newApp(t, src, 20, 5, false)
	for v := range 7 {
		commontest.Press(t, up, string(rune('1'+v)))
		fits(t, m, 20, 5, fmt.Sprintf("view %d", v+1))
		lines := strings.Split(screen(m), "\n")
		if footer := lines[len(lines)-1]; !strings.Contains(footer, "•") && !strings.Contains(footer, "…") {
			t.Fatalf("view %d: the last line must be the footer, is %q", v+1, footer)
		}
	}
	src.SetDown(datafake.ErrDown)
	commontest.Press(t, up, "ctrl+r")
	fits(t, m, 20, 5, "the banner")
}
