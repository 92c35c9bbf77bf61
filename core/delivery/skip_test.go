package delivery_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/testkit"
	"github.com/hookd/hookd/core/validate"
)

// skipInBackground runs Skip in a transaction of its own and returns its
// outcome on the channel, once it has committed or failed.
func skipInBackground(b *bundle, id int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			_, err := delivery.Skip(b.ctx, tx, id)
			return err
		})
	}()
	return done
}

// waitForLock waits until a backend other than pid waits for a lock of
// the given kind ("" for any).
func (b *bundle) waitForLock(t *testing.T, pid int, kind string) {
	t.Helper()
	testkit.Eventually(t, "a backend to wait for a lock", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'
			  AND ($2 = '' OR wait_event = $2)`, pid, kind) == 1
	})
}

func outcome(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the skip never finished")
		return nil
	}
}

// A skip that looks at a delivery while a claim is taking it waits for the
// claim and refuses: it never answers "skipped" for a delivery that is
// then sent (it read the state unlocked, and its delete then found the
// row in flight and removed nothing).
func TestSkipNeverEndsADeliveryAClaimTakes(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	claimer, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer claimer.Rollback(b.ctx)
	var pid int
	if err := claimer.QueryRow(b.ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	c, err := delivery.ClaimTx(b.ctx, claimer, delivery.ClaimParams{Limit: 1, Lease: time.Minute, Worker: "w"})
	if err != nil || len(c.Jobs) != 1 {
		t.Fatalf("claim: %v, %d jobs", err, len(c.Jobs))
	}
	done := skipInBackground(b, c.Jobs[0].DeliveryID)
	b.waitForLock(t, pid, "")
	if err := claimer.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	var inv *validate.Error
	if err := outcome(t, done); !errors.As(err, &inv) || inv.Field != "id" {
		t.Fatalf("skipping a delivery a claim took: %v, want an error naming id", err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE state = 'in_flight'`); n != 1 {
		t.Errorf("%d deliveries in flight after the refused skip, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.finished`); n != 0 {
		t.Errorf("the refused skip finished %d deliveries", n)
	}
}

// Skip takes the lane's bucket before the lane's row: with the bucket
// held exclusively by a transaction that then takes the lane (as drops
// once did), the skip waits for it without holding the lane, so the other
// can take the lane and finish. (Taken the other way round, the two
// deadlocked and the skip was a 500.)
func TestSkipTakesTheLaneAfterItsBucket(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	// The lane waits for a result, as a fifo line behind a failing head.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = 'infinity'`); err != nil {
		t.Fatal(err)
	}
	id := int64(b.count(t, `SELECT id FROM hookd.queue`))
	dropper, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dropper.Rollback(b.ctx)
	var pid int
	if err := dropper.QueryRow(b.ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := dropper.Exec(b.ctx, `SELECT pg_advisory_xact_lock(26732, hashtext($1) & 1023)`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	done := skipInBackground(b, id)
	b.waitForLock(t, pid, "advisory")
	if _, err := dropper.Exec(b.ctx, `SET LOCAL lock_timeout = '20s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := dropper.Exec(b.ctx, `SELECT 1 FROM hookd.lanes WHERE endpoint_id = $1 FOR UPDATE`, b.ep.ID); err != nil {
		t.Fatalf("the drop taking the lane while a skip waits: %v", err)
	}
	if err := dropper.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if err := outcome(t, done); err != nil {
		t.Fatalf("skip: %v", err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.finished WHERE id = $1 AND state = 'skipped'`, id); n != 1 {
		t.Errorf("the delivery was not skipped")
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE ready_at <= now()`); n != 1 {
		t.Errorf("the lane behind the skipped delivery was not woken")
	}
}

// TestClaimHoldsWorkLeftPendingOnADisabledEndpoint: a publish that read
// its endpoint enabled and committed after the endpoint was disabled
// leaves a pending delivery that disabling could not hold. The next claim
// holds it, so that its lane drops; before, every claim found the lane
// idle and every drop found it busy, and the dispatcher claimed again at
// once, forever.
func TestClaimHoldsWorkLeftPendingOnADisabledEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	b.publishAround(t, func() error {
		_, err := endpoint.Disable(b.ctx, b.pool, b.ep.ID, "maintenance")
		return err
	})
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'pending'`, b.ep.ID); n != 1 {
		t.Fatalf("%d pending on the disabled endpoint, want the 1 disabling could not see", n)
	}
	for i := range 3 {
		c, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w"})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Jobs) != 0 {
			t.Fatalf("claim %d took %+v from a disabled endpoint", i, c.Jobs)
		}
		d, err := delivery.DropIdleLanes(b.ctx, b.pool, c.Idle)
		if err != nil {
			t.Fatal(err)
		}
		if d.Woken > 0 {
			t.Fatalf("claim %d took nothing and its drop said to claim again at once: %+v", i, d)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'held'`, b.ep.ID); n != 1 {
		t.Fatalf("%d held on the disabled endpoint, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes`); n != 0 {
		t.Fatalf("%d lanes left", n)
	}
	// Enabling brings it back.
	if _, err := endpoint.Enable(b.ctx, b.pool, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if jobs := b.claim(t, "w", 10, time.Minute); len(jobs) != 1 {
		t.Fatalf("claimed %d after enabling, want 1", len(jobs))
	}
}
