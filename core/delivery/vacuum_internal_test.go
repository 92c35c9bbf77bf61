package delivery

import "testing"

// A vacuum is due once dead rows are many and at least a fifth of the
// live ones: its cost stays a share of the deliveries that made it due.
func TestVacuumDue(t *testing.T) {
	for _, c := range []struct {
		dead, live int64
		due        bool
	}{
		{0, 0, false},
		{vacuumMinDead - 1, 0, false},
		{vacuumMinDead, 0, true},
		{vacuumMinDead, 5 * vacuumMinDead, true},
		{vacuumMinDead, 5*vacuumMinDead + 1, false},
		{200_000, 1_000_000, true},
		{199_999, 1_000_000, false},
	} {
		if got := vacuumDue(c.dead, c.live); got != c.due {
			t.Errorf("vacuumDue(dead %d, live %d) = %v, want %v", c.dead, c.live, got, c.due)
		}
	}
}
