package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// Dropping idle lanes takes the lanes' rows in the same order as a
// completion waking them: a completion holding one lane and waiting for
// another while lanes are dropped does not deadlock.
func TestDroppingLanesDoesNotDeadlockWithWakingThem(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	busy, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{ID: "ep_a_busy", URL: "https://a.example/"})
	if err != nil {
		t.Fatal(err)
	}
	idle, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{ID: "ep_b_idle", URL: "https://b.example/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{busy.ID, idle.ID} {
		if _, err := b.pub.Publish(b.ctx, outbox.Event{Type: "a.b", EndpointID: ep}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	// The idle endpoint's delivery finishes; the busy one's lane waits
	// (as for a rate slot) with its work pending.
	if _, err := b.pool.Exec(b.ctx, `DELETE FROM hookd.queue WHERE endpoint_id = $1`, idle.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = now() + interval '1 hour' WHERE endpoint_id = $1`, busy.ID); err != nil {
		t.Fatal(err)
	}

	waker, wakerPID := b.holdLane(t, busy.ID)
	dropped := b.dropInBackground([]string{busy.ID, idle.ID})
	b.waitForLock(t, wakerPID, "")
	if _, err := waker.Exec(b.ctx, lockLane, idle.ID); err != nil {
		t.Fatalf("the waker taking its second lane: %v", err)
	}
	if err := waker.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	awaitDrop(t, dropped)
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1`, idle.ID); n != 0 {
		t.Errorf("the idle lane was kept")
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1 AND ready_at <= now()`, busy.ID); n != 1 {
		t.Errorf("the lane with pending work was not woken")
	}
}

// A lane that a claim found idle but has pending work when it is to be
// dropped is kept and reported woken, so that the dispatcher claims again
// at once: also when it is ready already (another cycle's drop woke it
// while this claim, skipping it locked, found nothing). Reported as
// neither, it waited for the next poll, up to a second, with work due.
func TestDropReportsEveryKeptLaneWoken(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	var eps []string
	for _, name := range []string{"ep_a_ready", "ep_b_waiting", "ep_c_empty"} {
		ep, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{ID: name, URL: "https://" + name[3:] + ".example/"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.pub.Publish(b.ctx, outbox.Event{Type: "a.b", EndpointID: ep.ID}); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep.ID)
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = now() + interval '1 second' WHERE endpoint_id = $1`, eps[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `DELETE FROM hookd.queue WHERE endpoint_id = $1`, eps[2]); err != nil {
		t.Fatal(err)
	}
	d, err := delivery.DropIdleLanes(b.ctx, b.pool, eps)
	if err != nil {
		t.Fatal(err)
	}
	if d != (delivery.Dropped{Dropped: 1, Woken: 2}) {
		t.Errorf("dropping = %+v, want the empty lane dropped and both lanes with work woken", d)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = ANY($1) AND ready_at <= now()`, eps[:2]); n != 2 {
		t.Errorf("%d of the 2 lanes with work are ready", n)
	}
}

// NextWake finds a lane whose wait ended after the claim it follows
// began, even when that is past by the time it is asked: a fifo head's
// backoff of 30 ms ended while a loaded dispatcher got round to asking,
// and asked for lanes waiting beyond now() it found none, so the head
// waited for the next poll.
func TestNextWakeFindsALaneDueSinceTheClaim(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	if _, err := b.pub.Publish(b.ctx, outbox.Event{Type: "a.b", EndpointID: b.ep.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = now() - interval '1 second'
		WHERE endpoint_id = $1`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	// A claim begun 3 s ago, before the lane's wait ended 1 s ago.
	wait, ok, err := delivery.NextWake(b.ctx, b.pool, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || wait > -time.Second || wait < -3*time.Second {
		t.Errorf("after a claim before the lane's wait ended: next wake in %s (%v), want about -1s, the lane's", wait, ok)
	}
	// A claim begun 0.5 s ago saw the lane due: nothing waits.
	if wait, ok, err = delivery.NextWake(b.ctx, b.pool, 500*time.Millisecond); err != nil || ok {
		t.Errorf("after a claim that saw the lane due: next wake in %s (%v, %v), want none", wait, ok, err)
	}
}

// A retry centuries away (a hand-edited row) is a long wait, not a
// Duration overflowed into one in the past that woke the dispatcher every
// millisecond.
func TestNextWakeOfAFarRetryIsLong(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.queue SET state = 'retrying', next_attempt_at = now() + interval '400 years'`); err != nil {
		t.Fatal(err)
	}
	wait, ok, err := delivery.NextWake(b.ctx, b.pool, 0)
	if err != nil || !ok || wait < time.Hour {
		t.Fatalf("next wake for a retry in 400 years: %s (%v, %v), want a long one", wait, ok, err)
	}
}

// A drop that waits for a lane's row (another cycle holds it until its
// commit) holds no bucket lock meanwhile: writers to the endpoint go on
// publishing instead of queueing behind the drop, and the drop then sees
// their work and keeps the lane.
func TestDropWaitingForALaneStallsNoWriter(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ep := b.idleLane(t, "ep_idle")

	holder, holderPID := b.holdLane(t, ep.ID)
	dropped := b.dropInBackground([]string{ep.ID})
	b.waitForLock(t, holderPID, "")

	published := make(chan error, 1)
	go func() {
		_, err := b.pub.Publish(b.ctx, outbox.Event{Type: "a.b", EndpointID: ep.ID})
		published <- err
	}()
	var publishErr error
	done := false
	testkit.Eventually(t, "the publish to finish or wait", func() bool {
		select {
		case publishErr = <-published:
			done = true
			return true
		default:
		}
		return b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'`, holderPID) > 1
	})
	if !done {
		t.Fatal("the publish waited for the drop, which was waiting for the lane")
	}
	if publishErr != nil {
		t.Fatal(publishErr)
	}
	if err := holder.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	awaitDrop(t, dropped)
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1 AND ready_at <= now()`, ep.ID); n != 1 {
		t.Errorf("the lane of the endpoint with new work was dropped or left waiting")
	}
}

const lockLane = `SELECT 1 FROM hookd.lanes WHERE endpoint_id = $1 FOR UPDATE`

// holdLane locks an endpoint's lane in a transaction it returns, with the
// transaction's backend pid; the test commits it, or it is rolled back.
func (b *bundle) holdLane(t *testing.T, endpointID string) (pgx.Tx, int) {
	t.Helper()
	tx, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	var pid int
	if err := tx.QueryRow(b.ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(b.ctx, lockLane, endpointID); err != nil {
		t.Fatal(err)
	}
	return tx, pid
}

// dropInBackground runs DropIdleLanes and returns its outcome on the
// channel once it has finished.
func (b *bundle) dropInBackground(endpointIDs []string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := delivery.DropIdleLanes(b.ctx, b.pool, endpointIDs)
		done <- err
	}()
	return done
}

func awaitDrop(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dropping idle lanes: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dropping idle lanes never finished")
	}
}

// A lane made while a drop waits for another lane's row (a writer left a
// wake, a dispatcher admitted it) is left alone by the drop: taking its
// row then, after the rows it waited for and while holding the buckets,
// deadlocked with a completion locking both lanes in key order.
func TestDropLeavesALaneMadeWhileItWaited(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	fresh, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{ID: "ep_a_fresh", URL: "https://a.example/"})
	if err != nil {
		t.Fatal(err)
	}
	idle := b.idleLane(t, "ep_x_idle")

	cycle, cyclePID := b.holdLane(t, idle.ID)
	dropped := b.dropInBackground([]string{fresh.ID, idle.ID})
	b.waitForLock(t, cyclePID, "")
	// Work for the endpoint without a lane: a wake, admitted into a lane.
	if _, err := b.pub.Publish(b.ctx, outbox.Event{Type: "a.b", EndpointID: fresh.ID}); err != nil {
		t.Fatal(err)
	}
	if n, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil || n != 1 {
		t.Fatalf("admitting the new lane: %d, %v", n, err)
	}
	// A completion wakes both lanes, in key order: it takes the new lane
	// and waits for the one the cycle holds.
	waker, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer waker.Rollback(b.ctx)
	woke := make(chan error, 1)
	go func() {
		_, err := waker.Exec(b.ctx, `SELECT 1 FROM hookd.lanes WHERE endpoint_id = ANY($1) ORDER BY endpoint_id FOR UPDATE`,
			[]string{fresh.ID, idle.ID})
		woke <- err
	}()
	testkit.Eventually(t, "the drop and the completion to wait for the cycle's lane", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'`, cyclePID) == 2
	})
	if err := cycle.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	awaitDrop(t, dropped)
	if err := <-woke; err != nil {
		t.Fatalf("the completion waking the lanes: %v", err)
	}
	if err := waker.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1`, idle.ID); n != 0 {
		t.Errorf("the idle lane was kept")
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1 AND ready_at <= now()`, fresh.ID); n != 1 {
		t.Errorf("the new lane is gone or waiting")
	}
}

