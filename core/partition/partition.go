// Package partition creates the time-range partitions of hookd's history
// tables and lists them. History (events, finished deliveries, attempts) is
// ranged on the event's stored_at, the time its row was written, so an
// event, its deliveries and their attempts always sit in partitions with
// the same bounds and leave together.
//
// All DDL on partitions and all SQL on hookd.partitions live here; core/retention
// decides which partitions to drop and calls [Drop].
//
// # Sizing
//
// A partition spans [SpanFor] the retention period: the largest of 1m, 5m,
// 15m, 1h, 6h and 1d that is at most an eighth of it, so that about eight
// to thirty partitions hold the kept history and data is dropped at most
// one span after it expired. Bounds are multiples of the span since the
// Unix epoch, in UTC. When the span changes (a new retention.period), new
// partitions follow the last existing one; wider ones not over yet are
// replaced while still empty (the schema's first partitions span a day),
// so a period of minutes works from the first run.
//
// There is no DEFAULT partition: detaching from a table with one would scan
// it under an exclusive lock. Instead [Ensure] keeps partitions ahead of
// now; every hookd start and the maintenance leader call it.
package partition

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/core/db"
)

// History are the partitioned history tables, all ranged on stored_at
// (the event's, for deliveries and attempts) with the same bounds, parents
// in the hookd schema.
var History = []string{"events", "finished", "attempts", "attempt_bodies", "inbox"}

// Rollups are the partitioned rollup tables, ranged on their minute in
// partitions of RollupSpan.
var Rollups = []string{"endpoint_minutes", "intake_minutes"}

// RollupSpan is the span of a rollup partition.
const RollupSpan = 24 * time.Hour

// fillFactor is set on new partitions of tables whose rows are never
// updated, so that their pages are filled.
var fillFactor = map[string]int{"finished": 100, "attempts": 100, "attempt_bodies": 100}

// spans are the partition sizes SpanFor chooses from, smallest first.
var spans = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// SpanFor returns the partition span for a retention period.
func SpanFor(period time.Duration) time.Duration {
	span := spans[0]
	for _, s := range spans {
		if s <= period/8 {
			span = s
		}
	}
	return span
}

// Ahead is how far past now Ensure creates partitions for span: three
// spans and at least ten minutes, so a leader that pauses for a while
// never lets a write find no partition.
func Ahead(span time.Duration) time.Duration { return max(3*span, 10*time.Minute) }

// Partition is one partition of a history table.
type Partition struct {
	Name   string    `json:"name"`
	Parent string    `json:"parent"`
	Lower  time.Time `json:"lower_bound"`
	Upper  time.Time `json:"upper_bound"`
	// RowsUntil is set where the newest row was stored after Upper (the
	// legacy partitions of an upgraded database); the partition expires
	// by it.
	RowsUntil *time.Time `json:"rows_until,omitempty"`
}

// Newest is when the partition's newest row may have been stored: its
// expiry counts from this.
func (p Partition) Newest() time.Time {
	if p.RowsUntil != nil && p.RowsUntil.After(p.Upper) {
		return p.RowsUntil.UTC()
	}
	return p.Upper
}

func withClause(table string) string {
	if ff := fillFactor[table]; ff > 0 {
		return fmt.Sprintf(" WITH (fillfactor = %d)", ff)
	}
	return ""
}

// floor rounds t down to a multiple of span since the Unix epoch, in UTC.
func floor(t time.Time, span time.Duration) time.Time {
	return time.Unix(0, 0).UTC().Add(t.Sub(time.Unix(0, 0)).Truncate(span))
}

// Name is the name of table's partition starting at lower.
func Name(table string, lower time.Time) string {
	return table + "_" + lower.UTC().Format("20060102_1504")
}

// List returns the partitions of every history table, oldest first.
func List(ctx context.Context, ex db.Executor) ([]Partition, error) {
	rows, err := ex.Query(ctx, `SELECT name, parent, lower_bound, upper_bound, rows_until FROM hookd.partitions ORDER BY lower_bound, parent`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partition, error) {
		var p Partition
		err := r.Scan(&p.Name, &p.Parent, &p.Lower, &p.Upper, &p.RowsUntil)
		p.Lower, p.Upper = p.Lower.UTC(), p.Upper.UTC()
		return p, err
	})
}

// Range is the bounds shared by a set of partitions.
type Range struct {
	Lower, Upper time.Time
}

// Expired returns the ranges of the partitions of tables whose upper bound
// (or RowsUntil, when later) is at or before cutoff, oldest first.
func Expired(ctx context.Context, ex db.Executor, tables []string, cutoff time.Time) ([]Range, error) {
	rows, err := ex.Query(ctx, `SELECT DISTINCT lower_bound, upper_bound FROM hookd.partitions
		WHERE parent = ANY($1) AND greatest(upper_bound, rows_until) <= $2 ORDER BY lower_bound`, tables, cutoff)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Range, error) {
		var x Range
		err := r.Scan(&x.Lower, &x.Upper)
		x.Lower, x.Upper = x.Lower.UTC(), x.Upper.UTC()
		return x, err
	})
}

// lockOrder is the order Drop and Ensure lock parents in: the order a
// dispatcher's cycle takes them (it records results into finished and
// attempts, then claims, reading events); intake writes the inbox, then
// the forward's event; publishers take events alone.
var lockOrder = []string{"finished", "attempts", "attempt_bodies", "inbox", "events", "endpoint_minutes", "intake_minutes"}

// DropTimeout bounds the wait for the brief exclusive lock that detaching
// a partition takes on its parent; a busy parent makes Drop fail, to be
// tried again later, rather than queue every writer behind it.
const DropTimeout = 200 * time.Millisecond

