package tenant

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/alert"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// Erased counts what erasing a tenant deleted.
type Erased struct {
	Tenant     string `json:"tenant"`
	Endpoints  int64  `json:"endpoints"`
	Events     int64  `json:"events"`
	Deliveries int64  `json:"deliveries"`
	Attempts   int64  `json:"attempts"`
	Tokens     int64  `json:"tokens"`
}

// Erase deletes a tenant and everything of it (endpoints, events,
// deliveries, attempts, tokens, health rollups, pending alerts) in one
// transaction, so no half-erased tenant is ever visible. It waits for
// publishes for the tenant that are under way, and no publish for it
// starts until it is done (they then fail: the tenant is gone). Results of
// attempts in flight arrive to nothing and are dropped. It fails with
// db.ErrNotFound for an unknown tenant.
func Erase(ctx context.Context, ex db.Executor, id string) (*Erased, error) {
	if ValidateID(id) != nil {
		return nil, db.ErrNotFound
	}
	out := &Erased{Tenant: id}
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, outbox.TenantLockClass, id); err != nil {
			return err
		}
		var found bool
		if err := tx.QueryRow(ctx, `SELECT true FROM hookd.tenants WHERE id = $1 FOR UPDATE`, id).Scan(&found); err != nil {
			return db.Interpret(err)
		}
		eps, err := endpoint.TenantEndpointIDs(ctx, tx, id)
		if err != nil {
			return err
		}
		d, err := delivery.EraseTenant(ctx, tx, id, eps)
		if err != nil {
			return err
		}
		out.Deliveries, out.Attempts = d.Deliveries, d.Attempts
		if out.Events, err = outbox.EraseTenant(ctx, tx, id); err != nil {
			return err
		}
		if err := alert.ForgetEndpoints(ctx, tx, eps); err != nil {
			return err
		}
		if out.Endpoints, err = endpoint.DeleteTenant(ctx, tx, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM hookd.tenant_tokens WHERE tenant_id = $1`, id)
		if err != nil {
			return err
		}
		out.Tokens = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM hookd.tenants WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
