package endpointpage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
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

	// Answering no to the question keeps the form as typed too.
	commontest.Press(t, up, "enter", "n")
	if v := screen(m); !strings.Contains(v, "Edit endpoint") || !strings.Contains(v, "ftp://x") {
		t.Fatalf("n keeps the form with what was typed:\n%s", v)
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

// e asks first, as x does, saying how many held deliveries it releases;
// what it says after fits the status line, the name cut rather than the
// news.
func TestEnableAsksAndSaysWhatItReleases(t *testing.T) {
	t.Parallel()
	src := datafake.New()
	r := row()
	r.Endpoint.ID = "ep_01m91cdpad6wac221fsc1qj3wj"
	r.Endpoint.Description = "Legacy ERP (down: connection refused since the move to the new data centre)"
	r.Endpoint.Enabled, r.Endpoint.DisabledReason = false, "410 Gone"
	r.Health.Held = 210
	src.Eps = []data.EndpointRow{r}
	c := commontest.NewCommon(src, false)
	m := endpointpage.New(c, r.Endpoint.ID)
	m.SetSize(80, 22)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())

	commontest.Press(t, up, "e")
	if !m.Confirm().Active() || !strings.Contains(m.Confirm().Prompt(), "Its 210 held deliveries become due at once") {
		t.Fatalf("e asks first, saying what it releases: %q", m.Confirm().Prompt())
	}
	commontest.Press(t, up, "n")
	if len(src.Actions()) != 0 {
		t.Fatalf("n enables nothing: %v", src.Actions())
	}
	commontest.Press(t, up, "e")
	st := commontest.Statuses(commontest.Press(t, up, "y"))
	if len(src.Actions()) != 1 || src.Actions()[0].Method != "EnableEndpoint" {
		t.Fatalf("y enables: %v", src.Actions())
	}
	if len(st) != 1 || !strings.HasPrefix(st[0], "enabled Legacy ERP") || !strings.HasSuffix(st[0], "…: 210 held deliveries due now") ||
		ansi.StringWidth(st[0]) > 80 {
		t.Fatalf("the status fits 80 columns, the name cut: %q", st)
	}
}

// With its breaker open, a fifo line waits for the breaker's probe, not
// for its head's next try (which reads "overdue" as the probe nears), and
// the page and the b dialog count the head's failures alike.
func TestTheFifoLineWaitsForTheBreaker(t *testing.T) {
	t.Parallel()
	now := commontest.Now
	opened, probe := now.Add(-4*time.Minute), now.Add(25*time.Second)
	blocked := func(attempts, inFlight int) data.EndpointRow {
		r := row()
		r.Endpoint.Ordering = endpoint.OrderingFIFO
		r.Health.Breaker = delivery.Breaker{State: delivery.BreakerOpen, OpenedAt: &opened, NextProbeAt: &probe}
		r.Health.InFlight = inFlight
		if attempts > 0 {
			r.Health.Blocked = &delivery.BlockedHead{DeliveryID: 7970, EventID: "evt_1", Attempts: attempts, Since: opened,
				NextAttemptAt: now.Add(-2 * time.Minute), LastError: "connect: connection refused"}
		}
		return r
	}
	src := datafake.New()
	src.Eps = []data.EndpointRow{blocked(2, 0)}
	m, up := open(t, src, 80, 24)
	v := screen(m)
	if !strings.Contains(v, "BLOCKED for 4m by delivery 7970, 2 attempts\n") ||
		!strings.Contains(v, "waits for the breaker's probe in 25s · event evt_1") || strings.Contains(v, "overdue") {
		t.Fatalf("the blocked line waits for the breaker's probe:\n%s", v)
	}
	commontest.Press(t, up, "b")
	if p := m.Confirm().Prompt(); !strings.Contains(p, "has failed 2 times") {
		t.Fatalf("the b dialog counts as the page does: %q", p)
	}
	commontest.Press(t, up, "n")

	// The probe is the head, in flight: its attempt counts from its claim.
	src.Eps = []data.EndpointRow{blocked(2, 1)}
	commontest.Drain(t, up, m.RefreshNow())
	if v := screen(m); !strings.Contains(v, "BLOCKED for 4m by delivery 7970, attempt 2 in flight") {
		t.Fatalf("the head tried now says so:\n%s", v)
	}
	commontest.Press(t, up, "B")
	if p := m.Confirm().Prompt(); !strings.Contains(p, "has failed 1 time ") {
		t.Fatalf("the B dialog counts the failed attempts, not the one in flight: %q", p)
	}
	commontest.Press(t, up, "n")

	// Skipped: the line behind it still waits for the breaker.
	src.Eps = []data.EndpointRow{blocked(0, 0)}
	commontest.Drain(t, up, m.RefreshNow())
	if v := screen(m); strings.Contains(v, "the line moves") || !strings.Contains(v, "one at a time in publish order · waits for the breaker's probe in 25s") {
		t.Fatalf("an open breaker holds the line:\n%s", v)
	}
}

