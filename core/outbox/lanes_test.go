package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
)

// A producer's transaction may stay open for long and publish to many
// endpoints in any order. Publishing to an endpoint that has no lane yet
// must not make other producers wait for that transaction, nor deadlock
// with them.
func TestProducersNeitherWaitForNorDeadlockWithEachOther(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	const n = 3
	for i := range n {
		addEndpoint(t, ctx, b.pool, fmt.Sprintf("t%d.happened", i))
	}
	publish := func(ctx context.Context, tx pgx.Tx, i int) error {
		_, err := b.pub.PublishTx(ctx, tx, outbox.Event{Type: fmt.Sprintf("t%d.happened", i%n), Data: json.RawMessage(`{}`)})
		return err
	}

	// An open transaction that published to t0's endpoint...
	open, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	if err := publish(ctx, open, 0); err != nil {
		t.Fatal(err)
	}
	// ...does not hold up another producer publishing to it. The deadline
	// only turns a hang into a failure.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pgx.BeginFunc(wctx, b.pool, func(tx pgx.Tx) error { return publish(wctx, tx, 0) }); err != nil {
		t.Fatalf("a second producer waited for the first one's transaction: %v", err)
	}

	// n transactions each publish to endpoint i first, meet, then publish
	// to the others in turn: inserting lanes, each would wait for the next.
	var met sync.WaitGroup
	met.Add(n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- pgx.BeginFunc(wctx, b.pool, func(tx pgx.Tx) error {
				if err := publish(wctx, tx, i); err != nil {
					met.Done()
					return err
				}
				met.Done()
				met.Wait()
				for k := 1; k < n; k++ {
					if err := publish(wctx, tx, i+k); err != nil {
						return err
					}
				}
				return nil
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent producers: %v", err)
		}
	}
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Their wakes become one lane per endpoint.
	if _, err := delivery.AdmitWakes(ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if got := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.lanes`); got != n {
		t.Errorf("lanes = %d, want %d", got, n)
	}
	if got := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.lane_wakes`); got != 0 {
		t.Errorf("wake rows left = %d, want 0", got)
	}
}

// A claimer drops a lane under its bucket's exclusive lock. A producer
// whose statement began before that drop committed must still see that
// the lane is gone, and leave a wake, although its statement's snapshot
// shows the lane.
func TestProducerSeesALaneDroppedDuringItsStatement(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	ep := addEndpoint(t, ctx, b.pool, "order.created")
	ev := outbox.Event{Type: "order.created", Data: json.RawMessage(`{}`)}
	if _, err := b.pub.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.AdmitWakes(ctx, b.pool); err != nil {
		t.Fatal(err)
	}

	// The dropper, stopped after deleting the lane under the lock.
	drop, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer drop.Rollback(ctx)
	if _, err := drop.Exec(ctx, `SELECT pg_advisory_xact_lock(26732, hashtext($1) & 1023)`, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := drop.Exec(ctx, `DELETE FROM hookd.lanes WHERE endpoint_id = $1`, ep.ID); err != nil {
		t.Fatal(err)
	}

	published := make(chan error, 1)
	go func() {
		_, err := b.pub.Publish(ctx, ev)
		published <- err
	}()
	// Once the producer waits for the bucket lock, its snapshot predates
	// the drop's commit.
	for {
		var waiting bool
		if err := b.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'advisory' AND classid = 26732 AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-published:
			t.Fatalf("the producer did not wait for the dropper's lock (err %v)", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := drop.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if got := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.lane_wakes WHERE endpoint_id = $1`, ep.ID); got != 1 {
		t.Fatalf("wake rows = %d, want 1: the producer trusted a lane that was dropped", got)
	}
	if _, err := delivery.AdmitWakes(ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if got := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1`, ep.ID); got != 1 {
		t.Fatalf("lanes = %d, want 1", got)
	}
}

// listenForWork returns a connection listening on delivery.WorkChannel,
// released when the test ends.
func listenForWork(t *testing.T, ctx context.Context, b *testBundle) *pgxpool.Conn {
	t.Helper()
	listener, err := b.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(listener.Release)
	if _, err := listener.Exec(ctx, "LISTEN "+delivery.WorkChannel); err != nil {
		t.Fatal(err)
	}
	return listener
}

// notificationsUntilMarker sends a marker notification and counts the
// work notifications listener received before it: notifications arrive in
// commit order.
func notificationsUntilMarker(t *testing.T, ctx context.Context, b *testBundle, listener *pgxpool.Conn) int {
	t.Helper()
	if _, err := b.pool.Exec(ctx, `SELECT pg_notify($1, 'marker')`, delivery.WorkChannel); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	notified := 0
	for {
		note, err := listener.Conn().WaitForNotification(wctx)
		if err != nil {
			t.Fatal(err)
		}
		if note.Payload == "marker" {
			return notified
		}
		notified++
	}
}

// A producer's own transaction notifies when it commits, and only then:
// a rolled-back one leaves neither a wake nor a notification.
func TestPublishTxNotifiesAtCommit(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool, "order.created")
	listener := listenForWork(t, ctx, b)
	for _, commit := range []bool{false, true} {
		tx, err := b.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.pub.PublishTx(ctx, tx, outbox.Event{Type: "order.created", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		end, want := tx.Rollback, 0
		if commit {
			end, want = tx.Commit, 1
		}
		if err := end(ctx); err != nil {
			t.Fatal(err)
		}
		if got := notificationsUntilMarker(t, ctx, b, listener); got != want {
			t.Errorf("commit %v: %d notifications, want %d", commit, got, want)
		}
		if got := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.lane_wakes`); got != want {
			t.Errorf("commit %v: %d wake rows, want %d", commit, got, want)
		}
	}
}

// One wake serves an endpoint until a dispatcher admits it: later
// producers to the same endpoint leave no second wake and no second
// notification (notifying transactions commit one at a time), and all
// their work is claimed from the lane that the one wake becomes.
func TestOneWakeAndNotificationUntilAdmitted(t *testing.T) {
	t.Parallel()
	ctx, b := setup(t)
	addEndpoint(t, ctx, b.pool, "order.created")
	listener := listenForWork(t, ctx, b)
	const n = 5
	for range n {
		if _, err := b.pub.Publish(ctx, outbox.Event{Type: "order.created", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, ctx, b.pool, `SELECT count(*) FROM hookd.lane_wakes`); got != 1 {
		t.Errorf("wake rows = %d after %d one-event transactions, want 1", got, n)
	}
	if notified := notificationsUntilMarker(t, ctx, b, listener); notified != 1 {
		t.Errorf("%d notifications for %d one-event transactions to one endpoint, want 1", notified, n)
	}
	if _, err := delivery.AdmitWakes(ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	c, err := delivery.Claim(ctx, b.pool, delivery.ClaimParams{Limit: 100, Lease: time.Minute, Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Jobs) != n {
		t.Errorf("claimed %d deliveries from the admitted lane, want all %d", len(c.Jobs), n)
	}
}
