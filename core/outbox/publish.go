package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
)

// The statement that publishes a batch of events, and what runs around
// it in the same round trip.

// tenantLockClass is the first key of the advisory lock on a tenant that
// publishing takes shared and erasing takes exclusively (core/tenant).
const TenantLockClass = 0x6874 // "ht"

// publish writes events in tx, in one round trip, and reads what it did.
func (p *Publisher) publish(ctx context.Context, tx pgx.Tx, events []Event) ([]Result, error) {
	batch := &pgx.Batch{}
	w := queuePublish(batch, events)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, db.Interpret(err)
	}
	return w.results(ctx, tx, events)
}

// publishOwn writes events in a transaction of its own, begun in the same
// round trip as the writing (pgx's Batch.BeginTx), and commits it.
func (p *Publisher) publishOwn(ctx context.Context, events []Event) (out []Result, err error) {
	batch := &pgx.Batch{}
	batch.BeginTx(pgx.TxOptions{})
	w := queuePublish(batch, events)
	br := p.pool.SendBatch(ctx, batch)
	err = br.Close()
	tx := br.Tx()
	defer func() {
		if rerr := tx.Rollback(ctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) && err == nil {
			err = rerr
		}
	}()
	if err != nil {
		return nil, db.Interpret(err)
	}
	if out, err = w.results(ctx, tx, events); err != nil {
		return nil, err
	}
	return out, tx.Commit(ctx)
}

// written is what the publishing statement wrote: the events it stored,
// by id, and the first unknown tenant named, if any (then it wrote
// nothing).
type written struct {
	made    map[string]made
	unknown string
}

type made struct {
	seq        int64
	created    time.Time
	stored     time.Time
	deliveries int
}

// queuePublish queues into batch the statements that publish events; what
// they wrote is in the returned written once the batch has been read.
func queuePublish(batch *pgx.Batch, events []Event) *written {
	n := len(events)
	var (
		idList    = make([]string, n)
		types     = make([]string, n)
		data      = make([]string, n)
		created   = make([]*time.Time, n)
		directed  = make([]*string, n)
		tenants   = make([]*string, n)
		broadcast = make([]bool, n)
		tenantSet []string
	)
	for i, ev := range events {
		idList[i], types[i], data[i], broadcast[i] = ev.ID, ev.Type, string(ev.Data), ev.Broadcast
		if !ev.Created.IsZero() {
			c := ev.Created.UTC()
			created[i] = &c
		}
		if ev.EndpointID != "" {
			directed[i] = &events[i].EndpointID
		}
		if ev.Tenant != "" {
			tenants[i] = &events[i].Tenant
			tenantSet = append(tenantSet, ev.Tenant)
		}
	}
	slices.Sort(tenantSet)
	tenantSet = slices.Compact(tenantSet)

	if len(tenantSet) > 0 {
		// The lock in a statement of its own: at READ COMMITTED the
		// insert's snapshot then sees any erasure that committed before it
		// was granted.
		batch.Queue(`SELECT count(pg_advisory_xact_lock_shared($1, hashtext(t))) FROM unnest($2::text[]) AS t`,
			TenantLockClass, tenantSet)
		// A transaction at REPEATABLE READ or SERIALIZABLE keeps the
		// snapshot it took before the lock, which may still show a tenant
		// erased since: locking the tenants' rows makes such an erasure a
		// serialization failure (40001), which the producer retries and
		// then learns the tenant is gone. At READ COMMITTED the lock above
		// is enough, and hot tenants' rows are left unlocked.
		batch.Queue(`SELECT count(*) FROM (SELECT 1 FROM hookd.tenants
			WHERE id = ANY($1) AND current_setting('transaction_isolation') <> 'read committed' FOR KEY SHARE) t`, tenantSet)
	}
	// A small batch runs the statement's generic plan: with 100,000
	// endpoints, planning it for one event's values took longer than
	// running it (2.5 ms against 1.4 ms a publish); big batches, where the
	// plan is a small part, keep plans made for their size. The setting is
	// local to the transaction and put back after the statement, so a
	// caller's own statements keep theirs.
	generic := n <= genericPlanBatch
	if generic {
		batch.Queue(`SELECT set_config('hookd.plan_cache_mode', current_setting('plan_cache_mode'), true),
			set_config('plan_cache_mode', 'force_generic_plan', true)`)
	}
	w := &written{made: map[string]made{}}
	batch.Queue(publishSQL, idList, types, data, created, directed, tenants, broadcast, tenantSet).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var m made
			var missing *string
			if err := rows.Scan(&id, &m.seq, &m.created, &m.stored, &m.deliveries, &missing); err != nil {
				return err
			}
			if missing != nil {
				w.unknown = *missing
				continue
			}
			w.made[id] = m
		}
		return rows.Err()
	})
	if generic {
		batch.Queue(`SELECT set_config('plan_cache_mode', current_setting('hookd.plan_cache_mode'), true)`)
	}
	return w
}

