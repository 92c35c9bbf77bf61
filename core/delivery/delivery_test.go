package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
	"github.com/hookd/hookd/core/validate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type bundle struct {
	ctx  context.Context
	pool *pgxpool.Pool
	ep   *endpoint.Endpoint
	pub  *outbox.Publisher
}

func setup(t *testing.T, events int) *bundle {
	t.Helper()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	ep, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://receiver.example/"})
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{ctx: ctx, pool: pool, ep: ep, pub: outbox.NewPublisher(pool, outbox.Options{})}
	for i := range events {
		if _, err := b.pub.Publish(ctx, outbox.Event{ID: fmt.Sprintf("evt_%03d", i), Type: "order.created"}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// policy is the state machine's treatment in these tests: no default
// cap unless a test sets one, the breaker off.
var policy = delivery.Policy{}

func (b *bundle) claim(t *testing.T, worker string, limit int, lease time.Duration) []delivery.Job {
	t.Helper()
	return b.claimWith(t, delivery.ClaimParams{Limit: limit, Lease: lease, Worker: worker})
}

func (b *bundle) claimWith(t *testing.T, p delivery.ClaimParams) []delivery.Job {
	t.Helper()
	c, err := delivery.Claim(b.ctx, b.pool, p)
	if err != nil {
		t.Fatal(err)
	}
	return c.Jobs
}

func (b *bundle) complete(t *testing.T, rs ...delivery.Result) []delivery.Result {
	t.Helper()
	applied, err := delivery.Complete(b.ctx, b.pool, policy, rs)
	if err != nil {
		t.Fatal(err)
	}
	return applied
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func result(j delivery.Job, worker string, status int, next delivery.State) delivery.Result {
	r := delivery.ResultOf(j, worker)
	r.StartedAt, r.Duration = time.Now(), 12*time.Millisecond
	r.RequestHeaders, r.ResponseStatus = http.Header{"X-Webhook-Id": {j.EventID}}, status
	r.ResponseHeaders, r.ResponseBody, r.Next = http.Header{"Content-Type": {"text/plain"}}, "ok\x00\xff", next
	if status >= 300 {
		r.ErrorClass, r.Error = delivery.ClassHTTPStatus, fmt.Sprintf("HTTP %d", status)
	}
	return r
}

func TestConcurrentClaimersNeverShareADelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, 200)
	deadline := time.Now().Add(testkit.Timeout)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		worker := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for {
				c, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 7, Lease: time.Minute, Worker: worker})
				if err != nil {
					t.Error(err)
					return
				}
				jobs := c.Jobs
				if len(jobs) == 0 {
					// Another worker may hold the lane (SKIP LOCKED): stop
					// only once nothing is left to claim.
					if b.count(t, `SELECT count(*) FROM hookd.queue WHERE state = 'pending'`) == 0 || time.Now().After(deadline) {
						return
					}
					continue
				}
				mu.Lock()
				for _, j := range jobs {
					if other, dup := seen[j.DeliveryID]; dup {
						t.Errorf("delivery %d claimed by %s and %s", j.DeliveryID, other, worker)
					}
					seen[j.DeliveryID] = worker
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Fatalf("claimed %d deliveries, want 200", len(seen))
	}
}

func TestClaimCarriesEventAndEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	jobs := b.claim(t, "w", 10, time.Minute)
	if len(jobs) != 1 {
		t.Fatalf("jobs = %d", len(jobs))
	}
	j := jobs[0]
	if j.EventID != "evt_000" || j.EventType != "order.created" || string(j.EventData) != "{}" || j.URL != b.ep.URL ||
		j.Secret != b.ep.Secret || j.Attempt != 1 || !j.EndpointEnabled || j.LeaseExpiresAt.Before(time.Now()) {
		t.Fatalf("job = %+v", j)
	}
	if again := b.claim(t, "w2", 10, time.Minute); len(again) != 0 {
		t.Fatalf("a leased delivery was claimed again: %+v", again)
	}
}

