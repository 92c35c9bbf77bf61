package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := newReceiver(t, nil)
	slow.set(slow.hang)
	fast := newReceiver(t, status(http.StatusOK))
	slowEP := b.endpoint(t, slow.URL, func(p *endpoint.CreateParams) {
		p.EventTypes = []string{"slow.*"}
		p.MaxInFlight = 2
		p.Timeout = endpoint.Duration(time.Minute)
	})
	b.endpoint(t, fast.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{"fast.*"} })
	// Slow work is due first, and there is more of it than the workers.
	for range 20 {
		b.publish(t, "slow.x", `{}`)
	}
	b.start(t, func(o *Options) {
		o.Delivery.Workers = 6
		o.Delivery.ClaimBatch = 10
		o.Delivery.ShutdownTimeout = 10 * time.Millisecond
	})
	const n = 40
	for range n {
		b.publish(t, "fast.x", `{}`)
	}
	testkit.Eventually(t, "every fast delivery to succeed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`) == n
	})
	if got := slow.maxIn.Load(); got > 2 {
		t.Errorf("the slow receiver had %d requests at once, more than its cap of 2", got)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.deliveries WHERE endpoint_id = $1 AND state = 'in_flight'`, slowEP.ID); got > 2 {
		t.Errorf("%d slow deliveries in flight, more than its cap of 2", got)
	}
	if got := b.count(t, `SELECT count(*) FROM hookd.attempts WHERE endpoint_id = $1`, slowEP.ID); got != 0 {
		t.Errorf("%d slow attempts recorded while the receiver hangs, want 0", got)
	}
}

func TestExpiredLeaseIsClaimedAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	ev := b.publish(t, "a.b", `{}`)
	// A worker that claims and dies without a word.
	c, err := delivery.Claim(context.Background(), b.pool, delivery.ClaimParams{
		Limit: 10, Lease: time.Millisecond, Worker: "dead-worker",
	})
	if err != nil || len(c.Jobs) != 1 {
		t.Fatalf("claim as the dying worker: %v, %v", c.Jobs, err)
	}
	d := b.start(t, func(o *Options) { o.ReapInterval = 10 * time.Millisecond })
	dl := b.waitState(t, ev.ID, delivery.StateSucceeded)
	as := b.attempts(t, dl.ID)
	if len(as) != 2 {
		t.Fatalf("%d attempts, want the interrupted one and the success", len(as))
	}
	if as[0].ErrorClass != delivery.ClassInterrupted || as[0].Worker != "dead-worker" || as[0].Attempt != 1 {
		t.Errorf("first attempt = %q by %q #%d, want interrupted by dead-worker #1", as[0].ErrorClass, as[0].Worker, as[0].Attempt)
	}
	if !as[1].Succeeded() || as[1].Worker != d.Worker() || as[1].Attempt != 2 {
		t.Errorf("second attempt = %+v, want a success by %s", as[1], d.Worker())
	}
}

func TestReapedDeadLetterIsReported(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.endpoint(t, "http://127.0.0.1:1/", nil)
	ev := b.publish(t, "a.b", `{}`)
	if _, err := delivery.Claim(context.Background(), b.pool, delivery.ClaimParams{
		Limit: 10, Lease: time.Millisecond, Worker: "dead-worker",
	}); err != nil {
		t.Fatal(err)
	}
	reported := make(chan delivery.Result, 1)
	b.start(t, func(o *Options) {
		o.Delivery.RetrySchedule = []time.Duration{0} // the interrupted attempt spends the budget
		o.ReapInterval = 10 * time.Millisecond
		o.OnOutcome = func(_ context.Context, applied []delivery.Result) {
			for _, r := range applied {
				if r.Next == delivery.StateDead {
					reported <- r
				}
			}
		}
	})
	b.waitState(t, ev.ID, delivery.StateDead)
	r := <-reported
	if r.EventID != ev.ID || r.ErrorClass != delivery.ClassInterrupted {
		t.Errorf("reported %+v, want the reaped dead letter", r)
	}
}

func TestStopReleasesUnfinished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, nil)
	rc.set(rc.hang)
	ep := b.endpoint(t, rc.URL, nil)
	d := b.start(t, func(o *Options) { o.Delivery.ShutdownTimeout = 20 * time.Millisecond })
	for range 3 {
		b.publish(t, "a.b", `{}`)
	}
	testkit.Eventually(t, "three requests in progress", func() bool { return rc.inflight.Load() == 3 })
	d.Stop(context.Background())
	d.Stop(context.Background()) // safe twice
	// The requests were sent, so the endpoint may have them: each attempt
	// is logged and counted, and the delivery is due again at once.
	n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state IN ('pending', 'retrying')
		AND attempts = 1 AND leased_by IS NULL AND next_attempt_at <= now()`, ep.ID)
	if n != 3 {
		t.Errorf("%d deliveries due again at once with their attempt counted after Stop, want 3", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.attempts WHERE error_class = 'interrupted'
		AND error LIKE 'cut short by shutdown after the request was sent%'`); n != 3 {
		t.Errorf("%d attempts logged as cut short by shutdown, want 3", n)
	}
	// They say nothing of the endpoint: no failure streak, no breaker.
	if n := b.count(t, `SELECT coalesce(max(consecutive_failures), 0) FROM hookd.endpoint_health WHERE endpoint_id = $1`, ep.ID); n != 0 {
		t.Errorf("the endpoint's failure streak is %d after a shutdown cut its requests short, want 0", n)
	}
}

// A request Stop cuts short before it is sent (the receiver accepts the
// connection but never reads it) is released uncounted: nothing reached
// the endpoint.
func TestStopReleasesUnsentUncounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	// Accepted by the kernel's backlog, never read: a body bigger than
	// the socket buffers cannot be written whole.
	ep := b.endpoint(t, "http://"+ln.Addr().String()+"/hook", nil)
	d := b.start(t, func(o *Options) { o.Delivery.ShutdownTimeout = 20 * time.Millisecond })
	big := `{"pad":"` + strings.Repeat("x", 16<<20) + `"}`
	pub := outbox.NewPublisher(b.pool, outbox.Options{MaxPayloadBytes: 32 << 20})
	if _, err := pub.Publish(context.Background(), outbox.Event{Type: "a.b", Data: []byte(big)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the delivery to be in flight", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.queue WHERE state = 'in_flight'`) == 1
	})
	d.Stop(context.Background())
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'pending' AND attempts = 0`, ep.ID); n != 1 {
		t.Errorf("%d deliveries pending uncounted after Stop, want 1", n)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.attempts`); n != 0 {
		t.Errorf("%d attempts recorded for a request never sent, want 0", n)
	}
}

