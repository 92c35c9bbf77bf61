package retention

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/partition"
)

// Stats describe what hookd keeps on disk, for `hookd db stats`, the
// console and metrics. Everything comes from PostgreSQL's catalog and
// estimates (pg_class), so reading it costs next to nothing.
type Stats struct {
	Period time.Duration `json:"-"`
	Span   time.Duration `json:"-"`
	// PeriodText and SpanText are Period and Span as "720h0m0s".
	PeriodText string `json:"retention_period"`
	SpanText   string `json:"partition_span"`
	// Tables are hookd's tables, partitioned ones summed over their
	// partitions, largest first.
	Tables []TableSize `json:"tables"`
	// Partitions are the partitions kept, oldest first.
	Partitions []partition.Sized `json:"partitions"`
	// TotalBytes is every table of hookd's schema.
	TotalBytes int64 `json:"total_bytes"`
	// EventsPerDay and DeliveriesPerDay are estimated from the history
	// partitions kept (rows over the time they cover up to now).
	EventsPerDay     float64 `json:"events_per_day"`
	DeliveriesPerDay float64 `json:"deliveries_per_day"`
	// BytesPerDelivery is the history (events, deliveries, attempts,
	// bodies) on disk per finished delivery kept.
	BytesPerDelivery float64 `json:"bytes_per_delivery"`
	// OldestKept is the lower bound of the oldest history partition that
	// holds events; none when none does.
	OldestKept *time.Time `json:"oldest_kept,omitempty"`
	// NextDrop is when that partition expires.
	NextDrop *time.Time `json:"next_drop,omitempty"`
	State    State      `json:"state"`
}

// TableSize is one table's size on disk.
type TableSize struct {
	Table       string `json:"table"`
	Bytes       int64  `json:"bytes"`
	Rows        int64  `json:"rows_estimate"`
	Partitioned bool   `json:"partitioned"`
}

// ReadStats reads the stats; period is retention.period.
func ReadStats(ctx context.Context, ex db.Executor, period time.Duration, now time.Time) (Stats, error) {
	st := Stats{Period: period, Span: partition.SpanFor(period), PeriodText: period.String()}
	st.SpanText = st.Span.String()
	parts, err := partition.Sizes(ctx, ex)
	if err != nil {
		return st, err
	}
	st.Partitions = parts
	rows, err := ex.Query(ctx, `
		SELECT c.relname, pg_total_relation_size(c.oid), greatest(c.reltuples::bigint, 0)
		FROM pg_class c
		WHERE c.relnamespace = 'hookd'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition`)
	if err != nil {
		return st, err
	}
	plain, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableSize, error) {
		var t TableSize
		err := r.Scan(&t.Table, &t.Bytes, &t.Rows)
		return t, err
	})
	if err != nil {
		return st, err
	}
	byParent := map[string]*TableSize{}
	for _, p := range parts {
		t := byParent[p.Parent]
		if t == nil {
			t = &TableSize{Table: p.Parent, Partitioned: true}
			byParent[p.Parent] = t
		}
		t.Bytes += p.Bytes
		t.Rows += max(p.Rows, 0)
	}
	st.Tables = plain
	for _, t := range byParent {
		st.Tables = append(st.Tables, *t)
	}
	slices.SortFunc(st.Tables, func(a, b TableSize) int { return int(b.Bytes - a.Bytes) })
	var history int64
	for _, t := range st.Tables {
		st.TotalBytes += t.Bytes
		if slices.Contains(partition.History, t.Table) {
			history += t.Bytes
		}
	}
	// The oldest partition that holds events: an empty one (the legacy
	// partition of 1970 a new install has) said "oldest kept 1970" and
	// spread today's events over 56 years.
	var oldest, expires *time.Time
	for _, p := range parts { // oldest first
		if p.Parent != "events" {
			continue
		}
		held, err := partition.HoldsRows(ctx, ex, p.Name)
		if err != nil {
			return st, err
		}
		if held {
			l, e := p.Lower, p.Newest().Add(period)
			oldest, expires = &l, &e
			break
		}
	}
	if oldest != nil {
		st.OldestKept = oldest
		st.NextDrop = expires
		if days := now.Sub(*oldest).Hours() / 24; days > 0 {
			if e := byParent["events"]; e != nil {
				st.EventsPerDay = float64(e.Rows) / days
			}
			if f := byParent["finished"]; f != nil {
				st.DeliveriesPerDay = float64(f.Rows) / days
			}
		}
	}
	if f := byParent["finished"]; f != nil && f.Rows > 0 {
		st.BytesPerDelivery = float64(history) / float64(f.Rows)
	}
	st.State, err = ReadState(ctx, ex)
	return st, err
}
