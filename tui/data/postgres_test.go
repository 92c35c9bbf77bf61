package data_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/data"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fixture publishes two events to two endpoints and kills one delivery
// through the store's own API (claim, then complete as dead).
func fixture(t *testing.T) (*pgxpool.Pool, *data.Postgres, string, string) {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	a, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://a.example/hook"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://b.example/hook"})
	if err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(pool, outbox.Options{})
	for _, typ := range []string{"invoice.paid", "payment.failed"} {
		if _, err := pub.Publish(ctx, outbox.Event{Type: typ, Data: json.RawMessage(`{"b":1,"a":2}`)}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Limit: 1, Lease: time.Minute, Worker: "test"})
	if err != nil || len(c.Jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(c.Jobs))
	}
	r := delivery.ResultOf(c.Jobs[0], "test")
	r.StartedAt, r.Duration, r.ResponseStatus, r.ResponseBody = time.Now(), 12*time.Millisecond, 500, "down"
	r.ErrorClass, r.Error, r.Next = delivery.ClassHTTPStatus, "HTTP 500", delivery.StateDead
	_, err = delivery.Complete(ctx, pool, delivery.Policy{}, []delivery.Result{r})
	if err != nil {
		t.Fatal(err)
	}
	return pool, data.NewPostgres(pool), a.ID, b.ID
}

func TestPostgresSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, src, a, b := fixture(t)
	if err := src.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := src.Overview(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if o.Pending != 3 || o.Dead != 1 || o.EndpointsTotal != 2 || o.EventsPerSec <= 0 || o.Attempts5m != 1 || o.SuccessRate != 0 {
		t.Fatalf("overview %+v", o)
	}
	// The two events of this minute, or of the last one when a minute
	// began since they were published.
	if len(o.Trouble) != 1 || len(o.EventsPerMinute) != data.SparkMinutes ||
		o.EventsPerMinute[data.SparkMinutes-1]+o.EventsPerMinute[data.SparkMinutes-2] != 2 {
		t.Fatalf("trouble %d, events per minute %v", len(o.Trouble), o.EventsPerMinute)
	}
	if o.OldestDue <= 0 {
		t.Fatalf("three deliveries are due: oldest due %v", o.OldestDue)
	}

	page, err := src.Deliveries(ctx, data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead}})
	if err != nil || len(page.Deliveries) != 1 {
		t.Fatalf("dead: %v %v", err, page)
	}
	dead := page.Deliveries[0]
	ev, ds, err := src.Event(ctx, dead.EventID)
	if err != nil || len(ds) != 2 || !strings.Contains(data.PrettyJSON(ev.Data), "\"b\": 1,\n  \"a\": 2") {
		t.Fatalf("event: %v %d %s", err, len(ds), ev.Data)
	}
	as, err := src.Attempts(ctx, dead.ID)
	if err != nil || len(as) != 1 || *as[0].ResponseStatus != 500 {
		t.Fatalf("attempts: %v %+v", err, as)
	}
	if pv, err := src.Preview(ctx, data.DeliveryQuery{}, time.Now()); err != nil || pv.Count != 1 || pv.IDs != nil ||
		len(pv.Groups.Groups) != 1 || pv.Groups.Groups[0].Health == nil {
		t.Fatalf("preview: %v %+v", err, pv)
	}
	// Marked rows: the dead one and a pending one, grouped apart, with
	// health; an id that does not exist is left out.
	pending, err := src.Deliveries(ctx, data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StatePending}})
	if err != nil || len(pending.Deliveries) == 0 {
		t.Fatalf("pending: %v %v", err, pending)
	}
	pv, err := src.PreviewMarked(ctx, []int64{dead.ID, pending.Deliveries[0].ID, 1 << 40}, time.Now())
	if err != nil || !pv.Marked || pv.Count != 2 || len(pv.IDs) != 2 || len(pv.Groups.Groups) != 2 || pv.Groups.Groups[0].Health == nil ||
		pv.Groups.Groups[0].Endpoint.ID == "" {
		t.Fatalf("preview of marked rows: %v %+v", err, pv)
	}
	if n, err := src.ReplayQuery(ctx, &data.Preview{IDs: []int64{dead.ID}, Count: 1}, "deliveries "+strconv.FormatInt(dead.ID, 10)); err != nil || n != 1 {
		t.Fatalf("replay ids: %v %d", err, n)
	}
	if d, _ := src.Delivery(ctx, dead.ID); d.State != delivery.StatePending || d.Replays != 1 {
		t.Fatalf("replayed delivery %+v", d)
	}

	if err := src.DisableEndpoint(ctx, b, "test"); err != nil {
		t.Fatal(err)
	}
	ep, err := src.Endpoints(ctx, data.EndpointQuery{})
	if err != nil || len(ep.Rows) != 2 || ep.Total != 2 {
		t.Fatal(err, ep)
	}
	for _, r := range ep.Rows {
		if r.Endpoint.ID == b && (r.Endpoint.Enabled || r.Health.Held == 0) {
			t.Fatalf("disabled endpoint %+v %+v", r.Endpoint, r.Health)
		}
	}
	if err := src.EnableEndpoint(ctx, b); err != nil {
		t.Fatal(err)
	}
	_ = a
}

func TestPostgresInbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, src, _, _ := fixture(t)
	_, err := pool.Exec(ctx, `INSERT INTO hookd.inbox (source, event_id, event_type, body, verification, state, last_error, headers)
		VALUES ('stripe', 'evt_1', 'charge.failed', '{"x":1}', 'stripe: signature matched', 'dead', 'boom', '{"X-A":["1"]}'),
		       ('github', 'gh_1', 'push', '{}', 'github: ok', 'processed', '', '{}')`)
	if err != nil {
		t.Fatal(err)
	}
	page, err := src.Inbox(ctx, data.InboxQuery{State: "dead"})
	if err != nil || len(page.Events) != 1 || page.Events[0].Source != "stripe" {
		t.Fatalf("inbox: %v %+v", err, page)
	}
	ev, err := src.InboxEvent(ctx, page.Events[0].ID)
	if err != nil || string(ev.Body) != `{"x":1}` || ev.Headers.Get("X-A") != "1" {
		t.Fatalf("inbox event: %v %+v", err, ev)
	}
	if err := src.ReplayInbox(ctx, ev.ID); err != nil {
		t.Fatal(err)
	}
	if ev, _ := src.InboxEvent(ctx, ev.ID); ev.State != "pending" {
		t.Fatalf("replayed inbox event is %s", ev.State)
	}
	if err := src.ReplayInbox(ctx, ev.ID); err == nil || !strings.Contains(err.Error(), "only dead") {
		t.Fatalf("replaying a pending event must be refused clearly: %v", err)
	}
}

// In the first minute of a system the rates average over the time since
// its first event, not over a full minute it has not lived.
func TestOverviewRatesInTheFirstMinute(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, src, _, _ := fixture(t) // two events, one attempt
	var first time.Time
	if err := pool.QueryRow(ctx, `SELECT min(stored_at) FROM hookd.events`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	now := first.Add(10 * time.Second) // the fixed clock: ten seconds in
	o, err := src.Overview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(o.EventsPerSec-0.2) > 1e-9 || math.Abs(o.AttemptsPerSec-0.1) > 1e-9 {
		t.Fatalf("2 events and 1 attempt in 10s: want 0.2 and 0.1 per second, got %v and %v", o.EventsPerSec, o.AttemptsPerSec)
	}
	if o.RateWindow != 10*time.Second {
		t.Fatalf("the rates are over the 10s hookd has lived, not %v", o.RateWindow)
	}
	// Fifty seconds in: over those fifty seconds.
	o, err = src.Overview(ctx, first.Add(50*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(o.EventsPerSec-2.0/50) > 1e-9 {
		t.Fatalf("50s in: want 2/50 per second, got %v", o.EventsPerSec)
	}
	if o.RateWindow != 50*time.Second {
		t.Fatalf("50s in: the rates are over 50s, not %v", o.RateWindow)
	}
}

// An endpoint deleted outside the console (the CLI, the API) is gone from
// the next read: the page's read answers db.ErrNotFound, the list's (by
// page and by the ids a filter resolved to) no longer has it, nor do the
// endpoints in trouble.
func TestDeletedEndpointIsGoneFromTheNextRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, src, a, b := fixture(t) // b holds the dead letter
	if err := endpoint.Delete(ctx, pool, b); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Endpoint(ctx, b, time.Now()); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("the page of a deleted endpoint reads %v, want db.ErrNotFound", err)
	}
	for _, q := range []data.EndpointQuery{{}, {IDs: []string{a, b}}} {
		page, err := src.Endpoints(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range append(page.Rows, page.Trouble...) {
			if r.Endpoint.ID == b {
				t.Fatalf("ids %v: the deleted endpoint is still listed", q.IDs)
			}
		}
		if len(page.Rows) != 1 {
			t.Fatalf("ids %v: want the one endpoint left, got %d", q.IDs, len(page.Rows))
		}
	}
}
