package delivery

import "testing"

// A vacuum is due once dead rows are many and at least a fifth of the
// live ones: its cost stays a share of the deliveries that made it due.
// A busy dispatcher counts fewer as many.
func TestVacuumDue(t *testing.T) {
	for _, c := range []struct {
		dead, live int64
		busy, due  bool
	}{
		{0, 0, false, false},
		{vacuumMinDead - 1, 0, false, false},
		{vacuumMinDead, 0, false, true},
		{vacuumMinDead, 5 * vacuumMinDead, false, true},
		{vacuumMinDead, 5*vacuumMinDead + 1, false, false},
		{200_000, 1_000_000, false, true},
		{199_999, 1_000_000, false, false},
		{vacuumBusyMinDead - 1, 0, true, false},
		{vacuumBusyMinDead, 0, true, true},
		{vacuumBusyMinDead, 0, false, false},
		{vacuumBusyMinDead, 5*vacuumBusyMinDead + 1, true, false},
	} {
		if got := vacuumDue(c.dead, c.live, c.busy); got != c.due {
			t.Errorf("vacuumDue(dead %d, live %d, busy %v) = %v, want %v", c.dead, c.live, c.busy, got, c.due)
		}
	}
}
