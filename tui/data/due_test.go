package data_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/data"
)

// Deliveries waiting on an open breaker are not due: the overview counts
// them apart, and the oldest due is reckoned over the endpoints whose
// breaker is closed, as the endpoint page reckons its own.
func TestBreakerHeldWorkIsNotDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	open, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://open.example/hook", EventTypes: []string{"b.*"}})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://closed.example/hook", EventTypes: []string{"a.*"}})
	if err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(pool, outbox.Options{})
	publish := func(typ string, n int) {
		for range n {
			if _, err := pub.Publish(ctx, outbox.Event{Type: typ, Data: json.RawMessage(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One failure opens the breaker of the first endpoint.
	publish("b.x", 1)
	policy := delivery.Policy{BreakerFailures: 1, BreakerProbeInterval: time.Hour, BreakerProbeMax: time.Hour}
	c, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Policy: policy, Limit: 1, Lease: time.Minute, Worker: "test"})
	if err != nil || len(c.Jobs) != 1 {
		t.Fatalf("claim: %v %d", err, len(c.Jobs))
	}
	r := delivery.ResultOf(c.Jobs[0], "test")
	r.StartedAt, r.ResponseStatus, r.ErrorClass, r.Error = time.Now(), 500, delivery.ClassHTTPStatus, "HTTP 500"
	r.Next, r.NextAttemptAt = delivery.StateRetrying, time.Now().Add(time.Hour)
	if _, err := delivery.Complete(ctx, pool, policy, []delivery.Result{r}); err != nil {
		t.Fatal(err)
	}
	// Older work behind the open breaker, then newer work that is due.
	publish("b.x", 2)
	publish("a.x", 3)
	var head time.Time
	if err := pool.QueryRow(ctx, `SELECT next_attempt_at FROM hookd.queue WHERE endpoint_id = $1 ORDER BY id LIMIT 1`,
		closed.ID).Scan(&head); err != nil {
		t.Fatal(err)
	}
	src := data.NewPostgres(pool)
	now := head.Add(90 * time.Second)
	o, err := src.Overview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if o.BreakersOpen != 1 || o.Pending != 3 || o.BreakerHeld != 2 || o.Retrying != 1 {
		t.Fatalf("want 3 due, 2 waiting on the breaker, 1 retrying: due %d, breaker %d, retrying %d (%d open)",
			o.Pending, o.BreakerHeld, o.Retrying, o.BreakersOpen)
	}
	if o.OldestDue != 90*time.Second {
		t.Fatalf("the oldest due is the closed endpoint's head, 90s: %v", o.OldestDue)
	}
	page, err := src.Endpoint(ctx, closed.ID, now)
	if err != nil || page.OldestDue != o.OldestDue {
		t.Fatalf("the endpoint page reckons the oldest due as the overview does: %v, %v", page.OldestDue, err)
	}
	if page, err = src.Endpoint(ctx, open.ID, now); err != nil || page.OldestDue != 0 ||
		page.Row.Health.Breaker.State != delivery.BreakerOpen || page.Row.Health.Pending != 2 {
		t.Fatalf("behind its open breaker nothing is due: %v, %v", page.OldestDue, err)
	}
	// A delivery's drill-down learns it from the endpoint's label.
	labels, err := src.Labels(ctx, []string{open.ID, closed.ID})
	if err != nil || !labels[open.ID].BreakerOpen || labels[closed.ID].BreakerOpen {
		t.Fatalf("labels say which breaker is open: %+v, %v", labels, err)
	}
}

// The counts of what is due read a bounded number of rows: past TotalCap
// they say so, whatever the open breakers hold.
func TestDueCountsAreCapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://a.example/hook"}); err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(pool, outbox.Options{})
	batch := make([]outbox.Event, 1000) // the most one batch takes
	for i := range batch {
		batch[i] = outbox.Event{Type: "a.x", Data: json.RawMessage(`{}`)}
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for range data.TotalCap/len(batch) + 1 {
			if _, err := pub.PublishBatch(ctx, tx, batch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	o, err := data.NewPostgres(pool).Overview(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if o.Pending != data.TotalCap+1 || o.BreakerHeld != 0 {
		t.Fatalf("past the cap, due is TotalCap+1: %d (breaker %d)", o.Pending, o.BreakerHeld)
	}
}
