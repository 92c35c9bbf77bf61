package dispatch

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// An endpoint's backlog drains at the speed of its receiver and its cap,
// not of the poll interval: a freed slot is claimed again at once. With
// an hour between polls and no notification for an endpoint that is busy
// already, only that can drain it.
func TestBacklogDrainsWithoutPolling(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusOK))
	ep := b.endpoint(t, rc.URL, nil) // the default cap of 8
	const n = 400
	publishMany(t, b, n, "a.b")
	b.start(t, func(o *Options) { o.Delivery.PollInterval = time.Hour })
	testkit.Eventually(t, "the backlog to drain", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.finished WHERE endpoint_id = $1 AND state = 'succeeded'`, ep.ID) == n
	})
	if got := rc.maxIn.Load(); got > 8 {
		t.Errorf("%d requests at once, more than the cap of 8", got)
	}
	if got := rc.hits.Load(); got != n {
		t.Errorf("%d requests for %d deliveries", got, n)
	}
}

// publishMany publishes n events of typ in one batch.
func publishMany(t testing.TB, b *bundle, n int, typ string) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		evs := make([]outbox.Event, min(n-len(ids), outbox.MaxBatch))
		for i := range evs {
			evs[i] = outbox.Event{Type: typ, Data: []byte(`{}`)}
		}
		rs, err := b.pub.PublishBatch(context.Background(), nil, evs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			ids = append(ids, r.Event.ID)
		}
	}
	return ids
}

// A backlog of thousands to a slow receiver does not delay other
// endpoints: capacity goes round the endpoints with due work, so every
// other delivery completes while the backlog is still large.
func TestBacklogDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		select {
		case <-time.After(200 * time.Millisecond):
		case <-r.Context().Done():
		}
	})
	backlog := b.endpoint(t, slow.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{"slow.*"} })
	const others, each = 20, 5
	var receivers []*receiver
	for i := range others {
		rc := newReceiver(t, status(http.StatusOK))
		receivers = append(receivers, rc)
		b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{fmt.Sprintf("other%d.*", i)} })
	}
	const big = 10000
	publishMany(t, b, big, "slow.x")
	b.start(t, func(o *Options) {
		o.Delivery.Workers = 16
		o.Delivery.ClaimBatch = 16
		o.Delivery.ShutdownTimeout = 10 * time.Millisecond
	})
	for round := range each {
		for i := range others {
			b.publish(t, fmt.Sprintf("other%d.x", i), fmt.Sprintf(`{"round":%d}`, round))
		}
	}
	testkit.Eventually(t, "every other endpoint's deliveries to succeed", func() bool {
		return b.count(t, `SELECT count(*) FROM hookd.finished WHERE endpoint_id <> $1 AND state = 'succeeded'`, backlog.ID) == others*each
	})
	left := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1`, backlog.ID)
	if left < big*9/10 {
		t.Errorf("only %d of the backlog's %d deliveries were left when the others were done; they waited behind it", left, big)
	}
	for i, rc := range receivers {
		if got := rc.hits.Load(); got != each {
			t.Errorf("endpoint %d got %d requests, want %d", i, got, each)
		}
	}
}

// An endpoint that keeps failing is probed, not hammered: once its breaker
// opens its due deliveries wait, keeping their retry budget, while one
// probe goes out per interval; the first success closes the breaker and
// every delivery arrives.
func TestBreakerProbesThenRecovers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var healthy atomic.Bool
	var mu sync.Mutex
	var hitsAt []time.Time
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		mu.Lock()
		hitsAt = append(hitsAt, time.Now())
		mu.Unlock()
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ep := b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.MaxInFlight = 1 })
	const probe = 250 * time.Millisecond // the second probe waits twice that: room for a slow claim-to-receipt
	b.start(t, func(o *Options) {
		o.Delivery.RetrySchedule = []time.Duration{0, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}
		o.Delivery.BreakerFailures = 3
		o.Delivery.BreakerProbeInterval = probe
	})
	const n = 20
	ids := publishMany(t, b, n, "a.b")
	testkit.Eventually(t, "the breaker to open and probe twice", func() bool {
		h, err := delivery.HealthOf(context.Background(), b.pool, []string{ep.ID}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return h[ep.ID].Breaker.State == delivery.BreakerOpen && len(hitsAt) >= 5
	})
	mu.Lock()
	opened := slices.Clone(hitsAt)
	mu.Unlock()
	// The three failures that opened it, then probes at least an interval
	// apart (each failed probe doubles the wait).
	for i := 4; i < len(opened); i++ {
		if gap := opened[i].Sub(opened[i-1]); gap < probe {
			t.Errorf("request %d came %s after the one before, while the breaker was open (probe interval %s)", i+1, gap, probe)
		}
	}
	spent := b.count(t, `SELECT count(*) FROM hookd.queue WHERE endpoint_id = $1 AND attempts >= 2`, ep.ID)
	if spent > 3 {
		t.Errorf("%d waiting deliveries spent more than one attempt while the breaker was open", spent)
	}
	healthy.Store(true)
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	h, err := delivery.HealthOf(context.Background(), b.pool, []string{ep.ID}, time.Now())
	if err != nil || h[ep.ID].Breaker.State != delivery.BreakerClosed {
		t.Fatalf("breaker after recovery: %+v, %v", h[ep.ID].Breaker, err)
	}
}

