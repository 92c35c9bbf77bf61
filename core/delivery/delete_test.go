package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// TestDeleteEndpointBesideItsFirstResult: recording a new endpoint's
// first result locks its queue row and then writes its first health row;
// deleting the endpoint locks the endpoint's row and then its queue rows.
// While the health row's foreign key locked the endpoint's row too, the
// two deadlocked (the delete answered a 500). Here the result is paused
// between the two by a lane it waits to wake.
func TestDeleteEndpointBesideItsFirstResult(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	jobs := b.claim(t, "w1", 10, time.Minute)
	if len(jobs) != 1 {
		t.Fatalf("claimed %d", len(jobs))
	}
	// The lane waits at its cap: the result wakes it, so it locks it.
	if _, err := b.pool.Exec(b.ctx, `INSERT INTO hookd.lanes (endpoint_id, ready_at) VALUES ($1, 'infinity')
		ON CONFLICT (endpoint_id) DO UPDATE SET ready_at = 'infinity'`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	holder, holderPID := b.holdLane(t, b.ep.ID)
	r := delivery.ResultOf(jobs[0], "w1")
	r.Next, r.StartedAt, r.ResponseStatus = delivery.StateSucceeded, time.Now(), 200
	completed := make(chan error, 1)
	go func() {
		_, err := delivery.Complete(b.ctx, b.pool, policy, []delivery.Result{r})
		completed <- err
	}()
	b.waitForLock(t, holderPID, "") // the result holds the queue row and waits for the lane
	deleted := make(chan error, 1)
	go func() { deleted <- endpoint.Delete(b.ctx, b.pool, b.ep.ID) }()
	testkit.Eventually(t, "the delete to wait for the queue row", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'`, holderPID) == 2
	})
	if err := holder.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := outcome(t, completed); err != nil {
		t.Errorf("recording the result: %v", err)
	}
	if err := outcome(t, deleted); err != nil {
		t.Errorf("deleting the endpoint: %v", err)
	}
	for _, table := range []string{"queue", "finished", "endpoint_health", "lanes"} {
		if n := b.count(t, `SELECT count(*) FROM hookd.`+table+` WHERE endpoint_id = $1`, b.ep.ID); n != 0 {
			t.Errorf("%d rows of the deleted endpoint in %s", n, table)
		}
	}
}

// TestClaimEndsWorkLeftForADeletedEndpoint: a publish that read its
// endpoint before the endpoint was deleted and committed after leaves a
// delivery no one can make. The claim that finds its lane's endpoint gone
// deletes it with the lane; before, every sweep made the lane again and
// every claim dropped it, for good.
func TestClaimEndsWorkLeftForADeletedEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	b.publishAround(t, func() error { return endpoint.Delete(b.ctx, b.pool, b.ep.ID) })
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1`, b.ep.ID); n != 1 {
		t.Fatalf("%d deliveries left for the deleted endpoint, want the 1 the delete could not see", n)
	}
	for i := range 2 {
		if _, err := delivery.Sweep(b.ctx, b.pool); err != nil {
			t.Fatal(err)
		}
		if jobs := b.claim(t, "w", 10, time.Minute); len(jobs) != 0 {
			t.Fatalf("claim %d took %+v for a deleted endpoint", i, jobs)
		}
	}
	for _, table := range []string{"queue", "lanes"} {
		if n := b.count(t, `SELECT count(*) FROM hookd.`+table+` WHERE endpoint_id = $1`, b.ep.ID); n != 0 {
			t.Errorf("%d rows of the deleted endpoint in %s", n, table)
		}
	}
	if n, err := delivery.Sweep(b.ctx, b.pool); err != nil || n != 0 {
		t.Errorf("the sweep made %d lanes (%v), want none", n, err)
	}
}

// TestClaimLeavesRowsADeleteHolds: a claim holds the lanes it took while
// it holds a disabled endpoint's leftover work, and an endpoint's delete
// locks the endpoint's queue rows before its lane. Had the claim waited
// for rows the delete held, the two would deadlock; it leaves them, and
// both finish.
func TestClaimLeavesRowsADeleteHolds(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	b.publishAround(t, func() error {
		_, err := endpoint.Disable(b.ctx, b.pool, b.ep.ID, "maintenance")
		return err
	})
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	// The delete, up to its lock of the queue rows (endpoint.Delete's order).
	del, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer del.Rollback(b.ctx)
	if _, err := del.Exec(b.ctx, `SELECT 1 FROM hookd.endpoints WHERE id = $1 FOR UPDATE`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := del.Exec(b.ctx, `SELECT 1 FROM hookd.queue WHERE endpoint_id = $1 ORDER BY id FOR UPDATE`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	// The deadline turns a claim waiting for the delete into a failure.
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	c, err := delivery.Claim(ctx, b.pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w"})
	if err != nil || len(c.Jobs) != 0 {
		t.Fatalf("claim beside the delete: %+v, %v", c, err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'pending'`, b.ep.ID); n != 1 {
		t.Fatalf("%d pending, want the row the delete holds left as it was", n)
	}
	// The rest of the delete goes through: its lane is free.
	if err := delivery.DeleteEndpointWork(b.ctx, del, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := del.Exec(b.ctx, `DELETE FROM hookd.endpoints WHERE id = $1`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := del.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"queue", "lanes"} {
		if n := b.count(t, `SELECT count(*) FROM hookd.`+table+` WHERE endpoint_id = $1`, b.ep.ID); n != 0 {
			t.Errorf("%d rows of the deleted endpoint in %s", n, table)
		}
	}
}

// publishAround publishes an event to the bundle's endpoint in a
// transaction that commits after change (which reads the endpoint before
// the publish is visible): as a producer racing an operator does.
func (b *bundle) publishAround(t *testing.T, change func() error) {
	t.Helper()
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(b.ctx)
	if _, err := b.pub.PublishTx(b.ctx, tx, outbox.Event{Type: "a.b"}); err != nil {
		t.Fatal(err)
	}
	if err := change(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
}
