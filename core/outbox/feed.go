package outbox

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// Cursor is a position in the events feed. The zero Cursor is the start.
//
// The feed is ordered by (transaction id, seq) and only serves events whose
// transaction is older than every transaction still running. A transaction
// that began early and commits late therefore appears after the cursor of
// anyone who polled before it committed, never behind it: no committed event
// is ever skipped.
type Cursor struct {
	XID uint64
	Seq int64
}

// String encodes the cursor for the API ("" for the start).
func (c Cursor) String() string {
	if c == (Cursor{}) {
		return ""
	}
	return strconv.FormatUint(c.XID, 10) + "-" + strconv.FormatInt(c.Seq, 10)
}

// ParseCursor decodes Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	x, q, ok := strings.Cut(s, "-")
	xid, err1 := strconv.ParseUint(x, 10, 64)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if !ok || err1 != nil || err2 != nil || seq < 0 {
		return Cursor{}, validate.Errorf("after", "%q is not a cursor from this feed (use the next_cursor of a previous page, or omit it to start at the beginning)", s)
	}
	return Cursor{XID: xid, Seq: seq}, nil
}

// FeedParams select a page of the feed.
type FeedParams struct {
	After Cursor
	// Tenant scopes the feed to one tenant: its events and broadcasts.
	Tenant string
	// Types filters like an endpoint's event_types; empty means all.
	Types []string
	// Limit defaults to 100, at most 1000.
	Limit int
}

// FeedPage is one page; Next is where the following page starts (equal to
// After when nothing new is visible yet).
type FeedPage struct {
	Events []Event
	Next   Cursor
	// AgedOut is set when After is older than events retention has
	// dropped: the page continues from the oldest event kept, and some
	// events after After are gone (retention.period).
	AgedOut bool
}

// Feed returns published events after p.After in publish order. Directed
// events (intake forwards, alerts) are not part of the feed. With a tenant
// it returns that tenant's events and broadcast ones, never another
// tenant's.
func Feed(ctx context.Context, ex db.Executor, p FeedParams) (FeedPage, error) {
	if p.Limit <= 0 {
		p.Limit = 100
	}
	if p.Limit > 1000 {
		return FeedPage{}, validate.Errorf("limit", "must be between 1 and 1000")
	}
	types := p.Types
	// The scan covers at most a few pages of non-matching events per call so
	// that a narrow filter cannot make one request read the whole table; the
	// cursor still advances past what was scanned.
	agedOut := false
	if p.After != (Cursor{}) {
		// retention_state holds the newest feed position retention dropped.
		// A cursor naming a transaction that has not even begun came from
		// no page of this feed: followed, it would skip every event until
		// the database caught up with it.
		var ahead bool
		err := ex.QueryRow(ctx, `SELECT coalesce(($1::text::xid8, $2::bigint) < (dropped_xid, dropped_seq), false),
				$1::text::xid8 >= pg_snapshot_xmax(pg_current_snapshot())
			FROM hookd.retention_state`, strconv.FormatUint(p.After.XID, 10), p.After.Seq).Scan(&agedOut, &ahead)
		if err != nil {
			return FeedPage{}, err
		}
		if ahead {
			return FeedPage{}, validate.Errorf("after", "%q is ahead of this feed: no page of it gave that cursor (use the next_cursor of a previous page, or omit it to start at the beginning)", p.After)
		}
	}
	scope := `endpoint_id IS NULL`
	if p.Tenant != "" {
		// Each arm walks its own index in feed order; the union is merged.
		scope = `tenant_id = $5 AND endpoint_id IS NULL`
	}
	query := `
		SELECT ` + eventColumns + `, xid::text::bigint, cardinality($3::text[]) = 0 OR match_types && hookd.type_patterns(type)
		FROM (SELECT *, $3::text[] AS match_types FROM hookd.events
			WHERE (xid, seq) > ($1::text::xid8, $2)
			  AND xid < pg_snapshot_xmin(pg_current_snapshot())
			  AND ` + scope + `
			ORDER BY xid, seq LIMIT $4) e`
	args := []any{strconv.FormatUint(p.After.XID, 10), p.After.Seq, normalizeTypes(types), p.Limit * 10}
	if p.Tenant != "" {
		query = `SELECT * FROM (` + query + `
			UNION ALL
			SELECT ` + eventColumns + `, xid::text::bigint, cardinality($3::text[]) = 0 OR match_types && hookd.type_patterns(type)
			FROM (SELECT *, $3::text[] AS match_types FROM hookd.events
				WHERE (xid, seq) > ($1::text::xid8, $2)
				  AND xid < pg_snapshot_xmin(pg_current_snapshot())
				  AND broadcast
				ORDER BY xid, seq LIMIT $4) b) u
			ORDER BY 10, 1 LIMIT $4`
		args = append(args, p.Tenant)
	}
	rows, err := ex.Query(ctx, query, args...)
	if err != nil {
		return FeedPage{}, err
	}
	defer rows.Close()
	page := FeedPage{Next: p.After, AgedOut: agedOut}
	for rows.Next() {
		var ev Event
		var data string
		var xid int64
		var match bool
		if err := rows.Scan(&ev.Seq, &ev.ID, &ev.Type, &data, &ev.Created, &ev.EndpointID, &ev.Tenant, &ev.Broadcast,
			&ev.StoredAt, &xid, &match); err != nil {
			return FeedPage{}, err
		}
		page.Next = Cursor{XID: uint64(xid), Seq: ev.Seq}
		if !match {
			continue
		}
		ev.Data = []byte(data)
		ev.Created = ev.Created.UTC()
		page.Events = append(page.Events, ev)
		if len(page.Events) == p.Limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return FeedPage{}, fmt.Errorf("read feed: %w", err)
	}
	return page, nil
}

// normalizeTypes turns a feed filter into the patterns endpoints store:
// "*" alone means every type.
func normalizeTypes(types []string) []string {
	out := []string{}
	for _, t := range types {
		if t == "*" {
			return []string{}
		}
		out = append(out, t)
	}
	return out
}
