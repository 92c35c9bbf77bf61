package bench

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// meter measures one phase: PostgreSQL's counters before and after, its
// statements, its backends' waits, and the CPU of everything involved.
type meter struct {
	b       *bench
	before  dbSnap
	snapErr error
	cpu     *cpuMeter
	waits   *waitSampler
}

// startMeter starts measuring, a CPU profile of the bench process
// included (to split its CPU among its parts).
func (b *bench) startMeter(ctx context.Context) *meter {
	m := &meter{b: b}
	if b.statsOK {
		resetStatements(ctx, b.admin)
	}
	m.before, m.snapErr = takeSnap(ctx, b.admin)
	m.cpu = startCPU(b.postmaster, true)
	m.waits = startWaitSampler(ctx, b.admin, 20*time.Millisecond)
	return m
}

// stop ends the measurement. pool, the phase's own, is closed first, so
// that its backends exit and flush their statistics; units and per say
// what the per-unit figures divide by.
func (m *meter) stop(ctx context.Context, pool *pgxpool.Pool, units int64, per string) (Cost, []byte) {
	c := Cost{Per: per, Units: units}
	var raw []byte
	c.CPU, raw = m.cpu.stop()
	var waits DBUse
	m.waits.stop(&waits)
	if pool != nil {
		pool.Close()
	}
	m.b.awaitBackendsGone(ctx)
	after, err := takeSnap(ctx, m.b.admin)
	if err == nil && m.snapErr == nil {
		c.DB = after.since(m.before)
	}
	c.DB.Waits, c.DB.AvgActive, c.DB.WaitSamples = waits.Waits, waits.AvgActive, waits.WaitSamples
	if m.b.statsOK {
		c.DB.Statements = statements(ctx, m.b.admin, 6)
	}
	return c, raw
}

// add returns the sum of two phases' costs, per the units of c.
func (c Cost) add(o Cost) Cost {
	s := c
	d, e := c.DB, o.DB
	s.DB = DBUse{
		WriteXacts: d.WriteXacts + e.WriteXacts, WALBytes: d.WALBytes + e.WALBytes,
		WALSyncs: d.WALSyncs + e.WALSyncs, WALSyncMS: d.WALSyncMS + e.WALSyncMS,
		WALWrites: d.WALWrites + e.WALWrites, Tables: map[string]TableUse{},
	}
	for _, t := range statTables {
		a, b := d.Tables[t], e.Tables[t]
		s.DB.Tables[t] = TableUse{Inserted: a.Inserted + b.Inserted, Updated: a.Updated + b.Updated,
			HOT: a.HOT + b.HOT, Deleted: a.Deleted + b.Deleted}
	}
	x, y := c.CPU, o.CPU
	s.CPU = CPU{Wall: x.Wall + y.Wall, Bench: x.Bench + y.Bench, Other: x.Other + y.Other, PostgreSQL: -1}
	if x.PostgreSQL >= 0 && y.PostgreSQL >= 0 {
		s.CPU.PostgreSQL = x.PostgreSQL + y.PostgreSQL
	}
	if s.CPU.Wall > 0 {
		s.CPU.MachineBusy = (x.MachineBusy*x.Wall + y.MachineBusy*y.Wall) / s.CPU.Wall
	}
	if x.Split != nil || y.Split != nil {
		s.CPU.Split = map[string]float64{}
		for k, v := range x.Split {
			s.CPU.Split[k] += v
		}
		for k, v := range y.Split {
			s.CPU.Split[k] += v
		}
	}
	return s
}

// awaitBackendsGone waits (at most 2 s) until the phase pools' backends
// have exited, for a backend reports its counters as it exits.
func (b *bench) awaitBackendsGone(ctx context.Context) {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := b.admin.QueryRow(ctx, adminMark+`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, phaseApp).Scan(&n); err != nil || n == 0 {
			break
		}
		sleepCtx(ctx, 10*time.Millisecond)
	}
	sleepCtx(ctx, 50*time.Millisecond) // the last reports land just after
}
