package delivery_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
)

// InCycle commits what its three parts wrote when all succeed, and
// otherwise rolls all of it back and hands its connection back outside
// any transaction, still open: the pool would otherwise close a
// connection handed back inside one, and every failed cycle would cost a
// new connection.
func TestInCycleCommitsOrRollsBackWhole(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	cfg := b.pool.Config().Copy()
	cfg.MaxConns, cfg.MinConns = 1, 0
	pool, err := pgxpool.NewWithConfig(b.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(b.ctx, `CREATE TABLE cycle_marks (part text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	mark := func(part string) string { return `INSERT INTO cycle_marks VALUES ('` + part + `')` }
	fail := errors.New("the cycle's own failure")
	cases := []struct {
		name    string
		first   string // queued with the BEGIN
		middle  string // run by fn
		last    string // queued with the COMMIT
		fnErr   error
		commits bool
	}{
		{name: "all succeed", first: mark("first"), middle: mark("middle"), last: mark("last"), commits: true},
		{name: "first statement fails", first: `SELECT 1/0`, middle: mark("middle"), last: mark("last")},
		{name: "fn fails", first: mark("first"), middle: mark("middle"), last: mark("last"), fnErr: fail},
		{name: "a statement of fn fails", first: mark("first"), middle: `SELECT 1/0`, last: mark("last")},
		{name: "last statement fails", first: mark("first"), middle: mark("middle"), last: `SELECT 1/0`},
	}
	for _, tc := range cases {
		if _, err := pool.Exec(b.ctx, `TRUNCATE cycle_marks`); err != nil {
			t.Fatal(err)
		}
		err := delivery.InCycle(b.ctx, pool, func(batch *pgx.Batch) { batch.Queue(tc.first) },
			func(ex db.Executor) (*pgx.Batch, error) {
				if _, err := ex.Exec(b.ctx, tc.middle); err != nil {
					return nil, err
				}
				if tc.fnErr != nil {
					return nil, tc.fnErr
				}
				last := &pgx.Batch{}
				last.Queue(tc.last)
				return last, nil
			})
		if tc.commits != (err == nil) {
			t.Fatalf("%s: InCycle returned %v", tc.name, err)
		}
		if tc.fnErr != nil && !errors.Is(err, tc.fnErr) {
			t.Errorf("%s: InCycle returned %v, not fn's error", tc.name, err)
		}
		// The one connection is back, outside any transaction: this is a
		// statement of its own, and sees only what committed.
		var n int
		var status string
		if err := pool.QueryRow(b.ctx, `SELECT count(*), current_setting('plan_cache_mode') FROM cycle_marks`).Scan(&n, &status); err != nil {
			t.Fatalf("%s: the pool after the cycle: %v", tc.name, err)
		}
		if want := map[bool]int{true: 3, false: 0}[tc.commits]; n != want {
			t.Errorf("%s: %d of the cycle's 3 rows committed, want %d", tc.name, n, want)
		}
		if status == "force_generic_plan" {
			t.Errorf("%s: the cycle's plan settings outlived its transaction", tc.name)
		}
		if made := pool.Stat().NewConnsCount(); made != 1 {
			t.Errorf("%s: %d connections made, want the one kept throughout", tc.name, made)
		}
	}
}