// Stop lets a cycle already committing finish, instead of cutting it
// short: a COMMIT the client gives up on may still commit on the server
// (its cancel request comes too late to stop it), and the claim it made
// would be lost to the dispatcher, its delivery left in flight until the
// lease expires. A deferred trigger makes the claim's COMMIT take a while
// and shrugs off a cancel request, as a COMMIT past its commit record
// does, so that Stop comes during it.
func TestStopDuringACommitLeavesNothingInFlight(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, `
		CREATE FUNCTION hookd.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			BEGIN
				PERFORM pg_sleep(0.5);
			EXCEPTION WHEN query_canceled THEN
				PERFORM pg_sleep(0.2);
			END;
			RETURN NULL;
		END $$;
		CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON hookd.queue
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.state = 'in_flight')
		EXECUTE FUNCTION hookd.slow_commit()`); err != nil {
		t.Fatal(err)
	}
	d := b.start(t, nil)
	ev := b.publish(t, "a.b", `{}`)
	committing := func() bool {
		return b.count(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event = 'PgSleep'`) > 0
	}
	testkit.Eventually(t, "the claim to be committing", committing)
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Had Stop cut the cycle short, its COMMIT would go on without it.
	testkit.Eventually(t, "the claim's commit to be over", func() bool { return !committing() })
	if d := b.only(t, ev.ID); d.State == delivery.StateInFlight {
		t.Errorf("delivery %d left in flight by Stop (leased by %s)", d.ID, d.LeasedBy)
	}
}

func TestTwoDispatchersShareWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
	})
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.MaxInFlight = 16 })
	one := func(o *Options) { o.Delivery.ClaimBatch = 10; o.Worker = "one" }
	two := func(o *Options) { o.Delivery.ClaimBatch = 10; o.Worker = "two" }
	b.start(t, one)
	b.start(t, two)
	const n = 300
	for range n {
		b.publish(t, "a.b", `{}`)
	}
	testkit.Eventually(t, "every delivery to succeed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`) == n
	})
	if got := b.count(t, `SELECT count(*) FROM hookd.attempts`); got != n {
		t.Errorf("%d attempts for %d deliveries, want exactly one each", got, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Errorf("receiver saw %d distinct events, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s received %d times", id, c)
		}
	}
	t.Logf("attempts by worker one: %d", b.count(t, `SELECT count(*) FROM hookd.attempts WHERE worker = 'one'`))
}

