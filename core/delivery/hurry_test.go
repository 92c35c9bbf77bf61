package delivery_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
)

// TestOperatorsRetryAndEnableAreAttemptedAtOnce: a lane waiting for a
// later time (an open breaker's next probe, a fifo head's backoff) is
// made ready by the operator's replay of one delivery or of many (by id
// or by filter), which also brings the probe forward, and by enabling the
// endpoint, which closes the breaker; before, the work waited for the old
// time (up to 16 probe intervals) while the console said it was attempted
// at once. Bulk replays waited so until this test.
func TestOperatorsRetryAndEnableAreAttemptedAtOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		act  func(b *bundle, id int64) error
	}{
		{"replay", func(b *bundle, id int64) error { _, err := delivery.Replay(b.ctx, b.pool, id); return err }},
		{"replay ids", func(b *bundle, id int64) error {
			n, err := delivery.ReplayIDs(b.ctx, b.pool, []int64{id})
			if err == nil && n != 1 {
				t.Errorf("replayed %d, want 1", n)
			}
			return err
		}},
		{"replay matching", func(b *bundle, _ int64) error {
			n, err := delivery.ReplayMatching(b.ctx, b.pool, delivery.ReplayParams{
				Filter: delivery.Filter{EndpointID: b.ep.ID, State: delivery.StateRetrying}})
			if err == nil && n != 1 {
				t.Errorf("replayed %d, want 1", n)
			}
			return err
		}},
		{"enable", func(b *bundle, _ int64) error {
			if _, err := endpoint.Disable(b.ctx, b.pool, b.ep.ID, "test"); err != nil {
				return err
			}
			_, err := endpoint.Enable(b.ctx, b.pool, b.ep.ID)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, 1)
			var id int64
			if err := b.pool.QueryRow(b.ctx, `SELECT id FROM hookd.queue`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			// The breaker open, its next probe an hour away, and the lane
			// waiting for it, as a claim leaves them.
			for _, q := range []string{
				`INSERT INTO hookd.endpoint_health (endpoint_id, consecutive_failures, breaker_opened_at, breaker_probe_at)
				VALUES ($1, 5, now(), now() + interval '1 hour')`,
				`UPDATE hookd.queue SET state = 'retrying', attempts = 3, next_attempt_at = now() + interval '1 hour'
				WHERE endpoint_id = $1`,
				`INSERT INTO hookd.lanes (endpoint_id, ready_at) VALUES ($1, now() + interval '1 hour')
				ON CONFLICT (endpoint_id) DO UPDATE SET ready_at = excluded.ready_at`,
			} {
				if _, err := b.pool.Exec(b.ctx, q, b.ep.ID); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.act(b, id); err != nil {
				t.Fatal(err)
			}
			if jobs := b.claim(t, "w", 10, time.Minute); len(jobs) != 1 || jobs[0].DeliveryID != id {
				t.Fatalf("claim after the %s = %+v, want delivery %d at once", c.name, jobs, id)
			}
		})
	}
}
