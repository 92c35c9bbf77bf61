package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
)

// lockKey serialises partition changes across processes.
const lockKey int64 = 0x68_6f_6f_6b_64_70_61_72 // "hookdpar"

// ensureTries bounds how often Ensure waits for busy parents before it
// gives up (the maintenance leader tries again at its next run; partitions
// are made Ahead of need).
const ensureTries = 10

// Ensure creates, for every history table, the partitions that make
// [now - span, now + Ahead(span)) covered, continuing after the last
// partition there is, and likewise for the rollup tables with RollupSpan.
// History partitions wider than span that are not over yet are replaced
// first when they are still empty (see narrow). It returns the names of
// the partitions it created. Several processes may call it at once.
//
// Making a partition locks its parent exclusively: the parents are locked
// in the order the engine takes them (lockOrder), so that Ensure cannot
// deadlock with a delivery cycle, and each wait is bounded by DropTimeout
// so that writers never queue behind it for long.
func Ensure(ctx context.Context, ex db.Executor, span time.Duration, now time.Time) ([]string, error) {
	if span < time.Minute {
		return nil, fmt.Errorf("partition: span %s is shorter than a minute", span)
	}
	if err := narrow(ctx, ex, span, now); err != nil {
		return nil, err
	}
	for try := 1; ; try++ {
		created, err := ensureOnce(ctx, ex, span, now)
		if err == nil || !IsBusy(err) || try == ensureTries {
			return created, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		}
	}
}

// planned is a partition Ensure or Backfill is to make.
type planned struct {
	table, name string
	from, to    time.Time
}

func ensureOnce(ctx context.Context, ex db.Executor, span time.Duration, now time.Time) ([]string, error) {
	return create(ctx, ex, func(tx pgx.Tx) ([]planned, error) {
		var todo []planned
		for _, table := range History {
			ps, err := plan(ctx, tx, table, span, now)
			if err != nil {
				return nil, err
			}
			todo = append(todo, ps...)
		}
		for _, table := range Rollups {
			ps, err := plan(ctx, tx, table, RollupSpan, now)
			if err != nil {
				return nil, err
			}
			todo = append(todo, ps...)
		}
		return todo, nil
	})
}

// Backfill creates, for every history table, the partitions of span from
// since up to its first one (the legacy partition of an upgrade aside),
// as an install that has kept history since then holds them: hookd bench
// measures such an install, since the cost of some statements grows with
// the partitions there are. It returns the names of those it created.
func Backfill(ctx context.Context, ex db.Executor, span time.Duration, since time.Time) ([]string, error) {
	if span < time.Minute {
		return nil, fmt.Errorf("partition: span %s is shorter than a minute", span)
	}
	return create(ctx, ex, func(tx pgx.Tx) ([]planned, error) {
		var todo []planned
		for _, table := range History {
			var first *time.Time
			if err := tx.QueryRow(ctx, `SELECT min(lower_bound) FROM hookd.partitions
				WHERE parent = $1 AND lower_bound > '1970-01-02'`, table).Scan(&first); err != nil {
				return nil, err
			}
			if first == nil {
				continue
			}
			for from := floor(since, span); from.Before(*first); {
				to := floor(from, span).Add(span)
				if to.After(*first) {
					to = first.UTC()
				}
				todo = append(todo, planned{table: table, name: Name(table, from), from: from, to: to})
				from = to
			}
		}
		return todo, nil
	})
}