func TestStartStop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	New(b.pool, Options{}).Stop(context.Background()) // before Start: nothing to do

	d := New(b.pool, Options{})
	if d.opts.Delivery.Workers != 512 || len(d.opts.Delivery.RetrySchedule) != 10 || d.opts.Delivery.Lease != 60*time.Second ||
		d.opts.ReapInterval != maxReapInterval || d.Worker() == "" {
		t.Errorf("defaults not applied: %+v", d.opts)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	d.Stop(context.Background())
	d.Stop(context.Background())

	bad := New(b.pool, Options{Delivery: config.Delivery{Timeout: 5 * time.Second, Lease: time.Second}})
	if err := bad.Start(context.Background()); err == nil {
		t.Error("a lease shorter than the timeout was accepted")
	}
	bad.Stop(context.Background())
}

func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	// No polling to speak of: only notifications can bring work in time.
	b.start(t, func(o *Options) { o.Delivery.PollInterval = time.Hour })
	b.waitState(t, b.publish(t, "a.b", `{}`).ID, delivery.StateSucceeded)

	listener := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'hookd listener'`
	testkit.Eventually(t, "the listener connection", func() bool { return b.count(t, listener) == 1 })
	if n := b.count(t, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'hookd listener'`); n != 1 {
		t.Fatalf("terminated %d listener connections, want 1", n)
	}
	testkit.Eventually(t, "the listener to reconnect", func() bool { return b.count(t, listener) == 1 })
	b.waitState(t, b.publish(t, "a.b", `{}`).ID, delivery.StateSucceeded)
}

func TestResultsSurviveDatabaseErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	b.endpoint(t, rc.URL, nil)
	// Every attempt insert fails until the constraint is dropped.
	if _, err := b.pool.Exec(context.Background(),
		`ALTER TABLE hookd.attempts ADD CONSTRAINT refuse CHECK (attempt < 0) NOT VALID`); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	b.start(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ev := b.publish(t, "a.b", `{}`)
	testkit.Eventually(t, "a failed attempt to record the result", func() bool {
		return strings.Contains(logs.String(), "a delivery cycle failed; retrying with every result kept")
	})
	if d := b.only(t, ev.ID); d.State != delivery.StateInFlight {
		t.Fatalf("delivery is %s while its result cannot be recorded, want in_flight", d.State)
	}
	if _, err := b.pool.Exec(context.Background(), `ALTER TABLE hookd.attempts DROP CONSTRAINT refuse`); err != nil {
		t.Fatal(err)
	}
	d := b.waitState(t, ev.ID, delivery.StateSucceeded)
	if n := len(b.attempts(t, d.ID)); n != 1 || rc.hits.Load() != 1 {
		t.Errorf("%d attempts and %d requests, want the one result kept and recorded", n, rc.hits.Load())
	}
}

// The caller bounds a stop: with a request hanging and a long shutdown
// grace, Stop returns when its context ends, and the stop it began still
// returns the delivery to the queue afterwards (its attempt counted: the
// request was sent).
func TestStopIsBoundedByItsContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, nil)
	rc.set(rc.hang)
	ep := b.endpoint(t, rc.URL, nil)
	d := b.start(t, func(o *Options) { o.Delivery.ShutdownTimeout = 2 * time.Second })
	b.publish(t, "a.b", `{}`)
	testkit.Eventually(t, "the request in progress", func() bool { return rc.inflight.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a short context = %v, want its deadline", err)
	}
	if err := d.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state IN ('pending', 'retrying')
		AND attempts = 1 AND leased_by IS NULL`, ep.ID); n != 1 {
		t.Errorf("%d deliveries back in the queue after the stop finished, want 1", n)
	}
}
