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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/testkit"
	"github.com/hookd/hookd/tui/data"
)

// dispatcher runs the real engine on pool with the given retry schedule
// until stop is called (or the test ends).
func dispatcher(t *testing.T, w *world, schedule ...time.Duration) (stop func()) {
	t.Helper()
	d := dispatch.New(w.pool, dispatch.Options{
		Delivery: config.Delivery{
			RetrySchedule:   schedule,
			Timeout:         5 * time.Second,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			PollInterval:    20 * time.Millisecond,
			ShutdownTimeout: 2 * time.Second,
		},
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { _ = d.Stop(context.Background()) }) }
	t.Cleanup(stop)
	return stop
}

// On the real engine: dead letters of two tenants, filtered and replayed
// by tenant:, the tenants view listing both; then a fifo endpoint whose
// head keeps failing blocks its line, the console shows which delivery
// blocks it, and B skips it so that the next one goes out.
func TestTenantsAndFifoEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := &world{pool: dbtest.NewPool(t)}
	var mu sync.Mutex
	var ledger []string // the event ids of the fifo endpoint's requests, in order
	rc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/ledger") {
			var body struct{ ID string }
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &body)
			mu.Lock()
			ledger = append(ledger, body.ID)
			mu.Unlock()
		}
		rw.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(rc.Close)
	for _, id := range []string{"acme", "globex"} {
		if _, _, err := tenant.Put(ctx, w.pool, id, tenant.PutParams{}); err != nil {
			t.Fatal(err)
		}
	}
	var acmeBilling, globexBilling, acmeLedger string
	for _, e := range []struct {
		dst *string
		p   endpoint.CreateParams
	}{
		{&acmeBilling, endpoint.CreateParams{URL: rc.URL + "/acme", Description: "Acme billing", Tenant: "acme", EventTypes: []string{"invoice.*"}}},
		{&globexBilling, endpoint.CreateParams{URL: rc.URL + "/globex", Description: "Globex billing", Tenant: "globex", EventTypes: []string{"invoice.*"}}},
		{&acmeLedger, endpoint.CreateParams{URL: rc.URL + "/ledger", Description: "Acme ledger", Tenant: "acme", EventTypes: []string{"ledger.*"},
			Ordering: endpoint.OrderingFIFO}},
	} {
		ep, err := endpoint.Create(ctx, w.pool, e.p)
		if err != nil {
			t.Fatal(err)
		}
		*e.dst = ep.ID
	}
	w.pub = outbox.NewPublisher(w.pool, outbox.Options{})
	for i := range 4 {
		tn := []string{"acme", "globex"}[i%2]
		if _, err := w.pub.Publish(ctx, outbox.Event{Type: "invoice.paid", Tenant: tn, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	stop := dispatcher(t, w, 0, 5*time.Millisecond, 5*time.Millisecond)
	testkit.Eventually(t, "four dead letters", func() bool { return w.count(t, "state = 'dead'") == 4 })
	stop()

	src := data.NewPostgres(w.pool)
	tm, p := console(t, src, false)
	press(tm, "4")
	waitScreen(t, p, "4 loaded")
	waitScreen(t, p, "TENANT")
	press(tm, "/", "tenant:acme", "enter")
	waitScreen(t, p, "2 loaded")
	if strings.Contains(p.Screen(), "Globex billing") {
		t.Fatalf("tenant:acme shows only acme's dead letters:\n%s", p.Screen())
	}
	press(tm, "R")
	waitScreen(t, p, "Replay 2 dead letters matching /tenant:acme")
	press(tm, "2", "enter")
	waitScreen(t, p, "re-queued 2 deliveries")
	if n := w.count(t, "tenant_id = 'acme' AND replays = 1"); n != 2 {
		t.Fatalf("acme's two dead letters replayed: %d", n)
	}
	if n := w.count(t, "tenant_id = 'globex' AND state = 'dead' AND replays = 0"); n != 2 {
		t.Fatalf("globex's untouched: %d of 2", n)
	}
	if e := w.trail(t)[0]; e.Target != "/tenant:acme" || e.Rows != 2 || e.Actor != tester {
		t.Fatalf("the replay by tenant is audited: %+v", e)
	}
	press(tm, "7")
	waitScreen(t, p, "globex")
	waitScreen(t, p, "acme")

	// A fifo line blocked by its head.
	for i := range 3 {
		if _, err := w.pub.Publish(ctx, outbox.Event{Type: "ledger.entry", Tenant: "acme", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	dispatcher(t, w, 0, time.Hour, time.Hour)
	var head int64
	var headEvent string
	testkit.Eventually(t, "the fifo head to fail and wait", func() bool {
		err := w.pool.QueryRow(ctx, `SELECT id, event_id FROM hookd.queue WHERE endpoint_id = $1 AND state = 'retrying'`,
			acmeLedger).Scan(&head, &headEvent)
		return err == nil
	})
	press(tm, "2", "/", "ledger", "enter")
	waitScreen(t, p, "1 endpoint matches")
	waitScreen(t, p, "blocked")
	press(tm, "enter")
	// The page (the list says "fifo blocked … by delivery" too).
	waitScreen(t, p, "BLOCKED for ")
	waitScreen(t, p, fmt.Sprintf("by delivery %d", head))
	press(tm, "B")
	waitScreen(t, p, "Skip the head blocking Acme ledger")
	press(tm, "y")
	waitScreen(t, p, fmt.Sprintf("skipped delivery %d", head))
	if n := w.count(t, "id = $1 AND state = 'skipped'", head); n != 1 {
		t.Fatal("the head is skipped")
	}
	// The line moves on: the next event goes out, and blocks in its turn.
	testkit.Eventually(t, "the next event of the line to be sent", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ledger) == 2 && ledger[1] != headEvent
	})
	var next int64
	testkit.Eventually(t, "the next head to block the line", func() bool {
		err := w.pool.QueryRow(ctx, `SELECT id FROM hookd.queue WHERE endpoint_id = $1 AND state = 'retrying'`,
			acmeLedger).Scan(&next)
		return err == nil && next != head
	})
	waitScreen(t, p, "BLOCKED for ")
	waitScreen(t, p, fmt.Sprintf("by delivery %d", next))
	if e := w.trail(t)[0]; e.Action != audit.ActionSkip || e.Target != fmt.Sprintf("delivery %d", head) || e.Actor != tester {
		t.Fatalf("the skip is audited: %+v", e)
	}
}