// create makes the partitions todo plans, in one transaction holding the
// partition lock.
func create(ctx context.Context, ex db.Executor, todo func(pgx.Tx) ([]planned, error)) ([]string, error) {
	var created []string
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		created = nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return err
		}
		todo, err := todo(tx)
		if err != nil {
			return err
		}
		if len(todo) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, setLockTimeout); err != nil {
			return err
		}
		parents := make([]string, len(todo))
		for i, p := range todo {
			parents[i] = p.table
		}
		if err := lockParents(ctx, tx, parents); err != nil {
			return err
		}
		for _, p := range todo {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE hookd.%s PARTITION OF hookd.%s FOR VALUES FROM ('%s') TO ('%s')%s`,
				pgx.Identifier{p.name}.Sanitize(), pgx.Identifier{p.table}.Sanitize(),
				p.from.Format(time.RFC3339), p.to.Format(time.RFC3339), withClause(p.table))); err != nil {
				return fmt.Errorf("create partition %s: %w", p.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound) VALUES ($1, $2, $3, $4)`,
				p.name, p.table, p.from, p.to); err != nil {
				return err
			}
			created = append(created, p.name)
		}
		return nil
	})
	return created, err
}

// plan lists the partitions table lacks up to now + Ahead(span).
func plan(ctx context.Context, tx pgx.Tx, table string, span time.Duration, now time.Time) ([]planned, error) {
	var last *time.Time
	if err := tx.QueryRow(ctx, `SELECT max(upper_bound) FROM hookd.partitions WHERE parent = $1`, table).Scan(&last); err != nil {
		return nil, err
	}
	// After the last partition, but not before now - span: a gap in the
	// past (hookd stopped for long, or partitions narrowed) holds no rows.
	from := floor(now.Add(-span), span)
	if last != nil && last.After(from) {
		from = last.UTC()
	}
	until := now.Add(Ahead(span))
	var out []planned
	for from.Before(until) {
		// After a change of span the first new partition ends at the next
		// boundary of the new span.
		to := floor(from, span).Add(span)
		out = append(out, planned{table: table, name: Name(table, from), from: from, to: to})
		from = to
	}
	return out, nil
}

// narrow drops the history partitions wider than span whose range is not
// over yet, while they are empty: the first partitions the schema makes
// span a day, as do those of a longer retention.period before a change,
// and rows landing in them would leave up to that much later than the
// period says. A range that holds rows is kept (its rows leave when it
// expires), as is one whose parents are busy (the next Ensure tries
// again).
func narrow(ctx context.Context, ex db.Executor, span time.Duration, now time.Time) error {
	rows, err := ex.Query(ctx, `SELECT DISTINCT lower_bound, upper_bound FROM hookd.partitions
		WHERE parent = ANY($1) AND upper_bound > $2 AND upper_bound - lower_bound > $3::bigint * interval '1 microsecond'
		ORDER BY lower_bound`, History, now, span.Microseconds())
	if err != nil {
		return err
	}
	wide, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Range, error) {
		var x Range
		return x, r.Scan(&x.Lower, &x.Upper)
	})
	if err != nil {
		return err
	}
	for _, r := range wide {
		// Looked at without locks first, so that a range in use costs
		// no exclusive lock on every Ensure; then again under Drop's.
		if empty, err := rangeEmpty(ctx, ex, r); err != nil || !empty {
			return err
		}
		_, err := Drop(ctx, ex, History, r, func(ctx context.Context, tx pgx.Tx) error {
			empty, err := rangeEmpty(ctx, tx, r)
			if err == nil && !empty {
				err = errInUse
			}
			return err
		})
		if err != nil && !errors.Is(err, errInUse) && !IsBusy(err) {
			return err
		}
	}
	return nil
}

// errInUse stops narrow's Drop of a range that rows went into meanwhile.
var errInUse = errors.New("partition: the range holds rows")

// rangeEmpty reports whether no history partition of r holds a row.
func rangeEmpty(ctx context.Context, ex db.Executor, r Range) (bool, error) {
	rows, err := ex.Query(ctx, `SELECT name FROM hookd.partitions WHERE parent = ANY($1) AND lower_bound = $2 AND upper_bound = $3`,
		History, r.Lower, r.Upper)
	if err != nil {
		return false, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, err
	}
	for _, name := range names {
		var any bool
		if err := ex.QueryRow(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM hookd.%s)`, pgx.Identifier{name}.Sanitize())).Scan(&any); err != nil {
			return false, err
		}
		if any {
			return false, nil
		}
	}
	return true, nil
}
