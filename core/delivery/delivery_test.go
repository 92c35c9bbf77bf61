package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
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

func (b *bundle) claim(t *testing.T, worker string, limit int, lease time.Duration) []delivery.Job {
	t.Helper()
	jobs, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: limit, Lease: lease, Worker: worker})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func result(j delivery.Job, worker string, status int, next delivery.State) delivery.Result {
	r := delivery.Result{
		DeliveryID: j.DeliveryID, EndpointID: j.EndpointID, EventID: j.EventID, Attempt: j.Attempt, Worker: worker,
		StartedAt: time.Now(), Duration: 12 * time.Millisecond, RequestURL: j.URL,
		RequestHeaders: http.Header{"X-Webhook-Id": {j.EventID}}, ResponseStatus: status,
		ResponseHeaders: http.Header{"Content-Type": {"text/plain"}}, ResponseBody: "ok\x00\xff", Next: next,
	}
	if status >= 300 {
		r.ErrorClass, r.Error = delivery.ClassHTTPStatus, fmt.Sprintf("HTTP %d", status)
	}
	return r
}

func TestConcurrentClaimersNeverShareADelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, 200)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		worker := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for {
				jobs, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 7, Lease: time.Minute, Worker: worker})
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
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

func TestCompleteRecordsAttemptsStateAndHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	jobs := b.claim(t, "w", 10, time.Minute)
	results := []delivery.Result{
		result(jobs[0], "w", 200, delivery.StateSucceeded),
		result(jobs[1], "w", 500, delivery.StatePending),
		result(jobs[2], "w", 500, delivery.StateDead),
	}
	results[1].NextAttemptAt = time.Now().Add(time.Hour)
	applied, err := delivery.Complete(b.ctx, b.pool, results)
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
	if states[jobs[0].DeliveryID] != delivery.StateSucceeded || states[jobs[1].DeliveryID] != delivery.StatePending || states[jobs[2].DeliveryID] != delivery.StateDead {
		t.Fatalf("states = %v", states)
	}
	h, err := delivery.HealthOf(b.ctx, b.pool, []string{b.ep.ID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	eh := h[b.ep.ID]
	if eh.Last5m.Attempts != 3 || eh.Last5m.Successes != 1 || eh.Dead != 1 || eh.Pending != 1 || eh.Retrying != 1 || eh.Last5m.P95 <= 0 {
		t.Fatalf("health = %+v", eh)
	}
	// A late result from a worker that lost its lease is logged but changes nothing.
	stale := result(jobs[1], "w", 200, delivery.StateSucceeded)
	applied, err = delivery.Complete(b.ctx, b.pool, []delivery.Result{stale})
	if err != nil || len(applied) != 0 {
		t.Fatalf("stale result applied: %d, %v", len(applied), err)
	}
	if d, _ := delivery.Get(b.ctx, b.pool, jobs[1].DeliveryID); d.State != delivery.StatePending {
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
		if reaped, dead, err = delivery.ReapExpired(b.ctx, b.pool, 5, 100); err != nil {
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
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.deliveries SET lease_expires_at = now() - interval '1s'`); err != nil {
		t.Fatal(err)
	}
	reaped, dead, err := delivery.ReapExpired(b.ctx, b.pool, 2, 100)
	if err != nil || reaped != 2 || len(dead) != 2 {
		t.Fatalf("reaped %d dead %d: %v", reaped, len(dead), err)
	}
}

func TestReleaseUncountsTheClaim(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	jobs := b.claim(t, "w", 1, time.Minute)
	if err := delivery.Release(b.ctx, b.pool, "someone-else", []int64{jobs[0].DeliveryID}); err != nil {
		t.Fatal(err)
	}
	if d, _ := delivery.Get(b.ctx, b.pool, jobs[0].DeliveryID); d.State != delivery.StateInFlight {
		t.Fatal("another worker released my claim")
	}
	if err := delivery.Release(b.ctx, b.pool, "w", []int64{jobs[0].DeliveryID}); err != nil {
		t.Fatal(err)
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
	if _, err := delivery.Complete(b.ctx, b.pool, rs); err != nil {
		t.Fatal(err)
	}
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
	// b.ep has 40 due deliveries and no cap of its own: the default applies.
	// capped has its own max_in_flight of 2.
	jobs, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 100, Lease: time.Minute, Worker: "w", DefaultEndpointLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if got := per(jobs); got[b.ep.ID] != 5 || got[capped.ID] != 2 {
		t.Fatalf("claimed per endpoint %v, want 5 and 2", got)
	}
	// The claimer's own remaining slots override the endpoint's cap.
	jobs, err = delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 100, Lease: time.Minute, Worker: "w",
		DefaultEndpointLimit: 5, EndpointRemaining: map[string]int{b.ep.ID: 1, capped.ID: 0}})
	if err != nil {
		t.Fatal(err)
	}
	if got := per(jobs); got[b.ep.ID] != 1 || got[capped.ID] != 0 {
		t.Fatalf("claimed per endpoint %v, want 1 and 0", got)
	}
}

// One endpoint's backlog of older due work does not hide another
// endpoint's due deliveries from a claim.
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
	jobs, err := delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w",
		DefaultEndpointLimit: 8, EndpointRemaining: map[string]int{busy.ID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, j := range jobs {
		per[j.EndpointID]++
	}
	if per[busy.ID] != 1 || per[quiet.ID] != 3 {
		t.Fatalf("claimed %v; want 1 of the backlog and all 3 of the quiet endpoint", per)
	}
	jobs, err = delivery.Claim(b.ctx, b.pool, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w",
		ExcludeEndpoints: []string{busy.ID}})
	if err != nil || len(jobs) != 0 {
		t.Fatalf("with the busy endpoint excluded and the quiet one drained: %d jobs, %v", len(jobs), err)
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
	if _, err := b.pool.Exec(b.ctx, `UPDATE hookd.deliveries SET state = 'held' WHERE endpoint_id = $1`, b.ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(b.ctx, `INSERT INTO hookd.deliveries (event_id, endpoint_id, event_type, state)
		VALUES ('late', $1, 'order.created', 'held')`, off.ID); err != nil {
		t.Fatal(err)
	}
	n, err := delivery.ResumeHeld(b.ctx, b.pool)
	if err != nil || n != 3 {
		t.Fatalf("resumed %d, %v; want the enabled endpoint's 3", n, err)
	}
	var held int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM hookd.deliveries WHERE state = 'held'`).Scan(&held); err != nil || held != 1 {
		t.Fatalf("held = %d, %v; want the disabled endpoint's one", held, err)
	}
}