// A drop finds a lane whose bucket a writer holds (the writer is making
// work due for it, uncommitted) contended: it keeps the lane, ready, and
// says so, for the dispatcher to look again once the writer committed.
func TestDropKeepsALaneAWriterHolds(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ep := b.idleLane(t, "ep_written")
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = now() + interval '1 hour' WHERE endpoint_id = $1`, ep.ID); err != nil {
		t.Fatal(err)
	}
	writer, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback(b.ctx)
	if _, err := b.pub.PublishTx(b.ctx, writer, outbox.Event{Type: "a.b", EndpointID: ep.ID}); err != nil {
		t.Fatal(err)
	}
	d, err := delivery.DropIdleLanes(b.ctx, b.pool, []string{ep.ID})
	if err != nil {
		t.Fatal(err)
	}
	if d.Contended != 1 || d.Dropped != 0 {
		t.Errorf("drop = %+v, want the lane contended and kept", d)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1 AND ready_at <= now()`, ep.ID); n != 1 {
		t.Errorf("the contended lane is gone or waiting")
	}
}

// idleLane makes an endpoint with a lane and nothing due: its one
// delivery is gone, as if sent, and the lane not yet dropped.
func (b *bundle) idleLane(t *testing.T, id string) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{ID: id, URL: "https://" + id + ".example/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pub.Publish(b.ctx, outbox.Event{Type: "a.b", EndpointID: ep.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `DELETE FROM hookd.queue WHERE endpoint_id = $1`, ep.ID); err != nil {
		t.Fatal(err)
	}
	return ep
}

