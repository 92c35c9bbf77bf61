// Package retention keeps hookd's history to retention.period on a
// bounded disk, without mass DELETEs: history lives in time partitions
// (core/partition) and leaves by dropping whole partitions.
//
// # What a run does
//
//  1. It makes the partitions ahead of now.
//  2. For each history range wholly older than now - Period, it carries
//     forward what still has work to do (an event whose delivery is still
//     pending, retrying, in flight or held, with all of its deliveries and
//     attempts) into the current partition, in batches, then detaches the
//     range's partitions in a short transaction that holds the parents'
//     locks (moving anything that slipped in meanwhile) and drops them.
//     A delivery still to do is never dropped, however old.
//  3. With AttemptBodies set, it drops attempt-body partitions older than
//     that, ahead of their attempts.
//  4. It drops rollup partitions older than RollupKeep.
//  5. It frees event ids (and the inbox's dedupe keys) older than twice
//     Period (idempotency outlives the events), in small batches.
//
// Intake events (the inbox) share the history's partitions; those still
// to be processed are carried forward like unfinished deliveries.
//
// The maintenance leader runs it; several processes never run it at once.
// All SQL on hookd.retention_state lives here.
package retention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
)

// Defaults.
const (
	// DefaultRollupKeep is how long per-minute endpoint rollups are kept.
	DefaultRollupKeep = 48 * time.Hour
	// carryBatch is the most events carried forward in one transaction.
	carryBatch = 1000
	// idBatch is the most event ids freed in one statement.
	idBatch = 10000
)

// Options configure retention.
type Options struct {
	// Period is retention.period. Defaults to config.DefaultRetentionPeriod.
	Period time.Duration
	// AttemptBodies is retention.attempt_bodies; 0 keeps bodies with
	// their attempts.
	AttemptBodies time.Duration
	// RollupKeep is how long rollups are kept. Defaults to
	// DefaultRollupKeep.
	RollupKeep time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	o.Period = cmp.Or(o.Period, config.DefaultRetentionPeriod)
	o.RollupKeep = cmp.Or(o.RollupKeep, DefaultRollupKeep)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Span is the partition span for the options' period.
func (o Options) Span() time.Duration {
	return partition.SpanFor(cmp.Or(o.Period, config.DefaultRetentionPeriod))
}

// Report says what a run did.
type Report struct {
	Created []string              `json:"created"`
	Carried int                   `json:"carried_events"`
	Dropped []partition.Partition `json:"dropped"`
	IDs     int64                 `json:"ids_freed"`
}

// Run does one retention pass at now (see the package doc). A range whose
// parents are too busy to detach right now is left for the next run.
func Run(ctx context.Context, ex db.Executor, opts Options, now time.Time) (Report, error) {
	opts = opts.withDefaults()
	var rep Report
	var err error
	rep.Created, err = partition.Ensure(ctx, ex, partition.SpanFor(opts.Period), now)
	if partition.IsBusy(err) {
		// Partitions are made ahead of need: the next run makes them.
		opts.Logger.Info("retention: the history tables were too busy to make partitions ahead; trying again next run")
	} else if err != nil {
		return rep, fmt.Errorf("make partitions: %w", err)
	}
	var errs []error
	ranges, err := partition.Expired(ctx, ex, partition.History, now.Add(-opts.Period))
	if err != nil {
		return rep, err
	}
	for _, r := range ranges {
		carried, dropped, err := dropHistory(ctx, ex, r, now)
		rep.Carried += carried
		rep.Dropped = append(rep.Dropped, dropped...)
		if partition.IsBusy(err) {
			opts.Logger.Info("retention: the history tables were too busy to detach a partition; trying again next run",
				slog.Time("until", r.Upper))
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("history %s..%s: %w", r.Lower.Format(time.RFC3339), r.Upper.Format(time.RFC3339), err))
			break // later ranges wait for this one
		}
	}
	if opts.AttemptBodies > 0 {
		d, err := dropAll(ctx, ex, []string{"attempt_bodies"}, now.Add(-opts.AttemptBodies))
		rep.Dropped = append(rep.Dropped, d...)
		errs = append(errs, notBusy(err))
	}
	d, err := dropAll(ctx, ex, partition.Rollups, now.Add(-opts.RollupKeep))
	rep.Dropped = append(rep.Dropped, d...)
	errs = append(errs, notBusy(err))
	rep.IDs, err = outbox.ExpireIDs(ctx, ex, now.Add(-2*opts.Period), idBatch)
	errs = append(errs, err)
	n, err := inbox.ExpireIDs(ctx, ex, now.Add(-2*opts.Period), idBatch)
	rep.IDs += n
	errs = append(errs, err)
	if _, err := partition.Leftovers(ctx, ex); err != nil {
		errs = append(errs, err)
	}
	if _, err := ex.Exec(ctx, `UPDATE hookd.retention_state SET last_run_at = $1`, now); err != nil {
		errs = append(errs, err)
	}
	for _, p := range rep.Dropped {
		opts.Logger.Info("retention: dropped a partition", slog.String("partition", p.Name),
			slog.Time("until", p.Upper))
	}
	return rep, errors.Join(errs...)
}

