package delivery_test

import (
	"cmp"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// A dispatcher's cycle finds its rows by key, never by reading a table
// whole, however small the planner believes a table to be: the queue
// churns (a plan made while it looked small read it whole, dead rows and
// all) and a new partition has no statistics. This runs cycles as the
// dispatcher does (see CycleTx) on a fresh database, where nothing has
// been analyzed, and counts the sequential scans of each transaction.
func TestCyclesFindRowsByKey(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	evs := make([]outbox.Event, 3000)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_%04d", i), Type: "order.created", Data: []byte(`{"n":1}`)}
	}
	b.publishAll(t, evs)
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	var results []delivery.Result
	for round := range 12 {
		var scans []string
		err := pgx.BeginTxFunc(b.ctx, b.pool, delivery.CycleTx, func(tx pgx.Tx) error {
			// The counts include what the connection did before and has
			// not reported yet: take them first.
			before, err := seqScans(b, tx)
			if err != nil {
				return err
			}
			if _, err := delivery.Promote(b.ctx, tx, 100); err != nil {
				return err
			}
			if _, _, err := delivery.CompleteTx(b.ctx, tx, policy, results); err != nil {
				return err
			}
			c, err := delivery.ClaimTx(b.ctx, tx, delivery.ClaimParams{Limit: 100, Lease: time.Minute, Worker: "w"})
			if err != nil {
				return err
			}
			if len(c.Jobs) != 100 {
				return fmt.Errorf("claimed %d deliveries, want 100", len(c.Jobs))
			}
			results = results[:0]
			for _, j := range c.Jobs {
				r := delivery.ResultOf(j, "w")
				r.StartedAt, r.ResponseStatus, r.Next = time.Now(), http.StatusOK, delivery.StateSucceeded
				results = append(results, r)
			}
			after, err := seqScans(b, tx)
			for table, n := range after {
				if n > before[table] {
					scans = append(scans, fmt.Sprintf("%s %d", table, n-before[table]))
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(scans) > 0 {
			t.Fatalf("cycle %d read tables whole (table, scans): %v; want key lookups only", round+1, scans)
		}
	}
}

// publishAll publishes evs, outbox.MaxBatch at a time.
func (b *bundle) publishAll(t *testing.T, evs []outbox.Event) {
	t.Helper()
	for lo := 0; lo < len(evs); lo += outbox.MaxBatch {
		if _, err := b.pub.PublishBatch(b.ctx, nil, evs[lo:min(lo+outbox.MaxBatch, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// seqScans returns the sequential scans of each hookd table that tx's
// connection made and has not reported yet.
func seqScans(b *bundle, tx pgx.Tx) (map[string]int64, error) {
	rows, err := tx.Query(b.ctx, `SELECT relname, seq_scan FROM pg_stat_xact_user_tables WHERE schemaname = 'hookd'`)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	var table string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&table, &n}, func() error {
		out[table] = n
		return nil
	})
	return out, err
}

// queueRowsRead returns the queue rows tx has read so far, through any
// index or by scanning.
func queueRowsRead(b *bundle, tx pgx.Tx) (int64, error) {
	return tuplesRead(b, tx, `relid = 'hookd.queue'::regclass`)
}

// rowsRead returns the rows of the queue and of hookd.finished's
// partitions that tx has read so far, through any index or by scanning.
func rowsRead(b *bundle, tx pgx.Tx) (int64, error) {
	return tuplesRead(b, tx, `relid = 'hookd.queue'::regclass
		OR relid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'hookd.finished'::regclass)`)
}

// tuplesRead sums the rows tx has read from the tables tables selects.
func tuplesRead(b *bundle, tx pgx.Tx, tables string) (n int64, err error) {
	err = tx.QueryRow(b.ctx, `SELECT coalesce(sum(coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)), 0)::bigint
		FROM pg_stat_xact_user_tables WHERE `+tables).Scan(&n)
	return n, err
}

// A claim reads the rows of the endpoints it serves, not every older row
// of the others: with an endpoint's work queued behind another's large
// backlog, the planner (its generic plan sees two endpoints, each half
// the queue) would rather walk the primary key in id order and filter.
func TestClaimReadsOnlyItsEndpointsRows(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	evs := make([]outbox.Event, 3000)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_a%04d", i), Type: "order.created"}
	}
	b.publishAll(t, evs)
	other, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://other.example/"})
	if err != nil {
		t.Fatal(err)
	}
	evs = evs[:30]
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_b%04d", i), Type: "order.created", EndpointID: other.ID}
	}
	if _, err := b.pub.PublishBatch(b.ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	// The backlog's endpoint is at its cap: only the other one is claimed.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = 'infinity' WHERE endpoint_id = $1`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `ANALYZE hookd.queue`); err != nil {
		t.Fatal(err)
	}
	c, read := b.claimCountingReads(t, 10)
	for _, j := range c.Jobs {
		if j.EndpointID != other.ID {
			t.Errorf("claimed delivery %d of endpoint %s, whose lane waits at its cap", j.DeliveryID, j.EndpointID)
		}
	}
	if len(c.Jobs) != 10 || read > 100 {
		t.Errorf("claimed %d deliveries reading %d queue rows; want 10 reading a few dozen, not the backlog's 3,000",
			len(c.Jobs), read)
	}
}

// claimCountingReads claims up to limit deliveries in a transaction
// planned as a dispatcher's cycle is, and returns what it took and how
// many queue rows it read.
func (b *bundle) claimCountingReads(t *testing.T, limit int) (c delivery.Claimed, read int64) {
	t.Helper()
	err := pgx.BeginTxFunc(b.ctx, b.pool, delivery.CycleTx, func(tx pgx.Tx) error {
		before, err := queueRowsRead(b, tx)
		if err != nil {
			return err
		}
		if c, err = delivery.ClaimTx(b.ctx, tx, delivery.ClaimParams{Limit: limit, Lease: time.Minute, Worker: "w"}); err != nil {
			return err
		}
		after, err := queueRowsRead(b, tx)
		read = after - before
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, read
}

// Holding a disabled endpoint's leftover work reads that endpoint's rows,
// not another's backlog (each state through its own partial index).
func TestClaimHoldsOnlyTheDisabledEndpointsRows(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	evs := make([]outbox.Event, 3000)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_a%04d", i), Type: "order.created"}
	}
	b.publishAll(t, evs)
	off, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://off.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: "evt_off", Type: "order.created", EndpointID: off.ID}); err != nil {
		t.Fatal(err)
	}
	// Disabled behind the delivery's back, as a racing publish leaves it.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.endpoints SET enabled = false WHERE id = $1`, off.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	// Only the disabled endpoint's lane is looked at.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.lanes SET ready_at = 'infinity' WHERE endpoint_id = $1`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `ANALYZE hookd.queue`); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginTxFunc(b.ctx, b.pool, delivery.CycleTx, func(tx pgx.Tx) error {
		before, err := queueRowsRead(b, tx)
		if err != nil {
			return err
		}
		if _, err := delivery.ClaimTx(b.ctx, tx, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w"}); err != nil {
			return err
		}
		after, err := queueRowsRead(b, tx)
		if err != nil {
			return err
		}
		if after-before > 20 {
			t.Errorf("holding 1 delivery read %d queue rows; want a few, not the other endpoint's 3,000", after-before)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'held'`, off.ID); n != 1 {
		t.Fatalf("%d held on the disabled endpoint, want 1", n)
	}
}

// Listing one endpoint's deliveries reads that endpoint's rows, not the
// queue: with its few deliveries queued before another endpoint's large
// backlog, one condition on the endpoint and no state had no index to
// use and read the whole queue, newest first, to find them.
func TestListReadsOnlyItsEndpointsRows(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	rare, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://rare.example/"})
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]outbox.Event, 6)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_r%04d", i), Type: "order.created", EndpointID: rare.ID}
	}
	if _, err := b.pub.PublishBatch(b.ctx, nil, evs); err != nil {
		t.Fatal(err)
	}
	// One of each: succeeded, retrying, in flight, and three pending.
	jobs := b.claim(t, "w", 3, time.Minute)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d, want 3", len(jobs))
	}
	b.complete(t, result(jobs[0], "w", 200, delivery.StateSucceeded), result(jobs[1], "w", 500, delivery.StateRetrying))
	want := map[int64]delivery.State{jobs[0].DeliveryID: delivery.StateSucceeded,
		jobs[1].DeliveryID: delivery.StateRetrying, jobs[2].DeliveryID: delivery.StateInFlight}

	evs = make([]outbox.Event, 3000)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_a%04d", i), Type: "order.created", EndpointID: b.ep.ID}
	}
	b.publishAll(t, evs)
	if _, err := b.pool.Exec(b.ctx, `ANALYZE hookd.queue`); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		before, err := queueRowsRead(b, tx)
		if err != nil {
			return err
		}
		// Two at a time, so that pages continue across states.
		var got []delivery.Delivery
		var next int64
		for {
			page, err := delivery.List(b.ctx, tx, delivery.ListParams{Filter: delivery.Filter{EndpointID: rare.ID}, Before: next, Limit: 2})
			if err != nil {
				return err
			}
			got = append(got, page.Deliveries...)
			if next = page.Next; next == 0 {
				break
			}
		}
		after, err := queueRowsRead(b, tx)
		if err != nil {
			return err
		}
		if after-before > 100 {
			t.Errorf("listing 6 deliveries read %d queue rows; want a few dozen, not the other endpoint's 3,000", after-before)
		}
		if len(got) != 6 {
			t.Fatalf("listed %d deliveries of the endpoint, want 6: %+v", len(got), got)
		}
		for i, d := range got {
			if i > 0 && d.ID >= got[i-1].ID {
				t.Errorf("not newest first: %d after %d", d.ID, got[i-1].ID)
			}
			if d.EndpointID != rare.ID {
				t.Errorf("delivery %d is endpoint %s's", d.ID, d.EndpointID)
			}
			if s, ok := want[d.ID]; ok && d.State != s || !ok && d.State != delivery.StatePending {
				t.Errorf("delivery %d is %s, want %s", d.ID, d.State, cmp.Or(s, delivery.StatePending))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A page filtered by event type, which no index answers, examines at most
// its scan of the newest deliveries and says where to go on: unbounded, a
// rare type read every older delivery to fill one page. Following Next
// still lists every match once, newest first.
func TestListByEventTypeReadsAtMostItsScan(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	evs := make([]outbox.Event, 3000)
	rare := map[string]bool{}
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_c%04d", i), Type: "order.created"}
		if i%1000 == 7 { // three, far apart
			evs[i].Type = "order.refunded"
			rare[evs[i].ID] = true
		}
	}
	b.publishAll(t, evs)
	if _, err := b.pool.Exec(b.ctx, `ANALYZE hookd.queue`); err != nil {
		t.Fatal(err)
	}
	const scan = 200
	err := pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		var got []delivery.Delivery
		var next int64
		pages, short := 0, 0
		for {
			before, err := queueRowsRead(b, tx)
			if err != nil {
				return err
			}
			page, err := delivery.List(b.ctx, tx, delivery.ListParams{
				Filter: delivery.Filter{EventType: "order.refunded"}, Before: next, Limit: 2, Scan: scan})
			if err != nil {
				return err
			}
			after, err := queueRowsRead(b, tx)
			if err != nil {
				return err
			}
			// The scan's ids, then the page's rows among them.
			if after-before > 2*scan+10 {
				t.Errorf("page %d read %d queue rows; want at most twice its scan of %d", pages, after-before, scan)
			}
			pages++
			if page.Next != 0 && len(page.Deliveries) < 2 {
				short++
			}
			got = append(got, page.Deliveries...)
			if next = page.Next; next == 0 {
				break
			}
			if pages > 100 {
				t.Fatal("the pages never end")
			}
		}
		if len(got) != len(rare) {
			t.Fatalf("listed %d deliveries, want the %d of type order.refunded: %+v", len(got), len(rare), got)
		}
		for i, d := range got {
			if !rare[d.EventID] || d.EventType != "order.refunded" {
				t.Errorf("listed delivery %d of event %s, type %s", d.ID, d.EventID, d.EventType)
			}
			if i > 0 && d.ID >= got[i-1].ID {
				t.Errorf("not newest first, or twice: %d after %d", d.ID, got[i-1].ID)
			}
		}
		// 3,000 rows in scans of 200: the pages between matches come back
		// short, saying where to go on.
		if short == 0 || pages < 3000/scan {
			t.Errorf("%d pages, %d short; want at least %d, some short", pages, short, 3000/scan)
		}
		// The command line's Fill follows the short pages itself.
		filled, err := delivery.Fill(b.ctx, tx, delivery.ListParams{
			Filter: delivery.Filter{EventType: "order.refunded"}, Limit: 2, Scan: scan})
		if err != nil {
			return err
		}
		if len(filled.Deliveries) != 2 || filled.Deliveries[0].ID != got[0].ID || filled.Deliveries[1].ID != got[1].ID {
			t.Errorf("Fill gave %+v, want the newest two of %+v", filled.Deliveries, got)
		}
		rest, err := delivery.Fill(b.ctx, tx, delivery.ListParams{
			Filter: delivery.Filter{EventType: "order.refunded"}, Before: filled.Next, Limit: 2, Scan: scan})
		if err != nil {
			return err
		}
		if len(rest.Deliveries) != 1 || rest.Deliveries[0].ID != got[2].ID || rest.Next != 0 {
			t.Errorf("Fill below %d gave %+v (next %d), want only %d and no next", filled.Next, rest.Deliveries, rest.Next, got[2].ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A claim reads the deliveries it takes, not its endpoints' whole
// backlogs, once the queue has been analyzed while large. Statistics of
// several endpoints' interleaved backlogs made the planner's generic plan
// read each endpoint's pending deliveries by bitmap and sort them to take
// the oldest few: every claim read the whole backlog, so the slower
// delivery ran, the longer the backlog and the slower each claim, until
// publishing outran delivering for good.
func TestClaimReadsNotTheBacklogOnceAnalyzed(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	for i := range 3 {
		if _, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: fmt.Sprintf("https://r%d.example/", i)}); err != nil {
			t.Fatal(err)
		}
	}
	evs := make([]outbox.Event, 3000)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_%04d", i), Type: "order.created"}
	}
	b.publishAll(t, evs)
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `ANALYZE hookd.queue`); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		if c, read := b.claimCountingReads(t, 40); len(c.Jobs) != 40 || read > 400 {
			t.Errorf("claim %d took %d deliveries reading %d queue rows; want 40 reading a few hundred at most, not the backlogs' 12,000",
				round+1, len(c.Jobs), read)
		}
	}
}