// TestClaimReadsEventsAcrossPartitions: one claim reads events from two
// partitions (the range it bounds the read by spans both), and tells a
// delivery whose event is gone from the others.
func TestClaimReadsEventsAcrossPartitions(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	for i, data := range []string{`{"n":0}`, `{"n":1}`, `{"n":2}`} {
		if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: fmt.Sprintf("evt_%d", i), Type: fmt.Sprintf("order.t%d", i), Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	// evt_0 moves to the next day's partition, evt_2 is gone.
	for _, q := range []string{
		`UPDATE hookd.events SET stored_at = stored_at + interval '1 day' WHERE id = 'evt_0'`,
		`UPDATE hookd.queue SET event_stored_at = event_stored_at + interval '1 day' WHERE event_id = 'evt_0'`,
		`DELETE FROM hookd.events WHERE id = 'evt_2'`,
	} {
		if _, err := b.pool.Exec(b.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if n := b.count(t, `SELECT count(DISTINCT tableoid) FROM hookd.events`); n != 2 {
		t.Fatalf("events in %d partitions, want 2", n)
	}
	c, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, j := range c.Jobs {
		got[j.EventID] = j.EventType + " " + string(j.EventData)
	}
	if len(c.Jobs) != 2 || got["evt_0"] != `order.t0 {"n":0}` || got["evt_1"] != `order.t1 {"n":1}` {
		t.Fatalf("jobs with their events: %v", got)
	}
	if len(c.Missing) != 1 || c.Missing[0].EventID != "evt_2" || c.Missing[0].EventType != "" {
		t.Fatalf("jobs without their event: %+v", c.Missing)
	}
}

func TestCompleteRecordsAttemptsStateAndHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	jobs := b.claim(t, "w", 10, time.Minute)
	results := []delivery.Result{
		result(jobs[0], "w", 200, delivery.StateSucceeded),
		result(jobs[1], "w", 500, delivery.StateRetrying),
		result(jobs[2], "w", 500, delivery.StateDead),
	}
	results[1].NextAttemptAt = time.Now().Add(time.Hour)
	applied, err := delivery.Complete(b.ctx, b.pool, policy, results)
	if err != nil || len(applied) != 3 {
		t.Fatalf("applied %d, %v", len(applied), err)
	}
	states := map[int64]delivery.State{}
	for _, j := range jobs {
		d, err := delivery.Get(b.ctx, b.pool, j.DeliveryID)
		if err != nil {
			t.Fatal(err)
		}
		states[j.DeliveryID] = d.State
		atts, err := delivery.Attempts(b.ctx, b.pool, j.DeliveryID)
		if err != nil || len(atts) != 1 || atts[0].RequestHeaders.Get("X-Webhook-Id") != j.EventID || atts[0].ResponseBody != "ok\uFFFD\uFFFD" {
			t.Fatalf("attempts of %d = %+v, %v", j.DeliveryID, atts, err)
		}
	}
	if states[jobs[0].DeliveryID] != delivery.StateSucceeded || states[jobs[1].DeliveryID] != delivery.StateRetrying || states[jobs[2].DeliveryID] != delivery.StateDead {
		t.Fatalf("states = %v", states)
	}
	h, err := delivery.HealthOf(b.ctx, b.pool, []string{b.ep.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	eh := h[b.ep.ID]
	if eh.Last5m.Attempts != 3 || eh.Last5m.Successes != 1 || eh.Dead != 1 || eh.Pending != 0 || eh.Retrying != 1 || eh.InFlight != 0 || eh.Last5m.P95 <= 0 {
		t.Fatalf("health = %+v", eh)
	}
	// A late result from a worker that lost its lease is logged but changes nothing.
	stale := result(jobs[1], "w", 200, delivery.StateSucceeded)
	applied, err = delivery.Complete(b.ctx, b.pool, policy, []delivery.Result{stale})
	if err != nil || len(applied) != 0 {
		t.Fatalf("stale result applied: %d, %v", len(applied), err)
	}
	if d, _ := delivery.Get(b.ctx, b.pool, jobs[1].DeliveryID); d.State != delivery.StateRetrying {
		t.Fatalf("stale result changed the state to %s", d.State)
	}
}

func TestReapExpiredReclaimsAndLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	jobs := b.claim(t, "dead-worker", 10, time.Millisecond)
	if len(jobs) != 2 {
		t.Fatal("want 2 jobs")
	}
	var reaped int
	var dead []delivery.Delivery
	deadline := time.Now().Add(10 * time.Second)
	for reaped == 0 && time.Now().Before(deadline) {
		var err error
		if reaped, dead, err = reap(b, 5); err != nil {
			t.Fatal(err)
		}
	}
	if reaped != 2 || len(dead) != 0 {
		t.Fatalf("reaped %d, dead %d", reaped, len(dead))
	}
	again := b.claim(t, "w2", 10, time.Minute)
	if len(again) != 2 || again[0].Attempt != 2 {
		t.Fatalf("reclaimed = %+v", again)
	}
	atts, _ := delivery.Attempts(b.ctx, b.pool, again[0].DeliveryID)
	if len(atts) != 1 || atts[0].ErrorClass != delivery.ClassInterrupted || atts[0].Worker != "dead-worker" {
		t.Fatalf("attempt log = %+v", atts)
	}
	// With the budget spent, an expired lease kills the delivery.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.queue SET lease_expires_at = now() - interval '1s'`); err != nil {
		t.Fatal(err)
	}
	reaped, dead, err := reap(b, 2)
	if err != nil || reaped != 2 || len(dead) != 2 {
		t.Fatalf("reaped %d dead %d: %v", reaped, len(dead), err)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE state = 'in_flight'`); n != 0 {
		t.Errorf("%d deliveries in flight after every lease was reaped", n)
	}
}

func reap(b *bundle, maxAttempts int) (n int, dead []delivery.Delivery, err error) {
	return reapGoneAfter(b, maxAttempts, 0)
}

// reapGoneAfter is reap taking workers whose lock was free for goneAfter
// for gone.
func reapGoneAfter(b *bundle, maxAttempts int, goneAfter time.Duration) (n int, dead []delivery.Delivery, err error) {
	err = pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
		n, dead, err = delivery.ReapExpired(b.ctx, tx, maxAttempts, 100, goneAfter)
		return err
	})
	return n, dead, err
}

func TestReleaseUncountsTheClaim(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	jobs := b.claim(t, "w", 1, time.Minute)
	mine := jobs[0].Leased()
	if n, err := delivery.Release(b.ctx, b.pool, "someone-else", []delivery.Leased{mine}); err != nil || n != 0 {
		t.Fatalf("released %d, %v", n, err)
	}
	if d, _ := delivery.Get(b.ctx, b.pool, jobs[0].DeliveryID); d.State != delivery.StateInFlight {
		t.Fatal("another worker released my claim")
	}
	earlier := mine
	earlier.Attempt--
	if n, err := delivery.Release(b.ctx, b.pool, "w", []delivery.Leased{earlier}); err != nil || n != 0 {
		t.Fatalf("a claim of an earlier attempt released %d, %v", n, err)
	}
	if n, err := delivery.Release(b.ctx, b.pool, "w", []delivery.Leased{mine}); err != nil || n != 1 {
		t.Fatalf("released %d, %v", n, err)
	}
	d, _ := delivery.Get(b.ctx, b.pool, jobs[0].DeliveryID)
	if d.State != delivery.StatePending || d.Attempts != 0 || d.LeasedBy != "" {
		t.Fatalf("released = %+v", d)
	}
}

func TestListPagesNewestFirstWithFilters(t *testing.T) {
	t.Parallel()
	b := setup(t, 25)
	var got []int64
	var before int64
	for {
		page, err := delivery.List(b.ctx, b.pool, delivery.ListParams{Before: before, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Deliveries {
			got = append(got, d.ID)
		}
		if page.Next == 0 {
			break
		}
		before = page.Next
	}
	if len(got) != 25 {
		t.Fatalf("paged %d deliveries, want 25", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i] >= got[i-1] {
			t.Fatalf("not newest first: %v", got)
		}
	}
	page, err := delivery.List(b.ctx, b.pool, delivery.ListParams{Filter: delivery.Filter{EventType: "order.*", EventID: "evt_004", EndpointID: b.ep.ID}})
	if err != nil || len(page.Deliveries) != 1 {
		t.Fatalf("filtered = %+v, %v", page, err)
	}
	if _, err := delivery.List(b.ctx, b.pool, delivery.ListParams{Filter: delivery.Filter{State: "lost"}}); !validate.Is(err) {
		t.Fatalf("bad state: %v", err)
	}
}

func TestReplayKeepsHistory(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	jobs := b.claim(t, "w", 10, time.Minute)
	var rs []delivery.Result
	for _, j := range jobs {
		rs = append(rs, result(j, "w", 500, delivery.StateDead))
	}
	b.complete(t, rs...)
	n, err := delivery.ReplayMatching(b.ctx, b.pool, delivery.ReplayParams{DryRun: true})
	if err != nil || n != 3 {
		t.Fatalf("dry run matched %d, %v", n, err)
	}
	if c, _ := delivery.List(b.ctx, b.pool, delivery.ListParams{Filter: delivery.Filter{State: delivery.StateDead}}); len(c.Deliveries) != 3 {
		t.Fatal("dry run changed something")
	}
	d, err := delivery.Replay(b.ctx, b.pool, jobs[0].DeliveryID)
	if err != nil || d.State != delivery.StatePending || d.Attempts != 0 || d.Replays != 1 {
		t.Fatalf("replay = %+v, %v", d, err)
	}
	if _, err := delivery.Replay(b.ctx, b.pool, 999999); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("replay unknown: %v", err)
	}
	n, err = delivery.ReplayMatching(b.ctx, b.pool, delivery.ReplayParams{Filter: delivery.Filter{EventID: "evt_001"}})
	if err != nil || n != 1 {
		t.Fatalf("replay matching evt_001 = %d, %v", n, err)
	}
	n, err = delivery.ReplayIDs(b.ctx, b.pool, []int64{jobs[2].DeliveryID, 424242})
	if err != nil || n != 1 {
		t.Fatalf("replay ids = %d, %v", n, err)
	}
	again := b.claim(t, "w", 10, time.Minute)
	if len(again) != 3 || again[0].Attempt != 1 {
		t.Fatalf("re-queued jobs = %+v", again)
	}
	if _, err := delivery.Replay(b.ctx, b.pool, again[0].DeliveryID); !validate.Is(err) {
		t.Fatalf("replay in flight: %v, want a clear refusal", err)
	}
	atts, _ := delivery.Attempts(b.ctx, b.pool, jobs[0].DeliveryID)
	if len(atts) != 1 {
		t.Fatalf("earlier attempts lost: %+v", atts)
	}
}

func TestClaimRespectsPerEndpointLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, 30)
	capped, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://capped.example/", MaxInFlight: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: fmt.Sprintf("late_%d", i), Type: "order.created"}); err != nil {
			t.Fatal(err)
		}
	}
	per := func(jobs []delivery.Job) map[string]int {
		m := map[string]int{}
		for _, j := range jobs {
			m[j.EndpointID]++
		}
		return m
	}
	p := delivery.ClaimParams{Policy: delivery.Policy{DefaultMaxInFlight: 5}, Limit: 100, Lease: time.Minute, Worker: "w1"}
	// b.ep has 40 due deliveries and no cap of its own: the default applies.
	// capped has its own max_in_flight of 2.
	if got := per(b.claimWith(t, p)); got[b.ep.ID] != 5 || got[capped.ID] != 2 {
		t.Fatalf("claimed per endpoint %v, want 5 and 2", got)
	}
	// The caps hold for every claimer: another worker gets nothing more
	// until attempts finish.
	p.Worker = "w2"
	if got := b.claimWith(t, p); len(got) != 0 {
		t.Fatalf("a second claimer got %v past the caps", per(got))
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'in_flight'`, capped.ID); n != 2 {
		t.Fatalf("the capped endpoint has %d in flight, want 2", n)
	}
}

// One endpoint's backlog of older due work does not hide another
// endpoint's due deliveries from a claim, and capacity goes round the
// endpoints with due work.
func TestClaimIsFairAcrossEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	busy := b.ep
	quiet, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://quiet.example/", EventTypes: []string{"user.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := endpoint.Update(b.ctx, b.pool, busy.ID, endpoint.UpdateParams{EventTypes: &[]string{"order.*"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: fmt.Sprintf("order_%d", i), Type: "order.created"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: fmt.Sprintf("user_%d", i), Type: "user.created"}); err != nil {
			t.Fatal(err)
		}
	}
	// A claim of 4 shares itself between the two endpoints.
	jobs := b.claim(t, "w", 4, time.Minute)
	per := map[string]int{}
	for _, j := range jobs {
		per[j.EndpointID]++
	}
	if per[busy.ID] != 2 || per[quiet.ID] != 2 {
		t.Fatalf("claimed %v; want 2 of the backlog and 2 of the quiet endpoint", per)
	}
	// The next claim of one goes to the endpoint served longest ago.
	jobs = b.claim(t, "w", 1, time.Minute)
	if len(jobs) != 1 {
		t.Fatalf("claimed %d, want 1", len(jobs))
	}
	first := jobs[0].EndpointID
	jobs = b.claim(t, "w", 1, time.Minute)
	if len(jobs) != 1 || jobs[0].EndpointID == first {
		t.Fatalf("two claims of one both went to %s; want round robin", first)
	}
}

func TestResumeHeldOnlyForEnabledEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, 2)
	off, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://off.example/", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: "late", Type: "order.created"}); err != nil {
		t.Fatal(err)
	}
	// The race: a delivery of an enabled endpoint left held.
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.queue SET state = 'held' WHERE endpoint_id = $1`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, event_type, state)
		SELECT id, stored_at, $1, 'order.created', 'held' FROM hookd.events WHERE id = 'late'`, off.ID); err != nil {
		t.Fatal(err)
	}
	n, err := delivery.ResumeHeld(b.ctx, b.pool)
	if err != nil || n != 3 {
		t.Fatalf("resumed %d, %v; want the enabled endpoint's 3", n, err)
	}
	if held := b.count(t, `SELECT count(*) FROM hookd.deliveries WHERE state = 'held'`); held != 1 {
		t.Fatalf("held = %d; want the disabled endpoint's one", held)
	}
	if jobs := b.claim(t, "w", 10, time.Minute); len(jobs) != 3 {
		t.Fatalf("claimed %d resumed deliveries, want 3", len(jobs))
	}
}

// Two batches for one busy, healthy endpoint are recorded at once (the
// dispatcher overlaps its cycles): the second does not wait for the
// first's commit on the endpoint's health or minute rows, and the minute
// counts add up.
func TestConcurrentBatchesToOneEndpointDoNotQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	jobs := b.claim(t, "w", 10, time.Minute)
	if len(jobs) != 5 {
		t.Fatalf("claimed %d", len(jobs))
	}
	at := time.Now()
	ok := func(j delivery.Job) delivery.Result {
		r := result(j, "w", 200, delivery.StateSucceeded)
		r.StartedAt = at
		return r
	}
	b.complete(t, ok(jobs[0])) // the endpoint is healthy, its success recorded

	first, err := b.pool.Begin(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(b.ctx)
	if applied, _, err := delivery.CompleteTx(b.ctx, first, policy, []delivery.Result{ok(jobs[1]), ok(jobs[2])}); err != nil || len(applied) != 2 {
		t.Fatalf("first batch: %d applied, %v", len(applied), err)
	}
	// The deadline only turns a wait into a failure.
	wctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	applied, err := delivery.Complete(wctx, b.pool, policy, []delivery.Result{ok(jobs[3]), ok(jobs[4])})
	if err != nil || len(applied) != 2 {
		t.Fatalf("the second batch waited for the first: %d applied, %v", len(applied), err)
	}
	if err := first.Commit(b.ctx); err != nil {
		t.Fatal(err)
	}
	h, err := delivery.HealthOf(b.ctx, b.pool, []string{b.ep.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if eh := h[b.ep.ID]; eh.Last5m.Attempts != 5 || eh.Last5m.Successes != 5 || eh.ConsecutiveFailures != 0 {
		t.Fatalf("health = %+v, want 5 attempts, 5 successes", eh)
	}
}
