package delivery

import (
	"context"

	"github.com/hookd/hookd/core/db"
)

// vacuumMinDead is the fewest dead rows worth a vacuum; above it, a
// vacuum is due once the dead rows reach a fifth of the live ones, so
// that its cost (it reads the queue and its indexes) stays a fixed share
// of the deliveries that made it due, whatever the backlog.
//
// A vacuum costs more than its own work (a few milliseconds): it rewrites
// the tables' entries in pg_class, which makes every connection plan its
// statements on them afresh. At 1,000 deliveries/s, traced, the slowest
// events came in bursts right after each vacuum, every 2.5 s at 5,000
// dead rows.
// At 20,000, publish-to-receipt p99 at 1,000/s was lower in 5 of 6
// alternating pairs (6.0-7.8 ms against 7.6-9.3, one outlier of 22.8) and
// at 3,000/s in 5 of 6 (12.5-24.2 against 16.0-30.0 ms).
//
// A busy dispatcher (VacuumBusyRate results a second) vacuums from
// vacuumBusyMinDead instead: at its rate dead rows pile up faster than
// the statistics report them (they lag by up to a second), and every
// claim walks them. In a burn-down at 20,000 the in-flight count took
// 2-4 times as long (130 and 260 ms against 60 and 66 for 20,000
// deliveries).
const (
	vacuumMinDead     = 20_000
	vacuumBusyMinDead = 5_000
)

// VacuumBusyRate is the results a second past which a dispatcher counts
// as busy for QueueVacuumDue.
const VacuumBusyRate = 5_000

// QueueVacuumDue reports whether the queue's dead rows call for a vacuum,
// from the server's statistics (which lag by up to a second); busy says
// the caller records VacuumBusyRate results a second or more.
func QueueVacuumDue(ctx context.Context, ex db.Executor, busy bool) (bool, error) {
	var dead, live int64
	err := ex.QueryRow(ctx, `SELECT n_dead_tup, n_live_tup FROM pg_stat_user_tables
		WHERE relid = 'hookd.queue'::regclass`).Scan(&dead, &live)
	if err != nil {
		return false, db.Interpret(err)
	}
	return vacuumDue(dead, live, busy), nil
}

func vacuumDue(dead, live int64, busy bool) bool {
	least := int64(vacuumMinDead)
	if busy {
		least = vacuumBusyMinDead
	}
	return dead >= least && dead*5 >= live
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
