package delivery_test

import (
	"testing"

	"github.com/hookd/hookd/core/delivery"
)

// VacuumQueue vacuums the queue (outside a transaction, as it must), and
// QueueVacuumDue reads the statistics it decides from.
func TestVacuumQueue(t *testing.T) {
	t.Parallel()
	b := setup(t, 20)
	if _, err := b.pool.Exec(b.ctx, `DELETE FROM hookd.queue`); err != nil {
		t.Fatal(err)
	}
	if _, err := delivery.QueueVacuumDue(b.ctx, b.pool, false); err != nil {
		t.Fatal(err)
	}
	if err := delivery.VacuumQueue(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, `SELECT count(*) FROM pg_stat_user_tables
		WHERE relid IN ('hookd.queue'::regclass, 'hookd.lanes'::regclass) AND last_vacuum IS NOT NULL`); n != 2 {
		t.Errorf("%d of the queue and the lanes vacuumed, want 2", n)
	}
}
