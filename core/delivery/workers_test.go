package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/testkit"
)

// TestReapReturnsAGoneWorkersLeasesAtOnce: a registered worker whose
// liveness connection ended (its process killed outright) has its
// deliveries reaped at once, long before their leases run out, and is
// forgotten; a live registered worker, one whose connection dropped and
// came back within the grace, and an unregistered one (an earlier
// version) keep theirs until their leases expire.
func TestReapReturnsAGoneWorkersLeasesAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, 8)
	connect := func(worker string) *pgx.Conn {
		conn, err := pgx.ConnectConfig(b.ctx, b.pool.Config().ConnConfig.Copy())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close(b.ctx) })
		if err := delivery.RegisterWorker(b.ctx, conn, worker); err != nil {
			t.Fatal(err)
		}
		return conn
	}
	goneConn := connect("w-gone")
	connect("w-alive")
	blipConn := connect("w-blip")
	byWorker := map[string][]delivery.Job{}
	for _, w := range []string{"w-gone", "w-alive", "w-old", "w-blip"} {
		byWorker[w] = b.claim(t, w, 2, time.Hour)
		if len(byWorker[w]) != 2 {
			t.Fatalf("%s claimed %d, want 2", w, len(byWorker[w]))
		}
	}
	if n, _, err := reap(b, 5); err != nil || n != 0 {
		t.Fatalf("with every worker alive, reaped %d (%v)", n, err)
	}

	// A listening connection that drops and comes back within the grace
	// is not a dead process: noted, then cleared by its registration.
	if err := blipConn.Close(b.ctx); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the blip to be noted", func() bool {
		if n, _, err := reapGoneAfter(b, 5, time.Hour); err != nil || n != 0 {
			t.Fatalf("within the grace, reaped %d (%v)", n, err)
		}
		var noted bool
		_ = b.pool.QueryRow(b.ctx, `SELECT gone_since IS NOT NULL FROM hookd.workers WHERE worker = 'w-blip'`).Scan(&noted)
		return noted
	})
	connect("w-blip")

	if err := goneConn.Close(b.ctx); err != nil {
		t.Fatal(err)
	}
	// The server releases the lock once it has noticed the session end.
	var n int
	deadline := time.Now().Add(10 * time.Second)
	for n == 0 && time.Now().Before(deadline) {
		var err error
		if n, _, err = reap(b, 5); err != nil {
			t.Fatal(err)
		}
	}
	if n != 2 {
		t.Fatalf("reaped %d once w-gone's session ended, want its 2", n)
	}
	for w, jobs := range byWorker {
		for _, j := range jobs {
			d, err := delivery.Get(b.ctx, b.pool, j.DeliveryID)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]delivery.State{true: delivery.StatePending, false: delivery.StateInFlight}[w == "w-gone"]; d.State != want {
				// w-blip came back: its work stays in flight.

				t.Errorf("%s's delivery %d is %s, want %s", w, j.DeliveryID, d.State, want)
			}
		}
	}
	atts, err := delivery.Attempts(b.ctx, b.pool, byWorker["w-gone"][0].DeliveryID)
	if err != nil || len(atts) != 1 || atts[0].ErrorClass != delivery.ClassInterrupted ||
		!strings.Contains(atts[0].Error, "database session ended: worker w-gone") {
		t.Fatalf("attempt log of a gone worker's delivery = %+v, %v", atts, err)
	}
	var workers string
	if err := b.pool.QueryRow(b.ctx, `SELECT string_agg(worker, ',' ORDER BY worker) FROM hookd.workers`).Scan(&workers); err != nil ||
		workers != "w-alive,w-blip" {
		t.Fatalf("registered workers after the reap: %q, %v; want w-alive and w-blip", workers, err)
	}
}
