package delivery_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// A fifo line's failed head is stored retrying, as any retry is; the line
// behind it waits until the head's backoff ends, and then the head, not
// the next in line, is sent again. Meanwhile the endpoint's health names
// the head as blocking, counted retrying.
func TestFIFOHeadRetryingHoldsItsLine(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ep, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://fifo.example/", Ordering: endpoint.OrderingFIFO})
	if err != nil {
		t.Fatal(err)
	}
	b.publishAll(t, []outbox.Event{
		{ID: "evt_1", Type: "a.b", EndpointID: ep.ID}, {ID: "evt_2", Type: "a.b", EndpointID: ep.ID}, {ID: "evt_3", Type: "a.b", EndpointID: ep.ID}})
	jobs := b.claim(t, "w", 10, time.Minute)
	if len(jobs) != 1 || jobs[0].EventID != "evt_1" {
		t.Fatalf("claimed %+v, want the head alone", jobs)
	}
	head := jobs[0].DeliveryID
	failed := result(jobs[0], "w", 500, delivery.StateRetrying)
	failed.NextAttemptAt = time.Now().Add(time.Hour)
	b.complete(t, failed)
	if d, err := delivery.Get(b.ctx, b.pool, head); err != nil || d.State != delivery.StateRetrying {
		t.Fatalf("the failed head: %+v (%v), want retrying", d, err)
	}
	if jobs := b.claim(t, "w", 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("claimed %+v while the head waits out its backoff, want nothing", jobs)
	}
	health, err := delivery.HealthOf(b.ctx, b.pool, []string{ep.ID}, time.Now())
	if h := health[ep.ID]; err != nil || h.Pending != 2 || h.Retrying != 1 || h.Blocked == nil || h.Blocked.DeliveryID != head {
		t.Fatalf("health %+v (%v): want 2 pending, 1 retrying, blocked by %d", h, err, head)
	}

	// The backoff ends: the lane's wait (set by the claim to the head's
	// next attempt) and the head's, an hour sooner.
	if _, err := b.pool.Exec(b.ctx, `WITH q AS (UPDATE hookd.queue SET next_attempt_at = now() - interval '1 second' WHERE id = $1)
		UPDATE hookd.lanes SET ready_at = now() - interval '1 second' WHERE endpoint_id = $2`, head, ep.ID); err != nil {
		t.Fatal(err)
	}
	if jobs := b.claim(t, "w", 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("claimed %+v before the head was promoted, want nothing", jobs)
	}
	if n, err := delivery.Promote(b.ctx, b.pool, 10); err != nil || n != 1 {
		t.Fatalf("promoted %d (%v), want the head", n, err)
	}
	jobs = b.claim(t, "w", 10, time.Minute)
	if len(jobs) != 1 || jobs[0].DeliveryID != head || jobs[0].Attempt != 2 {
		t.Fatalf("claimed %+v, want the head's second attempt", jobs)
	}
	b.complete(t, result(jobs[0], "w", 200, delivery.StateSucceeded))
	if jobs = b.claim(t, "w", 10, time.Minute); len(jobs) != 1 || jobs[0].EventID != "evt_2" {
		t.Fatalf("claimed %+v, want the next in line", jobs)
	}
}

// A replayed head that fails again is blocked since its first attempt
// after the replay, as its attempts count from there: it read "blocked
// for 1h, 1 attempt", counting from its first attempt ever.
func TestBlockedHeadCountsFromItsReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ep, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://fifo.example/", Ordering: endpoint.OrderingFIFO})
	if err != nil {
		t.Fatal(err)
	}
	b.publishAll(t, []outbox.Event{{ID: "evt_1", Type: "a.b", EndpointID: ep.ID}, {ID: "evt_2", Type: "a.b", EndpointID: ep.ID}})
	fail := func() int64 {
		t.Helper()
		jobs := b.claim(t, "w", 10, time.Minute)
		if len(jobs) != 1 || jobs[0].EventID != "evt_1" {
			t.Fatalf("claimed %+v, want the head", jobs)
		}
		r := result(jobs[0], "w", 500, delivery.StateRetrying)
		r.NextAttemptAt = time.Now().Add(time.Hour)
		b.complete(t, r)
		return jobs[0].DeliveryID
	}
	head := fail()
	// Its first attempt, an hour ago.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.attempts SET started_at = started_at - interval '1 hour' WHERE delivery_id = $1`, head); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.Replay(b.ctx, b.pool, head); err != nil {
		t.Fatal(err)
	}
	fail()
	health, err := delivery.HealthOf(b.ctx, b.pool, []string{ep.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bl := health[ep.ID].Blocked
	if bl == nil || bl.Attempts != 1 || time.Since(bl.Since) > 10*time.Minute {
		t.Fatalf("blocked %+v; want 1 attempt, since the one after the replay", bl)
	}
}
