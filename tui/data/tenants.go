package data

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the tenants view's reads. A page of tenants is read by
// primary key; each tenant's counts by index ranges of that tenant only
// (endpoints_tenant_all, queue_tenant, endpoint_health and finished_dead
// of its endpoints), each bounded by TenantCountCap endpoints; the tenants
// in trouble are those of the endpoints in trouble (overview.go) and of
// the newest dead letters (finished_dead_id): nothing is aggregated over
// all tenants.

// Tenants reads a page of tenants, or the ids given, with their counts,
// and (without ids) the tenants in trouble.
func (p *Postgres) Tenants(ctx context.Context, q TenantQuery) (TenantPage, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	out := TenantPage{Rows: []TenantRow{}}
	if q.IDs != nil && len(q.IDs) == 0 {
		return out, nil
	}
	var ids []string
	var err error
	if q.IDs != nil {
		rows, qerr := p.pool.Query(ctx, `SELECT id FROM hookd.tenants WHERE id = ANY($1) AND id > $2 ORDER BY id LIMIT $3`,
			q.IDs, q.After, q.Limit+1)
		ids, err = collectIDs(rows, qerr)
		out.Total = len(q.IDs)
	} else {
		rows, qerr := p.pool.Query(ctx, `SELECT id FROM hookd.tenants WHERE id > $1 ORDER BY id LIMIT $2`, q.After, q.Limit+1)
		ids, err = collectIDs(rows, qerr)
		if err == nil {
			err = p.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM hookd.tenants LIMIT $1) s`, TotalCap+1).Scan(&out.Total)
		}
	}
	if err != nil {
		return out, err
	}
	if len(ids) > q.Limit {
		ids = ids[:q.Limit]
		out.Next = ids[q.Limit-1]
	}
	if out.Rows, err = p.tenantRows(ctx, ids); err != nil {
		return out, err
	}
	if q.IDs == nil {
		out.Trouble, err = p.troubledTenants(ctx, q.Now)
	}
	return out, err
}

func collectIDs(rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// tenantRows reads the given tenants with their counts, in id order.
func (p *Postgres) tenantRows(ctx context.Context, ids []string) ([]TenantRow, error) {
	if len(ids) == 0 {
		return []TenantRow{}, nil
	}
	rows, err := p.pool.Query(ctx, `
		SELECT t.id, t.name, e.n, e.disabled, e.failing, e.breakers,
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue q WHERE q.tenant_id = t.id LIMIT $2) b),
			e.dead
		FROM hookd.tenants t, LATERAL (
			SELECT count(*)::int AS n, count(*) FILTER (WHERE NOT te.enabled)::int AS disabled,
				count(*) FILTER (WHERE h.consecutive_failures > 0 OR h.breaker_opened_at IS NOT NULL)::int AS failing,
				count(*) FILTER (WHERE h.breaker_opened_at IS NOT NULL)::int AS breakers,
				coalesce(sum(dl.n), 0)::bigint AS dead
			FROM (SELECT id, enabled FROM hookd.endpoints WHERE tenant_id = t.id LIMIT $2) te
			-- LATERAL: one primary key lookup per endpoint, whatever the
			-- size of endpoint_health.
			LEFT JOIN LATERAL (
				SELECT h.consecutive_failures, h.breaker_opened_at FROM hookd.endpoint_health h WHERE h.endpoint_id = te.id
			) h ON true
			LEFT JOIN LATERAL (
				SELECT count(*) AS n FROM hookd.finished f WHERE f.endpoint_id = te.id AND f.state = 'dead'
			) dl ON true
		) e
		WHERE t.id = ANY($1)
		ORDER BY t.id`, ids, TenantCountCap+1)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TenantRow, error) {
		var t TenantRow
		err := r.Scan(&t.ID, &t.Name, &t.Endpoints, &t.Disabled, &t.Failing, &t.BreakersOpen, &t.Backlog, &t.Dead)
		return t, err
	})
}

// troubledTenants returns the tenants in trouble, worst first: those of
// the endpoints in trouble and of the newest dead letters.
func (p *Postgres) troubledTenants(ctx context.Context, now time.Time) ([]TenantRow, error) {
	eps, err := p.troubleIDs(ctx, now, nil)
	if err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, `
		SELECT tenant_id FROM hookd.endpoints WHERE id = ANY($1) AND tenant_id IS NOT NULL
		UNION
		SELECT tenant_id FROM (SELECT tenant_id FROM hookd.finished WHERE state = 'dead' ORDER BY id DESC LIMIT $2) d
		WHERE tenant_id IS NOT NULL`, eps, 20*troubleCandidates)
	ids, err := collectIDs(rows, err)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	all, err := p.tenantRows(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if t.Failing+t.Disabled > 0 || t.Dead > 0 {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b TenantRow) int {
		switch {
		case a.Trouble() > b.Trouble():
			return -1
		case a.Trouble() < b.Trouble():
			return 1
		}
		return 0
	})
	if len(out) > MaxTrouble {
		out = out[:MaxTrouble]
	}
	return out, nil
}

// FindTenants matches text in tenants' ids and names. It reads the
// tenants table, so it runs when a filter is applied, never on refresh.
func (p *Postgres) FindTenants(ctx context.Context, text string, limit int) ([]string, error) {
	like := "%" + likeEscape(text) + "%"
	rows, err := p.pool.Query(ctx, `SELECT id FROM hookd.tenants WHERE id = $1 OR id ILIKE $2 OR name ILIKE $2
		ORDER BY id LIMIT $3`, text, like, limit)
	return collectIDs(rows, err)
}
