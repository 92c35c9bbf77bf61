package dispatch

import (
	"cmp"
	"net/http"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/delivery"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"99999999999999999", time.Duration(1<<63 - 1).Truncate(time.Second), true},
	}
	for _, c := range cases {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	d := New(nil, Options{Delivery: config.Delivery{
		RetrySchedule: []time.Duration{0, time.Second, time.Minute},
	}})
	now := time.Now()
	for _, c := range []struct {
		attempt    int
		retryAfter time.Duration
		state      delivery.State
		wait       time.Duration
	}{
		{1, -1, delivery.StateRetrying, time.Second},
		{2, -1, delivery.StateRetrying, time.Minute},
		{3, -1, delivery.StateDead, 0},
		{1, 30 * time.Second, delivery.StateRetrying, 30 * time.Second},
		{1, time.Hour, delivery.StateRetrying, time.Minute}, // capped by the largest step
		{3, time.Second, delivery.StateDead, 0},             // the budget still applies
	} {
		state, at := d.retry(c.attempt, now, c.retryAfter)
		if state != c.state || at.Sub(now) != c.wait {
			t.Errorf("retry(%d, %s) = %s after %s, want %s after %s", c.attempt, c.retryAfter, state, at.Sub(now), c.state, c.wait)
		}
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for range 1000 {
		if j := jitter(10*time.Second, 0.2); j < 8*time.Second || j > 12*time.Second {
			t.Fatalf("jitter(10s, 0.2) = %s, outside ±20%%", j)
		}
	}
	if j := jitter(10*time.Second, 0); j != 10*time.Second {
		t.Errorf("jitter without a fraction = %s", j)
	}
}

func TestRequestBodyKeepsDataVerbatim(t *testing.T) {
	t.Parallel()
	job := delivery.Job{
		EventID: "evt_<1>", EventType: "a.b", EventData: []byte(`{"z": 1,  "a":"<&>"}`),
		EventCreated: time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.FixedZone("x", 3600)),
	}
	want := `{"id":"evt_<1>","type":"a.b","created":"2026-01-02T02:04:05.6Z","data":{"z": 1,  "a":"<&>"}}`
	if got := string(requestBody(job)); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

// Requests whose slots all passed while their worker slept start one
// interval apart as they are taken; one ready later than that starts
// when ready; one whose turn would come after its latest start takes no
// turn, so the next is not pushed back for a request never sent.
func TestPaceSpacesLateRequests(t *testing.T) {
	const interval = 200 * time.Millisecond // a rate_limit of 5
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	never := t0.Add(time.Hour)
	p := &pace{}
	for i, want := range []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond} {
		if got, _, ok := p.take(t0, interval, never); !ok || got.Sub(t0) != want {
			t.Errorf("late request %d starts at +%s (%v), want +%s", i, got.Sub(t0), ok, want)
		}
	}
	if got, _, ok := p.take(t0, interval, t0.Add(500*time.Millisecond)); ok {
		t.Errorf("a request that may start no later than +500ms took the turn at +%s", got.Sub(t0))
	}
	if got, _, _ := p.take(t0.Add(time.Second), interval, never); got.Sub(t0) != time.Second {
		t.Errorf("a request ready at +1s starts at +%s", got.Sub(t0))
	}
	got, prev, _ := p.take(t0.Add(1100*time.Millisecond), interval, never)
	if got.Sub(t0) != 1200*time.Millisecond {
		t.Errorf("a request ready at +1.1s, 100 ms after the last, starts at +%s, want +1.2s", got.Sub(t0))
	}
	// That one overslept and was handed back: its turn is given back, and
	// the next follows the one before it.
	p.giveBack(got, prev)
	if again, _, _ := p.take(t0.Add(1100*time.Millisecond), interval, never); again.Sub(t0) != 1200*time.Millisecond {
		t.Errorf("after a turn given back, the next starts at +%s, want +1.2s (an interval after +1s)", again.Sub(t0))
	}
	// A turn taken after it is not undone by giving back an earlier one.
	later, _, _ := p.take(t0.Add(1300*time.Millisecond), interval, never)
	p.giveBack(got, prev)
	if next, _, _ := p.take(t0.Add(1300*time.Millisecond), interval, never); next.Sub(later) != interval {
		t.Errorf("giving back an earlier turn undid a later one: next at +%s after +%s", next.Sub(t0), later.Sub(t0))
	}
}

// Pruning forgets only paces that hold nothing back and that no job
// still waiting for its turn holds: forgotten under a sleeping job, the
// next claim's requests would not be spaced from its.
func TestPrunePaces(t *testing.T) {
	const interval = 100 * time.Millisecond
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ps := paces{}
	held := ps.hold("ep")
	held.take(t0, interval, t0.Add(time.Hour))
	ps.prune(t0.Add(time.Second))
	if ps.hold("ep") != held {
		t.Fatal("pruned a pace a job still holds")
	}
	held.letGo()
	held.letGo()
	ps.prune(t0)
	if len(ps) != 1 {
		t.Error("pruned a pace whose latest request starts at the pruning time")
	}
	ps.prune(t0.Add(time.Millisecond))
	if len(ps) != 0 {
		t.Error("kept a pace nobody holds whose latest request is past")
	}
}

// A job may start as late as its lease still leaves its request the whole
// timeout, an endpoint's longer timeout too (with the lease LeaseFor gives
// it): min(timeout, budget/2) gave a 5-minute timeout 170 s. Only a lease
// with next to no slack over the timeout leaves half its budget.
func TestLatestStartLeavesTheWholeTimeout(t *testing.T) {
	t.Parallel()
	const lease, timeout = 60 * time.Second, 15 * time.Second
	d := &Dispatcher{opts: Options{Delivery: config.Delivery{Timeout: timeout, Lease: lease}}}
	leased := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, epTimeout := range []time.Duration{0, 5 * time.Second, 30 * time.Second, 45 * time.Second, 5 * time.Minute, 15 * time.Minute} {
		job := delivery.Job{Timeout: epTimeout, Lease: delivery.LeaseFor(lease, timeout, epTimeout)}
		want := cmp.Or(epTimeout, timeout)
		latest := d.latestStart(job, leased)
		if left := leased.Add(job.Lease * 9 / 10).Sub(latest); left < want {
			t.Errorf("timeout %v, lease %v: started at the latest, the request has %v", epTimeout, job.Lease, left)
		}
		if latest.Before(leased.Add(time.Second)) {
			t.Errorf("timeout %v: no slack to start in (latest %v after the claim)", epTimeout, latest.Sub(leased))
		}
	}
	// A lease just above the timeout: half its budget, so that a claim a
	// little late is still sent.
	tight := &Dispatcher{opts: Options{Delivery: config.Delivery{Timeout: timeout, Lease: 16 * time.Second}}}
	if got, want := tight.latestStart(delivery.Job{}, leased).Sub(leased), 16*time.Second*9/10/2; got != want {
		t.Errorf("a tight lease: latest start %v after the claim, want %v", got, want)
	}
}
