package delivery

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// CyclePlans makes the rest of tx plan its statements as a dispatcher's
// cycle needs them planned (settings local to tx); a cycle calls it first.
//
//   - Generic plans of the prepared statements: left to choose, PostgreSQL
//     planned the claim afresh on every call (the unnest inputs make each
//     call look different), and planning cost as much as running it.
//   - No sequential scans: the queue is small and churns, so a plan made
//     while it looked small read it whole, dead rows and all, and the cost
//     of every cycle grew with the rows finished since the last vacuum
//     (at 1,000 deliveries/s, recording a batch took 0.78 ms against 0.21
//     ms by key). Every statement of a cycle finds its rows by key.
func CyclePlans(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
		set_config('enable_seqscan', 'off', true)`)
	return err
}
