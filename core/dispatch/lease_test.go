package dispatch

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/testkit"
)

// The tests of this file hold a claim up, before or after its claiming
// statement, and check what the lease and the rate slots make of it.

// An endpoint whose rate limit pushes requests past half the lease gets
// them all the same: work handed back waits for its slot instead of
// booking ever later slots. (The slots span a second, the lease 0.6 s:
// a shorter lease left a busy machine's cycle too little of it.)
func TestRateLimitPastTheLeaseStillDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.RateLimit, p.MaxInFlight = 10, 10 })
	b.start(t, func(o *Options) {
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
		o.Delivery.PollInterval = 10 * time.Millisecond
	})
	var ids []string
	for range 10 {
		ids = append(ids, b.publish(t, "a.b", `{}`).ID)
	}
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.attempts`); n != 10 {
		t.Errorf("%d attempts for 10 deliveries; handing work back must not count attempts", n)
	}
}

// A claim that waits for a database connection (a busy pool) or runs
// behind slow completions must not send a rate-limited endpoint's booked
// slots at once when it finally runs: the slots count from the claim,
// not from when the cycle began.
func TestRateSlotsHoldWhenTheClaimWaitsForAConnection(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var arrived []time.Time
	rc := newReceiver(t, func(http.ResponseWriter, *http.Request, int64) {
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
	})
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.RateLimit = 5 })
	// The dispatcher did wait for the connection, or the test proves nothing.
	if waited := deliverAfterStarving(t, b, b.testOptions(t), 6); waited < 400*time.Millisecond {
		t.Fatalf("the dispatcher waited %s for its connection, want most of the 700 ms held", waited)
	}
	mu.Lock()
	defer mu.Unlock()
	// Slots are 200 ms apart: three requests span 400 ms; one late
	// request on a busy machine may shorten that, not to under 200 ms.
	for i := 2; i < len(arrived); i++ {
		if span := arrived[i].Sub(arrived[i-2]); span < 200*time.Millisecond {
			t.Errorf("requests %d to %d to an endpoint limited to 5/s arrived within %s", i-1, i+1, span.Round(time.Millisecond))
		}
	}
}

// A cycle that waits for a connection (a busy pool) before it claims
// must not eat the lease of the jobs it then claims: leases count from
// the claiming statement. Counted from the cycle's start, the 700 ms
// wait would leave these jobs no lease at all (600 ms), and they would
// be handed back, or, before hand-backs, recorded as timeouts unsent.
func TestLeaseCountsFromTheClaimNotTheCycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	opts := b.testOptions(t)
	opts.Delivery.Timeout = 100 * time.Millisecond
	opts.Delivery.Lease = 600 * time.Millisecond
	opts.ReapInterval = time.Hour // no reaper: a lease that ran out shows in the attempts, not behind them
	const deliveries = 5
	if waited := deliverAfterStarving(t, b, opts, deliveries); waited < 600*time.Millisecond {
		t.Fatalf("the dispatcher waited %s for its connection, want more than the 600 ms lease", waited)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.attempts`); n != deliveries {
		t.Errorf("%d attempts for %d deliveries, want one each", n, deliveries)
	}
	if n := value(b.metrics.HandedBack); n != 0 {
		t.Errorf("%v jobs handed back: the wait before the claim was counted against their lease", n)
	}
}

// A claim whose commit stalls past the lease (a slow disk) leaves its
// jobs no time to send in. The worker hands each back uncounted, and a
// fresh claim sends it: no attempt is recorded for a request never made.
// The stall is real: a deferred trigger sleeps in the claim's commit,
// once.
func TestClaimCommittedTooLateHandsBackUncounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	stallOneClaimCommit(t, b, "true")
	ev := b.publish(t, "a.b", `{}`)
	b.start(t, func(o *Options) {
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
		o.ReapInterval = time.Hour // the hand-back, not the reaper, returns the delivery
	})
	dl := b.waitState(t, ev.ID, delivery.StateSucceeded)
	if n := b.count(t, `SELECT count(*) FROM public.stall_once`); n != 0 {
		t.Fatal("no commit stalled; the test proves nothing")
	}
	if as := b.attempts(t, dl.ID); len(as) != 1 || as[0].ErrorClass != "" {
		t.Errorf("attempts %+v, want the one success: the stalled claim's job was never sent", as)
	}
	if dl.Attempts != 1 {
		t.Errorf("delivery counts %d attempts, want 1", dl.Attempts)
	}
	if n := rc.hits.Load(); n != 1 {
		t.Errorf("receiver saw %d requests, want 1", n)
	}
	if n := value(b.metrics.HandedBack); n != 1 {
		t.Errorf("%v jobs handed back, want the stalled claim's one", n)
	}
}

