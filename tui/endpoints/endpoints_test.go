package endpoints_test

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

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
	died := commontest.Now.Add(-time.Minute)
	src.Dels = []delivery.Delivery{{ID: 1, EndpointID: "ep_b", State: delivery.StateDead, CompletedAt: &died},
		{ID: 2, EndpointID: "ep_b", State: delivery.StateDead, CompletedAt: &died}}
	m := endpoints.New(commontest.NewCommon(src, readOnly))
	m.SetSize(100, 20)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	return src, m, up
}

func ids(m *endpoints.Model) string {
	var s []string
	for _, r := range m.Rows() {
		s = append(s, r.Endpoint.ID)
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
	if m.SortName() != "id" || ids(m) != "ep_a,ep_b,ep_c" {
		t.Fatalf("s sorts by id: %s %s", m.SortName(), ids(m))
	}
	commontest.Press(t, up, "s")
	if m.SortName() != "success" || ids(m) != "ep_b,ep_c,ep_a" {
		t.Fatalf("then by success rate: %s", ids(m))
	}
	v := m.View()
	if !strings.Contains(v, "disabled: 410 Gone") || !strings.Contains(v, "OFF") {
		t.Fatalf("a disabled endpoint says why:\n%s", v)
	}
}

func TestEnterOpensDeliveries(t *testing.T) {
	t.Parallel()
	_, _, up := setup(t, false)
	msgs := commontest.Press(t, up, "j", "enter")
	var open *common.OpenMsg
	for _, msg := range msgs {
		if o, ok := msg.(common.OpenMsg); ok {
			open = &o
		}
	}
	if open == nil || open.View != common.ViewDeliveries || open.Filter != "endpoint:ep_b" {
		t.Fatalf("enter must open ep_b's deliveries: %+v", open)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	commontest.Press(t, up, "j", "x") // ep_b
	if !m.Confirm().Active() {
		t.Fatal("x must ask first")
	}
	commontest.Press(t, up, "y")
	commontest.Press(t, up, "e")
	commontest.Press(t, up, "R")
	if p := m.Confirm().Prompt(); !strings.Contains(p, "ALL 2 dead letters of ep_b") {
		t.Fatalf("R must state the count: %q", p)
	}
	commontest.Press(t, up, "y")
	acts := src.Actions()
	if len(acts) != 3 {
		t.Fatalf("want 3 actions, got %v", acts)
	}
	if acts[0].Method != "DisableEndpoint" || acts[0].Args[0] != "ep_b" || acts[0].Args[1] != endpoints.DisableReason {
		t.Fatalf("disable: %v", acts[0])
	}
	if acts[1].Method != "EnableEndpoint" || acts[1].Args[0] != "ep_b" {
		t.Fatalf("enable: %v", acts[1])
	}
	if f := acts[2].Args[0].(delivery.Filter); acts[2].Method != "ReplayMatching" || f.EndpointID != "ep_b" || f.State != delivery.StateDead {
		t.Fatalf("replay: %v", acts[2])
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, true)
	msgs := commontest.Press(t, up, "x", "y", "e", "R", "y")
	if len(src.Actions()) != 0 || m.Confirm().Active() {
		t.Fatalf("read-only acted: %v", src.Actions())
	}
	refused := 0
	for _, s := range commontest.Statuses(msgs) {
		if strings.HasPrefix(s, "read-only") {
			refused++
		}
	}
	if refused != 3 {
		t.Fatalf("each refused key (x, e, R) says why: %v", commontest.Statuses(msgs))
	}
}

// R replays the dead letters it counted, not those that died since.
func TestReplayDeadReplaysExactlyTheCountedSet(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	commontest.Press(t, up, "j", "R") // ep_b
	if p := m.Confirm().Prompt(); !strings.Contains(p, "ALL 2 dead letters of ep_b") {
		t.Fatalf("prompt %q", p)
	}
	later := commontest.Now.Add(time.Second)
	src.Dels = append(src.Dels, delivery.Delivery{ID: 3, EndpointID: "ep_b", State: delivery.StateDead, CompletedAt: &later})
	msgs := commontest.Press(t, up, "y")
	acts := src.Actions()
	if len(acts) != 1 || acts[0].Method != "ReplayMatching" {
		t.Fatalf("want ReplayMatching, got %v", acts)
	}
	counted := src.Calls("CountMatching")[0].Args[0].(delivery.Filter)
	f := acts[0].Args[0].(delivery.Filter)
	if !f.CompletedBefore.Equal(commontest.Now) || f != counted {
		t.Fatalf("the replay must use the count's filter, bounded at the count's time: counted %+v, replayed %+v", counted, f)
	}
	if st := strings.Join(commontest.Statuses(msgs), "\n"); !strings.Contains(st, "re-queued 2 dead letters of ep_b") {
		t.Fatalf("want the 2 counted replayed: %q", st)
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
