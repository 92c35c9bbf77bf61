package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
	"github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/data"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// probe wraps the root model in a running program and keeps a copy of
// the screen after every update, taken on the program's goroutine, so a
// test can wait for what the operator would see without racing the model.
type probe struct {
	*app.Model
	screen atomic.Pointer[string]
}

func (p *probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Model.Update(msg)
	s := ansi.Strip(p.Model.Render())
	p.screen.Store(&s)
	return p, cmd
}

func (p *probe) Screen() string {
	if s := p.screen.Load(); s != nil {
		return *s
	}
	return ""
}

// console runs the console on src under teatest until the test ends, as
// actor.
func console(t *testing.T, src data.Source, readOnly bool) (*teatest.TestModel, *probe) {
	t.Helper()
	noColor := true
	p := &probe{Model: app.New(app.Options{Source: src, ReadOnly: readOnly, Refresh: 50 * time.Millisecond, NoColor: &noColor,
		Actor: tester})}
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(120, 40))
	t.Cleanup(func() {
		_ = tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(30*time.Second))
	})
	return tm, p
}

// tester is who the consoles of these tests act as.
var tester = audit.Actor{Kind: audit.KindOS, ID: "tester"}

func waitScreen(t *testing.T, p *probe, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Screen(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %q; last screen:\n%s", want, p.Screen())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func press(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		switch k {
		case "enter":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		case "esc":
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
		default:
			tm.Type(k)
		}
	}
}

// world is a database whose dead letters were made by the real engine,
// with the engine still running.
type world struct {
	pool          *pgxpool.Pool
	pub           *outbox.Publisher
	epA, epB, epC string
	ok            atomic.Bool // billing and crm's receiver answers 200 once set
	erpHits       atomic.Int64
	received      chan []byte // bodies billing and crm's receiver took with a 200
}