// An endpoint whose own timeout is longer than the lease allows gets its
// whole timeout: its lease is longer. Sized for the default,
// the lease would cut this 800 ms answer off at 540 ms.
func TestLongEndpointTimeoutOutlastsTheDefaultLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, nil)
	rc.set(func(w http.ResponseWriter, _ *http.Request, _ int64) {
		select {
		case <-time.After(800 * time.Millisecond): // the slow receiver is the fault under test
		case <-rc.stop:
		}
	})
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.Timeout = endpoint.Duration(time.Second) })
	ev := b.publish(t, "a.b", `{}`)
	b.start(t, func(o *Options) {
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
	})
	dl := b.waitState(t, ev.ID, delivery.StateSucceeded)
	if as := b.attempts(t, dl.ID); len(as) != 1 {
		t.Errorf("attempts %+v, want the one success", as)
	}
}

// A breaker's probe handed back was never sent: its booking is undone,
// so the breaker probes again at once, not after the doubled wait a
// failed probe earns. A trigger logs every probe count the claims book.
func TestHandedBackProbeIsNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError) // opens the breaker
		}
	})
	ep := b.endpoint(t, rc.URL, nil)
	stallOneClaimCommit(t, b, `EXISTS (SELECT 1 FROM hookd.endpoint_health h
		WHERE h.endpoint_id = NEW.endpoint_id AND h.breaker_opened_at IS NOT NULL)`)
	if _, err := b.pool.Exec(t.Context(), `
		CREATE TABLE public.probes_booked (n int);
		CREATE FUNCTION public.log_probes() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.probes_booked VALUES (NEW.breaker_probes);
			RETURN NULL;
		END $$;
		CREATE TRIGGER log_probes AFTER UPDATE OF breaker_probes ON hookd.endpoint_health
			FOR EACH ROW EXECUTE FUNCTION public.log_probes();`); err != nil {
		t.Fatal(err)
	}
	ev := b.publish(t, "a.b", `{}`)
	b.start(t, func(o *Options) {
		o.Delivery.BreakerFailures = 1
		o.Delivery.BreakerProbeInterval = 200 * time.Millisecond
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
		o.ReapInterval = time.Hour // the hand-back, not the reaper, returns the probe
	})
	dl := b.waitState(t, ev.ID, delivery.StateSucceeded)
	// At least the stalled probe; on a loaded machine a later claim of
	// it may come too late too (600 ms leases), and is handed back alike.
	if n := value(b.metrics.HandedBack); n < 1 {
		t.Fatalf("%v jobs handed back, want the stalled probe", n)
	}
	if most := b.count(t, `SELECT coalesce(max(n), 0) FROM public.probes_booked`); most != 1 {
		t.Errorf("the breaker of %s counted up to %d probes, want 1: the probe handed back was never sent", ep.ID, most)
	}
	if as := b.attempts(t, dl.ID); len(as) != 2 || as[0].ErrorClass != "http_status" || as[1].ErrorClass != "" {
		t.Errorf("attempts %+v, want the failure and the probe's success", as)
	}
}