// dropHistory carries the range's unfinished work forward, then detaches
// and drops its partitions, noting the feed position dropped.
func dropHistory(ctx context.Context, ex db.Executor, r partition.Range, now time.Time) (int, []partition.Partition, error) {
	carried := 0
	for {
		n, err := carry(ctx, ex, r, now)
		carried += n
		if err != nil {
			return carried, nil, err
		}
		if n < carryBatch {
			break
		}
	}
	dropped, err := partition.Drop(ctx, ex, partition.History, r, func(ctx context.Context, tx pgx.Tx) error {
		// What slipped in since (a replay of an old dead letter).
		for {
			n, err := carry(ctx, tx, r, now)
			if err != nil {
				return err
			}
			carried += n
			if n < carryBatch {
				break
			}
		}
		pos, err := outbox.FeedPosition(ctx, tx, r.Lower, r.Upper)
		if err != nil || pos == (outbox.Cursor{}) {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE hookd.retention_state SET
				dropped_xid = CASE WHEN dropped_xid IS NULL OR dropped_xid < $1::text::xid8 THEN $1::text::xid8 ELSE dropped_xid END,
				dropped_seq = CASE WHEN dropped_xid IS NULL OR dropped_xid < $1::text::xid8 THEN $2 ELSE dropped_seq END,
				dropped_before = greatest(dropped_before, $3)`,
			fmt.Sprint(pos.XID), pos.Seq, r.Upper)
		return err
	})
	return carried, dropped, err
}

// carry moves one batch of the range's unfinished events forward (and the
// range's inbox events still to be processed) and returns how many events.
func carry(ctx context.Context, ex db.Executor, r partition.Range, now time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		if _, err := inbox.CarryForward(ctx, tx, r.Lower, r.Upper, now); err != nil {
			return err
		}
		ids, err := delivery.UnfinishedEvents(ctx, tx, r.Lower, r.Upper, carryBatch)
		if err != nil || len(ids) == 0 {
			return err
		}
		slices.Sort(ids)
		n = len(ids)
		if err := outbox.CarryForward(ctx, tx, ids, r.Lower, r.Upper, now); err != nil {
			return err
		}
		return delivery.CarryForward(ctx, tx, ids, r.Lower, r.Upper, now)
	})
	return n, err
}

// dropAll drops every range of tables ending at or before cutoff.
func dropAll(ctx context.Context, ex db.Executor, tables []string, cutoff time.Time) ([]partition.Partition, error) {
	ranges, err := partition.Expired(ctx, ex, tables, cutoff)
	if err != nil {
		return nil, err
	}
	var out []partition.Partition
	for _, r := range ranges {
		d, err := partition.Drop(ctx, ex, tables, r, nil)
		out = append(out, d...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// notBusy drops the error of a drop that found its tables busy: the next
// run tries again.
func notBusy(err error) error {
	if partition.IsBusy(err) {
		return nil
	}
	return err
}

// State is what retention last did.
type State struct {
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	// DroppedBefore is the upper bound of the newest history dropped.
	DroppedBefore *time.Time `json:"dropped_before,omitempty"`
	// DroppedThrough is the newest feed position dropped.
	DroppedThrough outbox.Cursor `json:"-"`
}

// ReadState returns what retention last did.
func ReadState(ctx context.Context, ex db.Executor) (State, error) {
	var s State
	var xid *string
	var seq *int64
	err := ex.QueryRow(ctx, `SELECT last_run_at, dropped_before, dropped_xid::text, dropped_seq FROM hookd.retention_state`).
		Scan(&s.LastRunAt, &s.DroppedBefore, &xid, &seq)
	if err != nil {
		return s, db.Interpret(err)
	}
	if xid != nil && seq != nil {
		s.DroppedThrough, _ = outbox.ParseCursor(fmt.Sprintf("%s-%d", *xid, *seq))
	}
	return s, nil
}