// seed publishes three events to two endpoints whose receiver fails, and
// runs the real dispatcher with a millisecond schedule until all six
// deliveries are dead; then the receiver starts answering 200 and the
// dispatcher keeps running, so a replay is delivered. A third endpoint,
// "Legacy ERP", takes order.* events and always fails.
func seed(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{pool: dbtest.NewPool(t), received: make(chan []byte, 100)}
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.ok.Load() {
			b, _ := io.ReadAll(r.Body)
			select {
			case w.received <- b:
			default:
			}
			rw.WriteHeader(http.StatusOK)
			return
		}
		rw.WriteHeader(http.StatusInternalServerError)
		_, _ = rw.Write([]byte(`{"error":"receiver down"}`))
	}))
	t.Cleanup(rc.Close)
	erp := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		w.erpHits.Add(1)
		rw.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(erp.Close)
	for i, p := range []endpoint.CreateParams{
		{URL: rc.URL + "/billing", Description: "billing", EventTypes: []string{"invoice.*"}},
		{URL: rc.URL + "/crm", Description: "crm", EventTypes: []string{"invoice.*"}},
		{URL: erp.URL + "/orders", Description: "Legacy ERP", EventTypes: []string{"order.*"}},
	} {
		ep, err := endpoint.Create(ctx, w.pool, p)
		if err != nil {
			t.Fatal(err)
		}
		*[]*string{&w.epA, &w.epB, &w.epC}[i] = ep.ID
	}
	w.pub = outbox.NewPublisher(w.pool, outbox.Options{})
	for i := range 3 {
		if _, err := w.pub.Publish(ctx, outbox.Event{Type: "invoice.paid", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	d := dispatch.New(w.pool, dispatch.Options{
		Delivery: config.Delivery{
			RetrySchedule:   []time.Duration{0, 5 * time.Millisecond, 5 * time.Millisecond},
			Timeout:         5 * time.Second,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			PollInterval:    20 * time.Millisecond,
			ShutdownTimeout: 2 * time.Second,
		},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	testkit.Eventually(t, "six dead letters", func() bool { return w.count(t, "state = 'dead'") == 6 })
	w.ok.Store(true)
	return w
}

func (w *world) count(t *testing.T, where string, args ...any) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.deliveries WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// trail returns the audit trail, newest first.
func (w *world) trail(t *testing.T) []audit.Entry {
	t.Helper()
	page, err := audit.List(context.Background(), w.pool, audit.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Entries
}

func TestEndToEnd(t *testing.T) {
	w := seed(t)
	src := data.NewPostgres(w.pool)

	t.Run("ReadOnlyChangesNothingAndIsAudited", func(t *testing.T) {
		tm, p := console(t, src, true)
		press(tm, "4")
		waitScreen(t, p, "6 loaded")
		press(tm, "/", "endpoint:bill", "enter")
		waitScreen(t, p, "3 loaded")
		press(tm, "r")
		waitScreen(t, p, "read-only: replay is disabled")
		press(tm, "y") // not a confirmation: there is no dialog; y copies the id
		waitScreen(t, p, "copied event id")
		press(tm, "R")
		waitScreen(t, p, "read-only: replaying dead letters is disabled")
		if n := w.count(t, "state = 'dead' AND replays = 0"); n != 6 {
			t.Fatalf("read-only changed the database: %d of 6 dead letters left untouched", n)
		}
		if strings.Contains(p.Screen(), "Replay") {
			t.Fatalf("read-only must not open a replay dialog:\n%s", p.Screen())
		}
		refused := 0
		for _, e := range w.trail(t) {
			if e.Outcome == audit.OutcomeRefused && e.Actor == tester && e.Action == audit.ActionReplay {
				refused++
			}
		}
		if refused != 2 {
			t.Fatalf("both refusals are audited with the actor: %+v", w.trail(t))
		}
	})

	t.Run("ReplayOneFilteredByNameIsAudited", func(t *testing.T) {
		var newest int64
		// The top row: the newest death (the list's order), the newest
		// delivery among those that died at the same moment.
		if err := w.pool.QueryRow(context.Background(), `SELECT id FROM hookd.deliveries WHERE endpoint_id = $1
			ORDER BY completed_at DESC, id DESC LIMIT 1`, w.epA).Scan(&newest); err != nil {
			t.Fatal(err)
		}
		tm, p := console(t, src, false)
		press(tm, "4")
		waitScreen(t, p, "6 loaded")
		press(tm, "/", "endpoint:bill", "enter") // part of the name
		waitScreen(t, p, "3 loaded")
		press(tm, "r")
		waitScreen(t, p, fmt.Sprintf("Replay delivery %d (", newest))
		waitScreen(t, p, "to billing?")
		press(tm, "y")
		waitScreen(t, p, fmt.Sprintf("re-queued delivery %d", newest))
		testkit.Eventually(t, "the replayed delivery to be delivered", func() bool {
			return w.count(t, "id = $1 AND state = 'succeeded' AND replays = 1", newest) == 1
		})
		if n := w.count(t, "state = 'dead' AND replays = 0"); n != 5 {
			t.Fatalf("exactly one dead letter must be replayed; %d of 5 others still dead", n)
		}
		var attempts int
		_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.attempts WHERE delivery_id = $1`, newest).Scan(&attempts)
		if attempts != 4 {
			t.Fatalf("replay keeps history: want 3 failed attempts and 1 success, got %d attempts", attempts)
		}
		waitScreen(t, p, "2 loaded") // the list refreshed: it is no longer a dead letter
		// The body the console rebuilds (copy as curl, copy the request) is
		// the body the receiver got.
		var got []byte
		select {
		case got = <-w.received:
		case <-time.After(testkit.Timeout):
			t.Fatal("the receiver got nothing")
		}
		d, err := src.Delivery(context.Background(), newest)
		if err != nil {
			t.Fatal(err)
		}
		ev, _, err := src.Event(context.Background(), d.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if want := data.RequestBody(ev, false); string(got) != string(want) {
			t.Fatalf("the rebuilt body differs from what was sent:\n got  %s\n sent %s", want, got)
		}
		// The audit view lists the replay with its actor.
		press(tm, "6")
		waitScreen(t, p, fmt.Sprintf("delivery %d", newest))
		waitScreen(t, p, "os tester")
		if e := w.trail(t)[0]; e.Action != audit.ActionReplay || e.Actor != tester || e.Rows != 1 || e.Outcome != audit.OutcomeOK ||
			e.Target != fmt.Sprintf("delivery %d", newest) {
			t.Fatalf("audit entry %+v", e)
		}
	})

	t.Run("BulkReplayPreviewsAndWantsTheCountTyped", func(t *testing.T) {
		w.ok.Store(false) // crm still fails: the preview must say so
		tm, p := console(t, src, false)
		press(tm, "4")
		waitScreen(t, p, "5 loaded")
		press(tm, "/", "endpoint:crm", "enter")
		waitScreen(t, p, "3 loaded")
		press(tm, "R")
		waitScreen(t, p, "Replay 3 dead letters matching /endpoint:crm")
		waitScreen(t, p, "3 × crm: HTTP 500 Internal Server Error")
		waitScreen(t, p, "STILL FAILING")
		press(tm, "y", "enter") // a habitual y confirms nothing
		waitScreen(t, p, "that is not 3")
		if n := w.count(t, "endpoint_id = $1 AND state = 'dead' AND replays = 0", w.epB); n != 3 {
			t.Fatalf("y must not replay: %d of 3 dead letters left", n)
		}
		w.ok.Store(true)
		press(tm, "esc", "R")
		waitScreen(t, p, "Type 3 and press enter")
		press(tm, "3", "enter")
		waitScreen(t, p, "re-queued 3 deliveries")
		testkit.Eventually(t, "crm's dead letters to be delivered", func() bool {
			return w.count(t, "endpoint_id = $1 AND state = 'succeeded' AND replays = 1", w.epB) == 3
		})
		if n := w.count(t, "endpoint_id = $1 AND state = 'dead' AND replays = 0", w.epA); n != 2 {
			t.Fatalf("billing's remaining dead letters must be untouched, %d of 2 are", n)
		}
		if e := w.trail(t)[0]; e.Target != "/endpoint:crm" || e.Rows != 3 || e.Actor != tester {
			t.Fatalf("the bulk replay is audited with its filter and count: %+v", e)
		}
	})

	t.Run("NewDeadLettersAppearAtTheTop", func(t *testing.T) {
		tm, p := console(t, src, false)
		press(tm, "4")
		waitScreen(t, p, "2 loaded")
		ev, err := w.pub.Publish(context.Background(), outbox.Event{Type: "order.created", Data: json.RawMessage(`{"order":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		// The cursor is on the top row: the list follows the newest.
		waitScreen(t, p, "3 loaded")
		lines := strings.Split(p.Screen(), "\n")
		if top := rowAfterHeader(lines); !strings.Contains(top, "Legacy ERP") || !strings.Contains(top, "order.created") {
			t.Fatalf("the new dead letter of %s must be the top row:\n%s", ev.Event.ID, p.Screen())
		}
		// With the cursor further down, a new one is announced.
		press(tm, "j")
		if _, err := w.pub.Publish(context.Background(), outbox.Event{Type: "order.created", Data: json.RawMessage(`{"order":2}`)}); err != nil {
			t.Fatal(err)
		}
		waitScreen(t, p, "4 loaded")
		waitScreen(t, p, "▲ 1 new")
	})

	t.Run("EndpointPageShowsRecentDeliveriesAndReplaysItsDead", func(t *testing.T) {
		tm, p := console(t, src, false)
		press(tm, "2", "/", "erp", "enter")
		waitScreen(t, p, "1 endpoint matches")
		press(tm, "enter")
		waitScreen(t, p, "Recent deliveries")
		waitScreen(t, p, w.epC)
		waitScreen(t, p, "2 dead")
		var ids []int64
		rows, _ := w.pool.Query(context.Background(), `SELECT id FROM hookd.deliveries WHERE endpoint_id = $1`, w.epC)
		for rows.Next() {
			var id int64
			_ = rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			waitScreen(t, p, strconv.FormatInt(id, 10)+" ")
		}
		waitScreen(t, p, "HTTP 503 Service Unavailable")
		hits := w.erpHits.Load()
		press(tm, "R")
		waitScreen(t, p, "Replay 2 dead letters")
		press(tm, "2", "enter")
		waitScreen(t, p, "re-queued 2 deliveries")
		testkit.Eventually(t, "the replayed dead letters to be attempted again", func() bool { return w.erpHits.Load() >= hits+2 })
		if n := w.count(t, "endpoint_id = $1 AND replays = 1", w.epC); n != 2 {
			t.Fatalf("both dead letters of Legacy ERP replayed: %d", n)
		}
		press(tm, "esc")
		waitScreen(t, p, "URL / WHAT IS WRONG")
	})
}

// rowAfterHeader returns the first table row of a list screen.
func rowAfterHeader(lines []string) string {
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "ID ") && i+1 < len(lines) {
			return lines[i+1]
		}
	}
	return ""
}

// TestDatabaseDropsAndReturns makes the console's database refuse
// connections for real (existing sessions terminated, new ones refused),
// then lets it back.
func TestDatabaseDropsAndReturns(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.NewDB(t)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	if _, err := endpoint.Create(context.Background(), pool, endpoint.CreateParams{URL: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}

	tm, p := console(t, data.NewPostgres(pool), false)
	press(tm, "2")
	waitScreen(t, p, "https://example.com/hook")

	restore := dbtest.Outage(t, name)

	waitScreen(t, p, "DATABASE UNREACHABLE")
	if !strings.Contains(p.Screen(), "https://example.com/hook") {
		t.Fatalf("the last data must stay on screen:\n%s", p.Screen())
	}
	restore()
	waitScreen(t, p, "database connection restored")
	if strings.Contains(p.Screen(), "UNREACHABLE") {
		t.Fatalf("the banner must go:\n%s", p.Screen())
	}
	// And the console works again: a new endpoint shows up.
	if _, err := endpoint.Create(context.Background(), pool, endpoint.CreateParams{URL: "https://example.com/second"}); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, p, "https://example.com/second")
}
