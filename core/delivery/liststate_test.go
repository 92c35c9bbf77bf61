package delivery_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/tenant"
)

// Every state filter, alone, for a tenant or for an endpoint, reads a
// bounded number of rows per page, however much of other states the
// scope holds (see seedStates). Unbounded, a tenant's dead letters read
// its whole history. Followed, the pages give what the state selects,
// newest first, each delivery reading as in that state; the endpoints'
// health counts the same, a fifo line's head waiting out its backoff
// retrying, and blocking its line.
func TestListByStateReadsBoundedRows(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	fifo, conc, head := seedStates(t, b)

	// The head in backoff is retrying, not pending as well.
	below, err := delivery.List(b.ctx, b.pool, delivery.ListParams{
		Filter: delivery.Filter{EndpointID: fifo.ID, State: delivery.StatePending}, Before: head + 1})
	if err != nil || len(below.Deliveries) != 0 {
		t.Errorf("the fifo line's pending deliveries from its head down: %+v (%v), want none", below.Deliveries, err)
	}
	health, err := delivery.HealthOf(b.ctx, b.pool, []string{fifo.ID, conc.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if h := health[fifo.ID]; h.Pending != 3000 || h.Retrying != 1 || h.Blocked == nil {
		t.Errorf("fifo endpoint's health: %d pending, %d retrying, blocked %+v; want 3000, 1 (its head), blocked", h.Pending, h.Retrying, h.Blocked)
	}
	if h := health[conc.ID]; h.Pending != 0 || h.Retrying != 1 || h.InFlight != 1 || h.Dead != 1 {
		t.Errorf("endpoint's health: %+v; want 1 retrying, 1 in flight, 1 dead", h)
	}
	if c, err := delivery.QueueCounts(b.ctx, b.pool); err != nil || c.Pending != 3000 || c.Retrying != 2 || c.Held != 3001 {
		t.Errorf("queue counts: %+v (%v); want 3,000 pending, 2 retrying (one a fifo head), 3,001 held", c, err)
	}

	scopes := map[string]delivery.Filter{"all": {}, "tenant": {Tenant: "cus_a"},
		"fifo endpoint": {EndpointID: fifo.ID}, "endpoint": {EndpointID: conc.ID}}
	states := append([]delivery.State{""}, delivery.States...)
	err = pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		// As on a large queue: a table this small the planner would
		// rather read whole, whatever its indexes.
		if _, err := tx.Exec(b.ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		for name, scope := range scopes {
			for _, state := range states {
				f := scope
				f.State = state
				want, err := matching(b, tx, f)
				if err != nil {
					return err
				}
				// The newest few of a bulk state; all of a rare one.
				want = want[:min(len(want), 6)]
				got, err := listNewest(t, b, tx, name, f, len(want))
				if err != nil {
					return err
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s, state %q: listed %v, want %v", name, state, got, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listNewest follows f's pages of 2 (a scan of 200) until it has n
// deliveries or there are no more, and returns their ids. It checks that
// no page reads much more than twice its scan and that each delivery
// reads as in f's state.
func listNewest(t *testing.T, b *bundle, tx pgx.Tx, name string, f delivery.Filter, n int) ([]int64, error) {
	t.Helper()
	const scan, limit = 200, 2
	var got []int64
	var next int64
	for pages := 0; ; pages++ {
		if pages > 3*15000/scan {
			t.Fatalf("%s, state %q: the pages never end", name, f.State)
		}
		before, err := rowsRead(b, tx)
		if err != nil {
			return nil, err
		}
		page, err := delivery.List(b.ctx, tx, delivery.ListParams{Filter: f, Before: next, Limit: limit, Scan: scan})
		if err != nil {
			return nil, err
		}
		after, err := rowsRead(b, tx)
		if err != nil {
			return nil, err
		}
		if after-before > 2*scan+30 {
			t.Errorf("%s, state %q: a page of %d read %d rows; want at most about twice its scan of %d",
				name, f.State, limit, after-before, scan)
		}
		for _, d := range page.Deliveries {
			got = append(got, d.ID)
			if f.State != "" && d.State != f.State {
				t.Errorf("%s, state %q: listed delivery %d reads as %s", name, f.State, d.ID, d.State)
			}
		}
		if next = page.Next; next == 0 || len(got) >= max(n, 6) {
			return got[:min(len(got), max(n, 6))], nil
		}
	}
}

// seedStates makes, for tenant cus_a, a fifo endpoint whose head failed
// and waits out its backoff, and an unordered one with one delivery
// retrying, one dead, one in flight and one skipped, and a disabled one
// with one held; then, newer, 3,000 succeeded and 3,000 pending behind
// the fifo head, and tenant cus_b's 3,000 dead and 3,000 held. It returns
// the two endpoints and the head's delivery id.
func seedStates(t *testing.T, b *bundle) (fifo, conc *endpoint.Endpoint, head int64) {
	t.Helper()
	for _, id := range []string{"cus_a", "cus_b"} {
		if _, _, err := tenant.Put(b.ctx, b.pool, id, tenant.PutParams{}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(p endpoint.CreateParams) *endpoint.Endpoint {
		p.URL = "https://" + p.Tenant + ".example/"
		ep, err := endpoint.Create(b.ctx, b.pool, p)
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	fifo = mk(endpoint.CreateParams{Tenant: "cus_a", Ordering: endpoint.OrderingFIFO})
	conc, off := mk(endpoint.CreateParams{Tenant: "cus_a"}), mk(endpoint.CreateParams{Tenant: "cus_a", Disabled: true})
	seq := 0
	publish := func(ep *endpoint.Endpoint, n int) {
		evs := make([]outbox.Event, n)
		for i := range evs {
			seq++
			evs[i] = outbox.Event{ID: fmt.Sprintf("evt_%05d", seq), Type: "order.created", Tenant: ep.Tenant, EndpointID: ep.ID}
		}
		b.publishAll(t, evs)
	}
	finish := func(n int, state delivery.State) {
		for done := 0; done < n; {
			jobs := b.claim(t, "w", 500, time.Minute)
			rs := make([]delivery.Result, len(jobs))
			for i, j := range jobs {
				rs[i] = result(j, "w", 200, state)
			}
			b.complete(t, rs...)
			done += len(jobs)
		}
	}

	publish(fifo, 1)
	jobs := b.claim(t, "w", 10, time.Hour)
	backoff := result(jobs[0], "w", 500, delivery.StateRetrying)
	backoff.NextAttemptAt = time.Now().Add(time.Hour)
	b.complete(t, backoff)
	head = jobs[0].DeliveryID
	publish(conc, 3)
	if jobs = b.claim(t, "w", 10, time.Hour); len(jobs) != 3 {
		t.Fatalf("claimed %d, want the 3 of %s", len(jobs), conc.ID)
	}
	retry := result(jobs[0], "w", 500, delivery.StateRetrying)
	retry.NextAttemptAt = time.Now().Add(time.Hour)
	b.complete(t, retry, result(jobs[1], "w", 500, delivery.StateDead))
	publish(conc, 1)
	skip := b.count(t, `SELECT max(id) FROM hookd.queue`)
	if err := pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		_, err := delivery.Skip(b.ctx, tx, int64(skip))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	publish(off, 1)

	publish(conc, 3000)
	finish(3000, delivery.StateSucceeded)
	publish(fifo, 3000)
	publish(mk(endpoint.CreateParams{Tenant: "cus_b"}), 3000)
	finish(3000, delivery.StateDead)
	publish(mk(endpoint.CreateParams{Tenant: "cus_b", Disabled: true}), 3000)
	if _, err := b.pool.Exec(b.ctx, `ANALYZE hookd.queue; ANALYZE hookd.finished`); err != nil {
		t.Fatal(err)
	}
	return fifo, conc, head
}

// matching returns the ids of what f selects, newest first, by the
// definition of its state rather than by any index.
func matching(b *bundle, tx pgx.Tx, f delivery.Filter) ([]int64, error) {
	cond := "d.state = '" + string(f.State) + "'"
	if f.State == "" {
		cond = "true"
	}
	rows, err := tx.Query(b.ctx, `SELECT d.id FROM hookd.deliveries d
		WHERE `+cond+` AND ($1 = '' OR d.tenant_id = $1) AND ($2 = '' OR d.endpoint_id = $2)
		ORDER BY d.id DESC`, f.Tenant, f.EndpointID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// A bulk replay of deliveries still to do (retrying, or pending) finds
// them by the same state conditions as the lists, which read columns of
// the queue only: the part of hookd.finished must not fail on them.
func TestReplayMatchingQueueStates(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	jobs := b.claim(t, "w", 1, time.Minute)
	retry := result(jobs[0], "w", 500, delivery.StateRetrying)
	retry.NextAttemptAt = time.Now().Add(time.Hour)
	b.complete(t, retry)
	// The retrying one, then it and the other, pending.
	for _, c := range []struct {
		state delivery.State
		want  int64
	}{{delivery.StateRetrying, 1}, {delivery.StatePending, 2}} {
		n, err := delivery.ReplayMatching(b.ctx, b.pool, delivery.ReplayParams{Filter: delivery.Filter{State: c.state}})
		if err != nil || n != c.want {
			t.Errorf("replay of the %s: %d, %v; want %d", c.state, n, err, c.want)
		}
	}
}
