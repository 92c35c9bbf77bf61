package endpointpage_test

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/endpointpage"
)

// checking is the fake with the store's checks of an edit: it refuses
// what endpoint.Update would, with the same errors.
type checking struct{ *datafake.Source }

func (s checking) UpdateEndpoint(ctx context.Context, id string, p endpoint.UpdateParams) error {
	if p.URL != nil {
		if err := endpoint.ValidateURL(*p.URL); err != nil {
			return err
		}
	}
	if p.EventTypes != nil {
		if _, err := endpoint.NormalizeEventTypes(*p.EventTypes); err != nil {
			return err
		}
	}
	return s.Source.UpdateEndpoint(ctx, id, p)
}

const url = "https://erp.example/hooks"

func row() data.EndpointRow {
	return data.EndpointRow{
		Endpoint: &endpoint.Endpoint{ID: "ep_erp", Description: "Legacy ERP", URL: url, Kind: "webhook", Tenant: "acme",
			Ordering: endpoint.OrderingConcurrent, Enabled: true, BodyFormat: "envelope"},
		Health: &delivery.Health{EndpointID: "ep_erp"},
	}
}

// open shows the page of src's first endpoint at w by h.
func open(t *testing.T, src data.Source, w, h int) (*endpointpage.Model, commontest.Updater) {
	t.Helper()
	c := commontest.NewCommon(src, false)
	m := endpointpage.New(c, "ep_erp")
	m.SetSize(w, h)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	return m, up
}

func screen(m *endpointpage.Model) string { return ansi.Strip(m.View()) }

// erase empties the focused field of the edit form.
func erase(t *testing.T, up commontest.Updater, n int) {
	t.Helper()
	for range n {
		commontest.Press(t, up, "backspace")
	}
}

// A refused edit opens the form again as it was typed, the cursor on the
// field refused and the whole refusal in the form, naming the field by
// its label.
func TestARefusedEditKeepsTheForm(t *testing.T) {
	t.Parallel()
	src := datafake.New()
	src.Eps = []data.EndpointRow{row()}
	m, up := open(t, checking{src}, 80, 22)
	commontest.Press(t, up, "E")
	erase(t, up, len(url))
	commontest.Type(t, up, "ftp://x")
	commontest.Press(t, up, "enter")
	if !m.Confirm().Active() {
		t.Fatalf("enter asks first:\n%s", screen(m))
	}
	msgs := commontest.Press(t, up, "y")
	v := screen(m)
	if !strings.Contains(v, "Edit endpoint") || !strings.Contains(v, "ftp://x") {
		t.Fatalf("the refused form is open again with what was typed:\n%s", v)
	}
	if !strings.Contains(v, `URL: "ftp://x" must be an absolute http:// or https:// URL`) {
		t.Fatalf("the form says why, naming the field by its label:\n%s", v)
	}
	if st := commontest.Statuses(msgs); len(st) != 0 {
		t.Fatalf("the refusal is in the form, not on the status line: %v", st)
	}
	if len(src.Calls("UpdateEndpoint")) != 0 {
		t.Fatal("the fake saved a refused edit")
	}

	// Event types: the cursor moves to them, and a long refusal wraps.
	erase(t, up, len("ftp://x"))
	commontest.Type(t, up, url)
	commontest.Press(t, up, "tab", "tab")
	commontest.Type(t, up, "Bad Type!!, ,")
	commontest.Press(t, up, "enter", "y")
	v = screen(m)
	want := `event types: "Bad Type!!" is not an event type or filter (allowed: exact types like invoice.paid, prefixes like payment.*, or *)`
	if flat := strings.Join(strings.Fields(v), " "); !strings.Contains(flat, want) {
		t.Fatalf("the whole refusal shows, wrapped:\n%s", v)
	}
	for _, l := range strings.Split(v, "\n") {
		if ansi.StringWidth(l) > 80 {
			t.Fatalf("a line is wider than 80 columns: %q", l)
		}
	}
	// The cursor is on the event types: typing goes there.
	erase(t, up, len("Bad Type!!, ,"))
	commontest.Type(t, up, "invoice.paid")
	commontest.Press(t, up, "enter", "y")
	if strings.Contains(screen(m), "Edit endpoint") {
		t.Fatalf("a saved edit closes the form:\n%s", screen(m))
	}
	calls := src.Calls("UpdateEndpoint")
	if len(calls) != 1 {
		t.Fatalf("want one save, got %v", calls)
	}
	p := calls[0].Args[1].(endpoint.UpdateParams)
	if p.URL != nil || p.EventTypes == nil || strings.Join(*p.EventTypes, ",") != "invoice.paid" {
		t.Fatalf("the save sends the event types typed and nothing else: %+v", p)
	}
}