// At 80 columns the page wraps what does not fit, the tenant and the URL
// whole, and the recent deliveries take every line left below it.
func TestThePageFitsItsLines(t *testing.T) {
	t.Parallel()
	src := datafake.New()
	r := row()
	r.Endpoint.ID = "ep_01m91cdpad6wac221fsc1qj3wj"
	r.Endpoint.Description = "Analytics warehouse (slow: 1-4s per response)"
	r.Endpoint.URL = "https://warehouse.analytics.example.com/ingest/webhooks/hookd/v2?source=billing&region=eu-west-1"
	r.Endpoint.EventTypes = []string{"invoice.created", "invoice.paid", "invoice.voided", "customer.created", "customer.updated", "payment.*"}
	src.Eps = []data.EndpointRow{r}
	for i := range 15 {
		src.AddDelivery(delivery.Delivery{ID: int64(800 + i), EndpointID: r.Endpoint.ID, State: delivery.StateSucceeded,
			Attempts: 1, EventType: "invoice.paid", CreatedAt: commontest.Now.Add(-time.Duration(15-i) * time.Second)})
	}
	for _, h := range []int{20, 30} {
		c := commontest.NewCommon(src, false)
		m := endpointpage.New(c, r.Endpoint.ID)
		m.SetSize(80, h)
		up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
		commontest.Drain(t, up, m.Init())
		v := screen(m)
		lines := strings.Split(v, "\n")
		flat := strings.Join(strings.Fields(v), " ")
		if !strings.Contains(flat, "tenant acme") || !strings.Contains(strings.ReplaceAll(v, "\n          ", ""), r.Endpoint.URL) ||
			!strings.Contains(flat, "customer.updated, payment.*") {
			t.Fatalf("at 80x%d the tenant, the URL and the types show whole:\n%s", h, v)
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > 80 {
				t.Fatalf("a line is wider than 80 columns: %q", l)
			}
		}
		if len(lines) != h || !strings.Contains(lines[h-1], "invoice.paid") {
			t.Fatalf("at 80x%d the recent deliveries fill the page (%d lines):\n%s", h, len(lines), v)
		}
		if shown := strings.Count(v, "invoice.paid"); shown == 15 {
			t.Fatalf("the test wants more deliveries than fit at 80x%d", h)
		}
	}
}

// help names the footer's keys as they read.
func help(bs []key.Binding) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.Help().Key+" "+b.Help().Desc)
	}
	return strings.Join(s, " · ")
}

// The footer offers e on a disabled endpoint and x on an enabled one, and
// over the new secret, y copies the secret.
func TestTheFooterSaysWhatTheKeysDoHere(t *testing.T) {
	t.Parallel()
	src := datafake.New()
	r := row()
	r.Endpoint.Enabled = false
	src.Eps = []data.EndpointRow{r}
	m, up := open(t, src, 80, 22)
	if f := help(m.ShortHelp()); !strings.Contains(f, "e enable") || strings.Contains(f, "x disable") {
		t.Fatalf("a disabled endpoint's footer offers e: %s", f)
	}
	commontest.Press(t, up, "e", "y")
	if f := help(m.ShortHelp()); !strings.Contains(f, "x disable") || strings.Contains(f, "e enable") {
		t.Fatalf("an enabled endpoint's footer offers x: %s", f)
	}
	commontest.Press(t, up, "K", "y")
	if !m.Confirm().Active() || !strings.Contains(m.Confirm().Prompt(), src.Secret) {
		t.Fatalf("K, y shows the new secret: %q", m.Confirm().Prompt())
	}
	if f := help(m.ShortHelp()); !strings.HasPrefix(f, "y copy the secret") {
		t.Fatalf("over the new secret, y copies it: %s", f)
	}
	commontest.Press(t, up, "esc")
	if f := help(m.ShortHelp()); strings.Contains(f, "copy the secret") {
		t.Fatalf("the notice closed, the footer is the page's: %s", f)
	}
}

// The rotation's question says how long the old secret keeps signing as
// people write it, not as Go prints a Duration.
func TestRotateSaysTheOverlapPlainly(t *testing.T) {
	t.Parallel()
	for overlap, want := range map[time.Duration]string{0: "for 24h,", 90 * time.Minute: "for 1h30m,", 45 * time.Second: "for 45s,"} {
		src := datafake.New()
		src.Eps = []data.EndpointRow{row()}
		c := commontest.NewCommon(src, false)
		c.SecretOverlap = overlap
		m := endpointpage.New(c, "ep_erp")
		m.SetSize(80, 22)
		up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
		commontest.Drain(t, up, m.Init())
		commontest.Press(t, up, "K")
		if p := m.Confirm().Prompt(); !strings.Contains(p, "keeps signing "+want) {
			t.Fatalf("overlap %v: want %q in %q", overlap, want, p)
		}
		if v := screen(m); strings.Contains(v, "0m0s") || strings.Contains(v, "h0m") {
			t.Fatalf("a Go duration on screen:\n%s", v)
		}
	}
}
