package endpoints_test

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/endpoints"
)

func setup(t *testing.T, readOnly bool) (*datafake.Source, *endpoints.Model, commontest.Updater) {
	t.Helper()
	src := datafake.New()
	row := func(id string, enabled bool, fails, dead int, rate float64) data.EndpointRow {
		return data.EndpointRow{
			Endpoint: &endpoint.Endpoint{ID: id, URL: "https://" + id + ".example/hook", Enabled: enabled, DisabledReason: map[bool]string{false: "410 Gone"}[enabled]},
			Health: &delivery.Health{EndpointID: id, ConsecutiveFailures: fails, Dead: dead,
				Last5m: delivery.Window{Attempts: 100, SuccessRate: rate, P95: 120 * time.Millisecond}},
		}
	}
	src.Eps = []data.EndpointRow{row("ep_a", true, 0, 0, 1), row("ep_b", true, 7, 12, 0.5), row("ep_c", false, 3, 2, 0.9)}
	src.Eps[2].Health.Held = 210
	died := commontest.Now.Add(-time.Minute)
	src.Dels = []delivery.Delivery{{ID: 1, EndpointID: "ep_b", State: delivery.StateDead, CompletedAt: &died},
		{ID: 2, EndpointID: "ep_b", State: delivery.StateDead, CompletedAt: &died}}
	m := endpoints.New(commontest.NewCommon(src, readOnly))
	m.SetSize(100, 20)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	return src, m, up
}