// A fifo endpoint receives one delivery at a time in publish order: a head
// that fails blocks the line (visibly) until it succeeds.
func TestFIFOInPublishOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var firsts []string
	seen := map[string]bool{}
	var failures atomic.Int64
	// The head fails three times and then for as long as the test has not
	// seen it block the line: it shows as blocking only while it waits
	// between attempts, a window a loaded machine's look can miss.
	var blockSeen atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		defer mu.Unlock()
		if !seen[id] {
			seen[id] = true
			firsts = append(firsts, id)
		}
		if len(firsts) == 1 && (failures.Add(1) <= 3 || !blockSeen.Load()) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ep := b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.Ordering = endpoint.OrderingFIFO })
	var ids []string
	for i := range 50 {
		ids = append(ids, b.publish(t, "a.b", fmt.Sprintf(`{"n":%d}`, i)).ID)
	}
	// Budget enough for the head to keep failing until its block is seen.
	schedule := []time.Duration{0}
	for range 100 {
		schedule = append(schedule, 100*time.Millisecond)
	}
	b.start(t, func(o *Options) { o.Delivery.RetrySchedule = schedule })
	var h delivery.Health
	testkit.Eventually(t, "the failing head to show as blocking its line", func() bool {
		hs, err := delivery.HealthOf(context.Background(), b.pool, []string{ep.ID}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if hs[ep.ID].Blocked == nil {
			return false
		}
		h = *hs[ep.ID]
		return true
	})
	blockSeen.Store(true)
	for _, id := range ids {
		b.waitState(t, id, delivery.StateSucceeded)
	}
	if got := rc.maxIn.Load(); got != 1 {
		t.Errorf("%d requests at once to a fifo endpoint, want 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(firsts, ids) {
		t.Errorf("first receipts out of publish order:\n got %v\nwant %v", firsts, ids)
	}
	head, err := delivery.Get(context.Background(), b.pool, h.Blocked.DeliveryID)
	if err != nil || head.EventID != ids[0] || h.Blocked.Since.IsZero() {
		t.Errorf("blocked by %+v (%v), want the first event's delivery", h.Blocked, err)
	}
}

// Retries come due without a notification: the engine asks when the next
// is due and sets its timer, which alone brings them in with an hour
// between polls. Here a fifo line's head (its line waits in its lane
// meanwhile) and an unordered endpoint's delivery each fail twice.
func TestRetriesComeDueWithoutPolling(t *testing.T) {
	t.Parallel()
	b := setup(t)
	failTwice := func(w http.ResponseWriter, _ *http.Request, n int64) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	fifo, conc := newReceiver(t, failTwice), newReceiver(t, failTwice)
	b.endpoint(t, fifo.URL, func(p *endpoint.CreateParams) {
		p.EventTypes, p.Ordering = []string{"fifo.*"}, endpoint.OrderingFIFO
	})
	b.endpoint(t, conc.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{"conc.*"} })
	b.start(t, func(o *Options) {
		o.Delivery.PollInterval = time.Hour
		o.Delivery.RetrySchedule = []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}
	})
	for _, typ := range []string{"fifo.a", "conc.a"} {
		d := b.waitState(t, b.publish(t, typ, `{}`).ID, delivery.StateSucceeded)
		if d.Attempts != 3 {
			t.Errorf("%s: %d attempts, want 3", typ, d.Attempts)
		}
	}
}