// results are the events' results from what was written: an event not
// written repeats an id that exists (or an earlier event of the batch),
// and reports that first event, read in tx.
func (w *written) results(ctx context.Context, tx pgx.Tx, events []Event) ([]Result, error) {
	if w.unknown != "" {
		return nil, &UnknownTenantError{Tenant: w.unknown}
	}
	n := len(events)
	out := make([]Result, n)
	seen := map[string]bool{}
	for i, ev := range events {
		if m, ok := w.made[ev.ID]; ok && !seen[ev.ID] {
			seen[ev.ID] = true
			ev.Seq, ev.Created, ev.StoredAt = m.seq, m.created.UTC(), m.stored
			out[i] = Result{Event: ev, Deliveries: m.deliveries}
			continue
		}
		// The id exists (or repeats an earlier event of this batch):
		// report the first event.
		first, err := Get(ctx, tx, ev.ID)
		if err != nil {
			if errors.Is(err, db.ErrNotFound) {
				// Its id is still reserved although the event aged out.
				out[i] = Result{Event: ev, Duplicate: true}
				continue
			}
			return nil, err
		}
		if first.Tenant != ev.Tenant || first.Broadcast != ev.Broadcast {
			field := "id"
			if n > 1 {
				field = fmt.Sprintf("events[%d].id", i)
			}
			return nil, &IDTakenError{Field: field, ID: ev.ID, Broadcast: first.Tenant == ev.Tenant}
		}
		out[i] = Result{Event: *first, Duplicate: true}
	}
	return out, nil
}

// genericPlanBatch is the largest batch published with the statement's
// generic plan (see publish).
const genericPlanBatch = 8

// publishSQL writes a batch of events and their deliveries in one
// statement: ids are claimed in hookd.event_ids (a repeated id is
// dropped), events inserted, deliveries fanned out. When a tenant named
// does not exist nothing is written and the first such tenant is returned.
var publishSQL = `
WITH input AS (
	SELECT DISTINCT ON (id) * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::bool[])
		WITH ORDINALITY AS i(id, type, data, created, endpoint_id, tenant_id, broadcast, n)
	ORDER BY id, n
), unknown AS (
	SELECT t FROM unnest($8::text[]) AS t WHERE NOT EXISTS (SELECT 1 FROM hookd.tenants WHERE id = t) LIMIT 1
), claimed AS (
	INSERT INTO hookd.event_ids (id, stored_at)
	SELECT id, statement_timestamp() FROM input WHERE NOT EXISTS (SELECT 1 FROM unknown) ORDER BY id
	ON CONFLICT (id) DO NOTHING
	RETURNING id
), ev AS (
	INSERT INTO hookd.events (id, type, data, created_at, endpoint_id, tenant_id, broadcast, fanned_out)
	SELECT i.id, i.type, i.data::json, coalesce(i.created, now()), i.endpoint_id, i.tenant_id, i.broadcast, true
	FROM input i JOIN claimed c ON c.id = i.id
	ORDER BY i.n
	RETURNING seq, id, type, created_at, stored_at, endpoint_id, tenant_id, broadcast
), ` + delivery.FanOutCTE(false) + `
SELECT ev.id, ev.seq, ev.created_at, ev.stored_at, coalesce(f.n, 0)::int, NULL::text
FROM ev LEFT JOIN (SELECT event_id, count(*) AS n FROM fan GROUP BY event_id) f ON f.event_id = ev.id
WHERE ` + delivery.FanOutTail + ` >= 0
UNION ALL
SELECT '', 0, now(), now(), 0, t FROM unknown`
