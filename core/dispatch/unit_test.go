package dispatch

import (
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
		{1, -1, delivery.StatePending, time.Second},
		{2, -1, delivery.StatePending, time.Minute},
		{3, -1, delivery.StateDead, 0},
		{1, 30 * time.Second, delivery.StatePending, 30 * time.Second},
		{1, time.Hour, delivery.StatePending, time.Minute}, // capped by the largest step
		{3, time.Second, delivery.StateDead, 0},            // the budget still applies
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

func TestRateLimitSpacing(t *testing.T) {
	t.Parallel()
	r := newRateLimits()
	now := time.Now()
	for i := range 5 {
		if got, ok := r.reserve("ep", 10, now, time.Hour); !ok || got != time.Duration(i)*100*time.Millisecond {
			t.Errorf("reservation %d waits %s (%v), want %s", i, got, ok, time.Duration(i)*100*time.Millisecond)
		}
	}
	if got, _ := r.reserve("other", 10, now, time.Hour); got != 0 {
		t.Errorf("another endpoint waits %s", got)
	}
	if got, ok := r.reserve("ep", 0, now, 0); got != 0 || !ok {
		t.Errorf("no limit waits %s", got)
	}
	// A slot past max is reported and not booked, so handing the work
	// back does not push every later slot further out.
	for range 3 {
		if got, ok := r.reserve("ep", 10, now, 200*time.Millisecond); ok || got != 500*time.Millisecond {
			t.Errorf("slot past max: %s, %v; want 500ms and not booked", got, ok)
		}
	}
}

func TestCapacity(t *testing.T) {
	t.Parallel()
	c := newCapacity(3, 2, 4)
	if !c.take("a", 0) || !c.take("a", 0) || c.take("a", 0) {
		t.Fatal("endpoint a should take exactly its default cap of 2")
	}
	if !c.take("b", 1) || c.take("c", 5) {
		t.Fatal("the third slot should go to b and none remain")
	}
	free, full, remaining := c.free()
	if free != 0 || len(full) != 2 || len(remaining) != 0 {
		t.Errorf("free = %d, full = %v, remaining = %v; want 0, [a b] and none", free, full, remaining)
	}
	if !c.put("a") {
		t.Error("freeing a slot after a refusal should wake the claimer")
	}
	if _, _, remaining := c.free(); remaining["a"] != 1 {
		t.Errorf("remaining = %v, want a: 1", remaining)
	}
	if c.put("a") {
		t.Error("a second free slot needs no new wake-up")
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
