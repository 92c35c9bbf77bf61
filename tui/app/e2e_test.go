package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// console runs the console on src under teatest until the test ends.
func console(t *testing.T, src data.Source, readOnly bool) (*teatest.TestModel, *probe) {
	t.Helper()
	noColor := true
	p := &probe{Model: app.New(app.Options{Source: src, ReadOnly: readOnly, Refresh: 50 * time.Millisecond, NoColor: &noColor})}
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(120, 40))
	t.Cleanup(func() {
		_ = tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(30*time.Second))
	})
	return tm, p
}

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
		default:
			tm.Type(k)
		}
	}
}

// world is a database whose dead letters were made by the real engine.
type world struct {
	pool     *pgxpool.Pool
	epA, epB string
	ok       atomic.Bool // the receiver answers 200 once set
}

// seed publishes three events to two endpoints whose receiver fails, and
// runs the real dispatcher with a millisecond schedule until all six
// deliveries are dead; then the receiver starts answering 200 and the
// dispatcher keeps running, so a replay is delivered.
func seed(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{pool: dbtest.NewPool(t)}
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		if w.ok.Load() {
			rw.WriteHeader(http.StatusOK)
			return
		}
		rw.WriteHeader(http.StatusInternalServerError)
		_, _ = rw.Write([]byte(`{"error":"receiver down"}`))
	}))
	t.Cleanup(rc.Close)
	for i, name := range []string{"billing", "crm"} {
		ep, err := endpoint.Create(ctx, w.pool, endpoint.CreateParams{URL: rc.URL + "/" + name, Description: name})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			w.epA = ep.ID
		} else {
			w.epB = ep.ID
		}
	}
	pub := outbox.NewPublisher(w.pool, outbox.Options{})
	for i := range 3 {
		if _, err := pub.Publish(ctx, outbox.Event{Type: "invoice.paid", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
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
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
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

func TestEndToEnd(t *testing.T) {
	w := seed(t)
	src := data.NewPostgres(w.pool)

	t.Run("ReadOnlyChangesNothing", func(t *testing.T) {
		tm, p := console(t, src, true)
		press(tm, "4")
		waitScreen(t, p, "6 loaded")
		press(tm, "/", "endpoint:"+w.epA, "enter")
		waitScreen(t, p, "3 loaded")
		press(tm, "r")
		waitScreen(t, p, "read-only: replay is disabled")
		press(tm, "y") // not a confirmation: there is no dialog; y copies the id
		waitScreen(t, p, "copied event id")
		press(tm, "R")
		waitScreen(t, p, "read-only: replaying marked or matching dead letters is disabled")
		press(tm, "y")
		waitScreen(t, p, "copied event id")
		if n := w.count(t, "state = 'dead' AND replays = 0"); n != 6 {
			t.Fatalf("read-only changed the database: %d of 6 dead letters left untouched", n)
		}
		if strings.Contains(p.Screen(), "Replay") {
			t.Fatalf("read-only must not open a replay dialog:\n%s", p.Screen())
		}
	})

	t.Run("ReplayOneFilteredByEndpoint", func(t *testing.T) {
		var newest int64
		if err := w.pool.QueryRow(context.Background(), `SELECT max(id) FROM hookd.deliveries WHERE endpoint_id = $1`, w.epA).Scan(&newest); err != nil {
			t.Fatal(err)
		}
		tm, p := console(t, src, false)
		press(tm, "4")
		waitScreen(t, p, "6 loaded")
		press(tm, "/", "endpoint:"+w.epA, "enter")
		waitScreen(t, p, "3 loaded")
		press(tm, "r")
		waitScreen(t, p, fmt.Sprintf("Replay 1 dead letter: delivery %d", newest))
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
	})

	t.Run("ReplayAllMatchingFilter", func(t *testing.T) {
		tm, p := console(t, src, false)
		press(tm, "4")
		waitScreen(t, p, "5 loaded")
		press(tm, "/", "endpoint:"+w.epB, "enter")
		waitScreen(t, p, "3 loaded")
		press(tm, "R")
		waitScreen(t, p, "Replay ALL 3 dead letters matching")
		waitScreen(t, p, w.epB+"?")
		press(tm, "y")
		waitScreen(t, p, "re-queued 3 dead letters")
		testkit.Eventually(t, "crm's dead letters to be delivered", func() bool {
			return w.count(t, "endpoint_id = $1 AND state = 'succeeded' AND replays = 1", w.epB) == 3
		})
		if n := w.count(t, "endpoint_id = $1 AND state = 'dead' AND replays = 0", w.epA); n != 2 {
			t.Fatalf("billing's remaining dead letters must be untouched, %d of 2 are", n)
		}
	})
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
	admin := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), dbtest.ServerURL())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := endpoint.Create(context.Background(), pool, endpoint.CreateParams{URL: "https://example.com/hook"}); err != nil {
		t.Fatal(err)
	}

	tm, p := console(t, data.NewPostgres(pool), false)
	press(tm, "2")
	waitScreen(t, p, "https://example.com/hook")

	var once sync.Once
	restore := func() {
		once.Do(func() { admin(`ALTER DATABASE ` + pgx.Identifier{name}.Sanitize() + ` ALLOW_CONNECTIONS true`) })
	}
	t.Cleanup(restore)
	admin(`ALTER DATABASE ` + pgx.Identifier{name}.Sanitize() + ` ALLOW_CONNECTIONS false`)
	admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `'`)

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