// A rate-limited endpoint with a timeout of its own longer than the
// lease is not handed back: its lease is longer, and leaves
// room for its slots.
func TestRateLimitedLongTimeoutEndpointDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) {
		p.RateLimit, p.MaxInFlight = 10, 10
		p.Timeout = endpoint.Duration(5 * time.Minute)
	})
	var ids []string // a backlog before the start keeps the lane saturated
	for range 20 {
		ids = append(ids, b.publish(t, "a.b", `{}`).ID)
	}
	b.start(t, func(o *Options) {
		o.Delivery.Timeout = 50 * time.Millisecond
		o.Delivery.Lease = 2 * time.Second
		o.ReapInterval = time.Hour
	})
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	if n := value(b.metrics.HandedBack); n != 0 {
		t.Errorf("%v jobs handed back with nothing stalled", n)
	}
}

// After one stalled claim, a saturated rate-limited endpoint catches up:
// the stalled claim's jobs are handed back without taking turns of the
// endpoint's pace. Had they taken them, every later request would wait
// behind turns never used, past its lease, and be handed back in turn,
// for ever (4 of 40 sent in 10 s, 85 hand-backs).
func TestOneStalledClaimDoesNotCascadeHandBacks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.RateLimit, p.MaxInFlight = 10, 10 })
	stallOneClaimCommit(t, b, "true")
	var ids []string
	for range 40 {
		ids = append(ids, b.publish(t, "a.b", `{}`).ID)
	}
	b.start(t, func(o *Options) {
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
		o.ReapInterval = time.Hour
	})
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	if n := b.count(t, `SELECT count(*) FROM public.stall_once`); n != 0 {
		t.Fatal("no commit stalled; the test proves nothing")
	}
	if n := value(b.metrics.HandedBack); n < 1 {
		t.Errorf("%v jobs handed back, want the stalled claim's", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.attempts`); n != len(ids) {
		t.Errorf("%d attempts for %d deliveries, want one each", n, len(ids))
	}
}

// TestHandBacksOfOneStallAreReleasedTogether: the jobs of a claim that
// committed too late are released in one transaction or a few, not one
// each: a stalled claim of hundreds of jobs would otherwise hand them back
// in as many transactions, against a database that is already slow.
func TestHandBacksOfOneStallAreReleasedTogether(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.MaxInFlight = 50 })
	stallOneClaimCommit(t, b, "true")
	// Each release of a handed-back job, with the transaction it ran in.
	if _, err := b.pool.Exec(t.Context(), `
		CREATE TABLE public.releases (xact bigint);
		CREATE FUNCTION public.log_release() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO public.releases VALUES (txid_current());
			RETURN NULL;
		END $$;
		CREATE TRIGGER log_release AFTER UPDATE ON hookd.queue FOR EACH ROW
			WHEN (OLD.state = 'in_flight' AND NEW.state = 'pending' AND NEW.attempts < OLD.attempts)
			EXECUTE FUNCTION public.log_release();`); err != nil {
		t.Fatal(err)
	}
	const n = 30
	var ids []string
	for range n {
		ids = append(ids, b.publish(t, "a.b", `{}`).ID)
	}
	b.start(t, func(o *Options) {
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
		o.Delivery.Workers, o.Delivery.ClaimBatch = 64, 64 // one claim, which takes them all
		o.ReapInterval = time.Hour                         // the hand-back, not the reaper, returns the deliveries
	})
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	if n := b.count(t, `SELECT count(*) FROM public.stall_once`); n != 0 {
		t.Fatal("no commit stalled; the test proves nothing")
	}
	released := b.count(t, `SELECT count(*) FROM public.releases`)
	if released != n {
		t.Fatalf("%d deliveries released, want the stalled claim's %d", released, n)
	}
	if v := value(b.metrics.HandedBack); v != n {
		t.Errorf("%v jobs counted handed back, want %d", v, n)
	}
	if xacts := b.count(t, `SELECT count(DISTINCT xact) FROM public.releases`); xacts > n/3 {
		t.Errorf("%d hand-backs released in %d transactions, want them together (at most %d)", n, xacts, n/3)
	}
	// A hand-back logs no attempt: each delivery has one, its success. On
	// a loaded machine a 100 ms request may time out and be retried; that
	// attempt is real, and no other kind may appear.
	if got := b.count(t, `SELECT count(DISTINCT delivery_id) FROM hookd.attempts WHERE error_class = ''`); got != n {
		t.Errorf("%d deliveries with a successful attempt, want %d", got, n)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.attempts WHERE error_class = ''`); got != n {
		t.Errorf("%d successful attempts for %d deliveries, want one each", got, n)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.attempts WHERE error_class NOT IN ('', 'timeout')`); got != 0 {
		t.Errorf("%d attempts failed otherwise than by a timeout", got)
	}
}

// stallOneClaimCommit makes the commit of the first claim for which when
// holds (SQL on NEW, a hookd.queue row going in flight) sleep 0.8 s,
// longer than the 600 ms leases of these tests: a deferred trigger, so
// the claiming statement has run and the lease is counting.
func stallOneClaimCommit(t *testing.T, b *bundle, when string) {
	t.Helper()
	if _, err := b.pool.Exec(t.Context(), `
		CREATE TABLE public.stall_once (at int);
		INSERT INTO public.stall_once VALUES (1);
		CREATE FUNCTION public.stall_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF `+when+` THEN
				DELETE FROM public.stall_once;
				IF FOUND THEN PERFORM pg_sleep(0.8); END IF;
			END IF;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER stall_commit AFTER UPDATE ON hookd.queue
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.state = 'in_flight')
			EXECUTE FUNCTION public.stall_commit();`); err != nil {
		t.Fatal(err)
	}
}

// deliverAfterStarving runs a dispatcher with opts on a pool of one
// connection, publishes n events while the test holds that connection for
// 700 ms, and waits until each was delivered. It returns how long the
// dispatcher waited for its connection meanwhile.
func deliverAfterStarving(t *testing.T, b *bundle, opts Options, n int) time.Duration {
	t.Helper()
	cfg := b.pool.Config().Copy()
	cfg.MaxConns = 1 // the notifier's connection is its own
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	d := New(pool, opts)
	if err := d.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })

	conn, err := pool.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitedBefore := pool.Stat().AcquireDuration()
	var ids []string
	for range n {
		ids = append(ids, b.publish(t, "a.b", `{}`).ID)
	}
	time.Sleep(700 * time.Millisecond) // the fault: the dispatcher's only connection is busy
	conn.Release()
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	return pool.Stat().AcquireDuration() - waitedBefore
}

// Stop waits for a hand-back release under way: when it returns, the
// jobs a stalled claim handed back are pending again and uncounted, not
// left in flight for the reaper to count an attempt they never made.
func TestStopWaitsForTheHandBackRelease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	stallOneClaimCommit(t, b, "true")
	// The release is slow: its update sleeps (an injected fault), so that
	// Stop comes while it runs.
	if _, err := b.pool.Exec(t.Context(), `
		CREATE FUNCTION public.slow_release() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF current_setting('test.slept', true) IS DISTINCT FROM 'yes' THEN
				PERFORM set_config('test.slept', 'yes', true);
				PERFORM pg_sleep(0.2);
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER slow_release BEFORE UPDATE ON hookd.queue FOR EACH ROW
			WHEN (OLD.state = 'in_flight' AND NEW.state = 'pending' AND NEW.attempts < OLD.attempts)
			EXECUTE FUNCTION public.slow_release();`); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for range n {
		b.publish(t, "a.b", `{}`)
	}
	d := b.start(t, func(o *Options) {
		o.Delivery.Timeout = 100 * time.Millisecond
		o.Delivery.Lease = 600 * time.Millisecond
		o.Delivery.Workers, o.Delivery.ClaimBatch = 64, 64
		o.ReapInterval = time.Hour
	})
	testkit.Eventually(t, "the release of the handed-back jobs to run", func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%released AS%'`) > 0
	})
	if err := d.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.queue WHERE state = 'in_flight'`); got != 0 {
		t.Fatalf("%d deliveries still in flight when Stop returned", got)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.queue WHERE state = 'pending' AND attempts = 0`); got != n {
		t.Fatalf("%d deliveries pending and uncounted when Stop returned, want %d", got, n)
	}
}
