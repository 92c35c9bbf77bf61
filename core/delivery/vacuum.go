package delivery

import (
	"context"

	"github.com/hookd/hookd/core/db"
)

// vacuumMinDead is the fewest dead rows worth a vacuum; above it, a
// vacuum is due once the dead rows reach a fifth of the live ones, so
// that its cost (it reads the queue and its indexes) stays a fixed share
// of the deliveries that made it due, whatever the backlog.
const vacuumMinDead = 5000

// QueueVacuumDue reports whether the queue's dead rows call for a vacuum,
// from the server's statistics (which lag by up to a second).
func QueueVacuumDue(ctx context.Context, ex db.Executor) (bool, error) {
	var dead, live int64
	err := ex.QueryRow(ctx, `SELECT n_dead_tup, n_live_tup FROM pg_stat_user_tables
		WHERE relid = 'hookd.queue'::regclass`).Scan(&dead, &live)
	if err != nil {
		return false, db.Interpret(err)
	}
	return vacuumDue(dead, live), nil
}

func vacuumDue(dead, live int64) bool {
	return dead >= vacuumMinDead && dead*5 >= live
}

// VacuumQueue vacuums the queue and the lanes, skipping a table another
// vacuum holds (autovacuum, or another process's VACUUM), and never
// truncating them: giving back the empty pages at a table's end takes a
// lock that stops every claim and publish while it waits for it. It must
// run outside a transaction: pass a pool or a connection.
//
// The queue holds only unfinished work, but every delivery updates its
// row once and deletes it: at a few thousand deliveries a second that
// leaves tens of thousands of dead rows between autovacuum's runs (a
// minute apart by default). Claims and in-flight counts walk their index
// entries, so their cost grew with the deliveries finished since the last
// vacuum: at 3,000 deliveries/s for 15 s, publish-to-receipt p99 was
// 565–582 ms without vacuums every few seconds, 39–95 ms with them.
func VacuumQueue(ctx context.Context, ex db.Executor) error {
	_, err := ex.Exec(ctx, `VACUUM (SKIP_LOCKED, TRUNCATE false) hookd.queue, hookd.lanes, hookd.lane_wakes`)
	return err
}
