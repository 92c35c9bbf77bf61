package delivery_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

func TestLeaseFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ lease, def, timeout, want time.Duration }{
		{90 * time.Second, 30 * time.Second, 0, 90 * time.Second},
		{90 * time.Second, 30 * time.Second, 10 * time.Second, 90 * time.Second},
		{90 * time.Second, 30 * time.Second, 30 * time.Second, 90 * time.Second},
		{90 * time.Second, 30 * time.Second, 45 * time.Second, 110 * time.Second},
		{90 * time.Second, 30 * time.Second, 5 * time.Minute, 393333 * time.Millisecond}, // 5m·10/9 + 60s
		{600 * time.Millisecond, 100 * time.Millisecond, 900 * time.Millisecond, 1500 * time.Millisecond},
		{10 * time.Hour, 30 * time.Second, endpoint.MaxTimeout, 10*time.Hour + 303333*time.Millisecond},
		{35 * time.Second, 30 * time.Second, 40 * time.Second, 49444 * time.Millisecond},
		{90 * time.Second, 0, 5 * time.Minute, 90 * time.Second},
	} {
		if got := delivery.LeaseFor(c.lease, c.def, c.timeout); got != c.want {
			t.Errorf("LeaseFor(%s, %s, %s) = %s, want %s", c.lease, c.def, c.timeout, got, c.want)
		}
	}
}

// An endpoint whose own timeout is longer than the default gets a longer
// lease, in the database as in the job: a lease sized for the default
// would cut its requests short, and let another worker retry them while
// they wait.
func TestLongTimeoutEndpointGetsALongerLease(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	slow, err := endpoint.Create(b.ctx, b.pool, endpoint.CreateParams{URL: "https://slow.example/", Timeout: endpoint.Duration(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.pub.Publish(b.ctx, outbox.Event{ID: "evt_lease", Type: "order.created"}); err != nil {
		t.Fatal(err)
	}
	jobs := b.claimWith(t, delivery.ClaimParams{Limit: 10, Lease: 90 * time.Second, Timeout: 30 * time.Second, Worker: "w"})
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want one per endpoint", len(jobs))
	}
	for _, j := range jobs {
		want := 90 * time.Second
		if j.EndpointID == slow.ID {
			want = 393333 * time.Millisecond
		}
		if j.Lease != want {
			t.Errorf("endpoint %s: lease %s, want %s", j.EndpointID, j.Lease, want)
		}
		var stored time.Time
		var secs float64
		if err := b.pool.QueryRow(b.ctx, `
			SELECT lease_expires_at, extract(epoch FROM lease_expires_at - clock_timestamp())
			FROM hookd.queue WHERE id = $1`, j.DeliveryID).Scan(&stored, &secs); err != nil {
			t.Fatal(err)
		}
		left := time.Duration(secs * float64(time.Second))
		if !stored.Equal(j.LeaseExpiresAt) {
			t.Errorf("endpoint %s: lease stored to %s, the job says %s", j.EndpointID, stored, j.LeaseExpiresAt)
		}
		if left > want || left < want-10*time.Second {
			t.Errorf("endpoint %s: %s of the lease left just after the claim, want about %s", j.EndpointID, left, want)
		}
	}
}