// A writer at REPEATABLE READ sees the lanes as they were when its
// snapshot was taken: a lane dropped since looks present. Its work gets a
// wake all the same, so a dispatcher serves it at once rather than at the
// maintenance leader's next sweep.
func TestRepeatableReadWriterLeavesAWake(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ep := b.idleLane(t, "ep_rr")
	writer, err := b.pool.BeginTx(b.ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Rollback(b.ctx)
	var lanes int
	if err := writer.QueryRow(b.ctx, `SELECT count(*) FROM hookd.lanes`).Scan(&lanes); err != nil || lanes != 1 {
		t.Fatalf("the writer's snapshot: %d lanes, %v", lanes, err)
	}
	d, err := delivery.DropIdleLanes(b.ctx, b.pool, []string{ep.ID})
	if err != nil || d.Dropped != 1 {
		t.Fatalf("dropping the idle lane: %+v, %v", d, err)
	}
	if _, err := b.pub.PublishTx(b.ctx, writer, outbox.Event{Type: "a.b", EndpointID: ep.ID}); err != nil {
		t.Fatal(err)
	}
	if err := writer.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil || n != 1 {
		t.Fatalf("admitting the writer's wake: %d lanes made, %v; want its endpoint's lane", n, err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1 AND ready_at <= now()`, ep.ID); n != 1 {
		t.Errorf("the endpoint with new work has no ready lane")
	}
}

// Dropping lanes that are gone already (another cycle dropped them) does
// nothing and says so: its statements hand each other empty sets.
func TestDropOfLanesGoneAlready(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	ep := b.idleLane(t, "ep_dropped_twice")
	for i, want := range []delivery.Dropped{{Dropped: 1}, {}} {
		d, err := delivery.DropIdleLanes(b.ctx, b.pool, []string{ep.ID, "ep_never_had_a_lane"})
		if err != nil {
			t.Fatalf("drop %d: %v", i+1, err)
		}
		if d != want {
			t.Errorf("drop %d = %+v, want %+v", i+1, d, want)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.lanes`); n != 0 {
		t.Errorf("%d lanes left", n)
	}
}