// ids lists the endpoints in display order.
func ids(m *endpoints.Model) string {
	var s []string
	for _, r := range m.Table().Rows() {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

func TestTroubleFirstAndSortable(t *testing.T) {
	t.Parallel()
	_, m, up := setup(t, false)
	if got := ids(m); got != "ep_c,ep_b,ep_a" {
		t.Fatalf("default order puts trouble first: %s", got)
	}
	commontest.Press(t, up, "s")
	if m.SortName() != "ENDPOINT ↑" || ids(m) != "ep_a,ep_b,ep_c" {
		t.Fatalf("s sorts by the first column: %s %s", m.SortName(), ids(m))
	}
	commontest.Press(t, up, "S")
	if m.SortName() != "ENDPOINT ↓" || ids(m) != "ep_c,ep_b,ep_a" {
		t.Fatalf("S reverses: %s %s", m.SortName(), ids(m))
	}
	commontest.Press(t, up, "s", "s")
	if m.SortName() != "OK 5m ↓" || ids(m) != "ep_a,ep_c,ep_b" {
		t.Fatalf("then by success rate, best first: %s %s", m.SortName(), ids(m))
	}
	v := m.View()
	if !strings.Contains(v, "disabled (210 held): 410 Gone") || !strings.Contains(v, "OFF") || !strings.Contains(v, "OK 5m ↓") {
		t.Fatalf("a disabled endpoint says why, the sorted column is marked:\n%s", v)
	}
}

func TestEnterOpensThePageAndDTheDeliveries(t *testing.T) {
	t.Parallel()
	_, m, up := setup(t, false)
	commontest.Press(t, up, "j", "enter") // ep_b
	if m.Page() == nil || m.Page().ID() != "ep_b" || !m.Nested() {
		t.Fatalf("enter opens ep_b's page: %v", m.Page())
	}
	commontest.Press(t, up, "esc")
	if m.Page() != nil {
		t.Fatal("esc closes the page")
	}
	msgs := commontest.Press(t, up, "d")
	var open *common.OpenMsg
	for _, msg := range msgs {
		if o, ok := msg.(common.OpenMsg); ok {
			open = &o
		}
	}
	if open == nil || open.View != common.ViewDeliveries || open.Filter != "endpoint:ep_b" {
		t.Fatalf("d must open ep_b's deliveries: %+v", open)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	commontest.Press(t, up, "j", "x") // ep_b
	if !m.Confirm().Active() || !strings.Contains(m.Confirm().Prompt(), "ep_b.example/hook (ep_b)") {
		t.Fatalf("x must ask first, naming the endpoint: %q", m.Confirm().Prompt())
	}
	commontest.Press(t, up, "y")
	msgs := commontest.Press(t, up, "x")
	if st := commontest.Statuses(msgs); len(st) != 1 || !strings.Contains(st[0], "already disabled") {
		t.Fatalf("x on the endpoint just disabled says so: %v", st)
	}
	commontest.Press(t, up, "R")
	if p := m.Confirm().Prompt(); !strings.Contains(p, "Replay 2 dead letters") || !strings.Contains(p, "ep_b") {
		t.Fatalf("R previews the count: %q", p)
	}
	commontest.Type(t, up, "2")
	commontest.Press(t, up, "enter")
	if !m.Table().SetCursorID("ep_a") {
		t.Fatal("no ep_a row")
	}
	msgs = commontest.Press(t, up, "e")
	if st := commontest.Statuses(msgs); len(st) != 1 || !strings.Contains(st[0], "already enabled") {
		t.Fatalf("e on an enabled endpoint says so: %v", st)
	}
	if !m.Table().SetCursorID("ep_c") {
		t.Fatal("no ep_c row")
	}
	commontest.Press(t, up, "e") // ep_c is disabled, 210 held
	if len(src.Actions()) != 2 || !m.Confirm().Active() ||
		!strings.Contains(m.Confirm().Prompt(), "Enable ep_c.example/hook (ep_c)? Its 210 held deliveries become due at once") {
		t.Fatalf("e asks first, as x does, saying what it releases: %q", m.Confirm().Prompt())
	}
	msgs = commontest.Press(t, up, "y")
	if st := commontest.Statuses(msgs); len(st) != 1 || st[0] != "enabled ep_c.example/hook: 210 held deliveries due now" {
		t.Fatalf("enabling says what came due: %q", st)
	}
	acts := src.Actions()
	if len(acts) != 3 {
		t.Fatalf("want 3 actions, got %v", acts)
	}
	if acts[0].Method != "DisableEndpoint" || acts[0].Args[0] != "ep_b" || acts[0].Args[1] != endpoints.DisableReason {
		t.Fatalf("disable: %v", acts[0])
	}
	if q := acts[1].Args[0].(*data.Preview).Query; acts[1].Method != "ReplayQuery" || q.EndpointID != "ep_b" || q.State != delivery.StateDead {
		t.Fatalf("replay: %v", acts[1])
	}
	if acts[2].Method != "EnableEndpoint" || acts[2].Args[0] != "ep_c" {
		t.Fatalf("enable: %v", acts[2])
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, true)
	msgs := commontest.Press(t, up, "x", "y", "e", "R", "y", "t", "y")
	if len(src.Actions()) != 0 || m.Confirm().Active() {
		t.Fatalf("read-only acted: %v", src.Actions())
	}
	refused := 0
	for _, s := range commontest.Statuses(msgs) {
		if strings.HasPrefix(s, "read-only") {
			refused++
		}
	}
	if refused != 4 || len(src.Trail) != 4 {
		t.Fatalf("each refused key (x, e, R, t) says why and is audited: %v %+v", commontest.Statuses(msgs), src.Trail)
	}
}

// R replays the dead letters it previewed, not those that died since.
func TestReplayDeadReplaysExactlyThePreviewedSet(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	commontest.Press(t, up, "j", "R") // ep_b
	if p := m.Confirm().Prompt(); !strings.Contains(p, "Replay 2 dead letters") {
		t.Fatalf("prompt %q", p)
	}
	later := commontest.Now.Add(time.Second)
	src.AddDelivery(delivery.Delivery{ID: 3, EndpointID: "ep_b", State: delivery.StateDead, CompletedAt: &later})
	commontest.Type(t, up, "2")
	msgs := commontest.Press(t, up, "enter")
	acts := src.Actions()
	if len(acts) != 1 || acts[0].Method != "ReplayQuery" {
		t.Fatalf("want ReplayQuery, got %v", acts)
	}
	pv := acts[0].Args[0].(*data.Preview)
	if !pv.Query.CompletedBefore.Equal(commontest.Now) || pv.Count != 2 {
		t.Fatalf("the replay must be the preview's, bounded at its time: %+v", pv)
	}
	if st := strings.Join(commontest.Statuses(msgs), "\n"); !strings.Contains(st, "re-queued 2 deliveries") {
		t.Fatalf("want the 2 previewed replayed: %q", st)
	}
}

func TestEmptyStateNamesTheAddCommand(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	src.Eps = nil
	commontest.Drain(t, up, m.RefreshNow())
	if v := m.View(); !strings.Contains(v, "hookd endpoints add") {
		t.Fatalf("the empty state must name the add command:\n%s", v)
	}
}

// Rows of tenants show the TENANT column at 80 columns too, the columns
// that repeat what is wrong giving way, and what is wrong keeps its room.
func TestTheTenantShowsAt80Columns(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	for i := range src.Eps {
		e := *src.Eps[i].Endpoint
		e.Tenant = "cus_" + e.ID
		src.Eps[i].Endpoint = &e
	}
	commontest.Drain(t, up, m.RefreshNow())
	for _, w := range []int{80, 100} {
		m.SetSize(w, 20)
		v := ansi.Strip(m.View())
		lines := strings.Split(v, "\n")
		for _, col := range []string{"ENDPOINT", "TENANT", "STATE", "OK 5m", "PEND", "HELD", "DEAD", "URL / WHAT IS WRONG"} {
			if !strings.Contains(lines[1], col) {
				t.Fatalf("at %d columns the header has %s:\n%s", w, col, v)
			}
		}
		if !strings.Contains(v, "cus_ep_a") || !strings.Contains(v, "disabled (210 held") {
			t.Fatalf("at %d columns the tenant and what is wrong show:\n%s", w, v)
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > w {
				t.Fatalf("a line is wider than %d columns: %q", w, l)
			}
		}
	}
}