// setLockTimeout bounds a transaction's lock waits by DropTimeout.
var setLockTimeout = fmt.Sprintf(`SET LOCAL lock_timeout = '%dms'`, DropTimeout.Milliseconds())

// lockParents locks the parent tables named exclusively, in lockOrder,
// which keeps a wait for one of them from turning into a deadlock with the
// engine. The caller bounds the waits (setLockTimeout).
func lockParents(ctx context.Context, tx pgx.Tx, parents []string) error {
	for _, parent := range lockOrder {
		if !slices.Contains(parents, parent) {
			continue
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`LOCK TABLE hookd.%s IN ACCESS EXCLUSIVE MODE`, pgx.Identifier{parent}.Sanitize())); err != nil {
			return fmt.Errorf("lock %s: %w", parent, err)
		}
	}
	return nil
}

// Drop detaches the partitions of tables in range r and drops them. last
// runs first, in the same transaction, holding the parents' exclusive
// locks: nothing can write to or read the partitions meanwhile, so what
// it moves out is all there will ever be. Keep last short (move what
// slipped in since the caller moved the bulk); the locks are held while it
// runs. It returns the partitions dropped.
func Drop(ctx context.Context, ex db.Executor, tables []string, r Range, last func(ctx context.Context, tx pgx.Tx) error) ([]Partition, error) {
	var detached []Partition
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		detached = nil
		if _, err := tx.Exec(ctx, setLockTimeout); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name, parent, lower_bound, upper_bound FROM hookd.partitions
			WHERE parent = ANY($1) AND lower_bound = $2 AND upper_bound = $3`, tables, r.Lower, r.Upper)
		if err != nil {
			return err
		}
		parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partition, error) {
			var p Partition
			err := r.Scan(&p.Name, &p.Parent, &p.Lower, &p.Upper)
			return p, err
		})
		if err != nil || len(parts) == 0 {
			return err
		}
		// The parents' locks first, then the last moves.
		parents := make([]string, len(parts))
		for i, p := range parts {
			parents[i] = p.Parent
		}
		if err := lockParents(ctx, tx, parents); err != nil {
			return err
		}
		if last != nil {
			if err := last(ctx, tx); err != nil {
				return err
			}
		}
		for _, p := range parts {
			if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE hookd.%s DETACH PARTITION hookd.%s`,
				pgx.Identifier{p.Parent}.Sanitize(), pgx.Identifier{p.Name}.Sanitize())); err != nil {
				return fmt.Errorf("detach %s: %w", p.Name, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM hookd.partitions WHERE name = $1`, p.Name); err != nil {
				return err
			}
			p.Lower, p.Upper = p.Lower.UTC(), p.Upper.UTC()
			detached = append(detached, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Detached, a partition is a table of its own: dropping it takes no
	// lock on its parent.
	for _, p := range detached {
		if _, err := ex.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS hookd.%s`, pgx.Identifier{p.Name}.Sanitize())); err != nil {
			return detached, fmt.Errorf("drop %s: %w", p.Name, err)
		}
	}
	return detached, nil
}

// Leftovers drops tables a Drop detached but could not drop (a crash in
// between), which keeps disk from leaking. It returns their names.
func Leftovers(ctx context.Context, ex db.Executor) ([]string, error) {
	rows, err := ex.Query(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'hookd' AND c.relkind = 'r' AND NOT c.relispartition
		  AND c.relname ~ ('^(' || array_to_string($1::text[], '|') || ')_[0-9]{8}_[0-9]{4}$')
		  AND NOT EXISTS (SELECT 1 FROM hookd.partitions p WHERE p.name = c.relname)`, append(append([]string{}, History...), Rollups...))
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := ex.Exec(ctx, fmt.Sprintf(`DROP TABLE IF EXISTS hookd.%s`, pgx.Identifier{name}.Sanitize())); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// IsBusy reports whether err is Drop giving up on a busy parent (its lock
// timed out); the drop is simply tried again later.
func IsBusy(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "40P01")
}

// IsMissing reports whether err is a write that found no partition for its
// row (the partitions around now were not made yet).
func IsMissing(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition of relation")
}

// Sized is a partition with its size on disk (table, indexes and TOAST).
type Sized struct {
	Partition
	Bytes int64 `json:"bytes"`
	// Rows is PostgreSQL's estimate (pg_class.reltuples; -1 before the
	// first ANALYZE).
	Rows int64 `json:"rows_estimate"`
}

// HoldsRows reports whether the partition named holds any row, reading
// no more than its first live one. A partition dropped meanwhile (by
// retention, since its name was read) holds none.
func HoldsRows(ctx context.Context, ex db.Executor, name string) (bool, error) {
	var ok bool
	err := ex.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{"hookd", name}.Sanitize()+`)`).Scan(&ok)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return false, nil
	}
	return ok, err
}

// Sizes returns every partition with its size, oldest first: catalog
// lookups only, one per partition.
func Sizes(ctx context.Context, ex db.Executor) ([]Sized, error) {
	rows, err := ex.Query(ctx, `SELECT p.name, p.parent, p.lower_bound, p.upper_bound, p.rows_until,
			coalesce(pg_total_relation_size(c.oid), 0), coalesce(c.reltuples::bigint, -1)
		FROM hookd.partitions p
		LEFT JOIN pg_class c ON c.relname = p.name AND c.relnamespace = 'hookd'::regnamespace
		ORDER BY p.lower_bound, p.parent`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Sized, error) {
		var s Sized
		err := r.Scan(&s.Name, &s.Parent, &s.Lower, &s.Upper, &s.RowsUntil, &s.Bytes, &s.Rows)
		s.Lower, s.Upper = s.Lower.UTC(), s.Upper.UTC()
		return s, err
	})
}
