package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/validate"
)

// This file holds what keeps a tenant token inside its tenant: every
// object a request names by id is loaded and checked, and another
// tenant's answers db.ErrNotFound exactly as an id that does not exist,
// so that ids cannot be probed. Lists and bulk replays get the token's
// tenant as their filter; naming another tenant is a 400.

// scopedTenant is the tenant a request acts in: a token's own tenant, or
// for an API key the tenant named by the request (raw, field names it in
// an error), which may be empty (every tenant). A token naming another
// tenant is refused rather than quietly given its own: the request meant
// something the token cannot do. The answer is the same whether or not
// that tenant exists, so it tells nothing about other tenants.
// For an API key, a tenant that does not exist is an UnknownTenantError
// (a 404), not an empty answer that would hide a typo.
func (s *server) scopedTenant(ctx context.Context, p principal, raw, field string) (string, error) {
	if p.tenant != "" {
		if raw != "" && raw != p.tenant {
			return "", validate.Errorf(field, "is %q, but this tenant token acts for tenant %q only: leave %s out, or use an API key", raw, p.tenant, field)
		}
		return p.tenant, nil
	}
	if raw == "" {
		return "", nil
	}
	if err := validate.TenantID(field, raw); err != nil {
		return "", err
	}
	if _, err := tenant.Get(ctx, s.pool, raw); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return "", &UnknownTenantError{Field: field, Tenant: raw}
		}
		return "", err
	}
	return raw, nil
}

// tenantQuery reads the tenant= query parameter through scopedTenant.
func (s *server) tenantQuery(r *http.Request) (string, error) {
	return s.scopedTenant(r.Context(), caller(r), r.URL.Query().Get("tenant"), "tenant")
}

// UnknownTenantError is a filter naming a tenant that does not exist.
type UnknownTenantError struct{ Field, Tenant string }

func (e *UnknownTenantError) Error() string {
	return fmt.Sprintf("%s: tenant %q does not exist (GET /v1/tenants lists them)", e.Field, e.Tenant)
}

// Is makes errors.Is(err, db.ErrNotFound) hold.
func (e *UnknownTenantError) Is(target error) bool { return target == db.ErrNotFound }

// visibleEndpoint loads an endpoint the caller may see.
func visibleEndpoint(ctx context.Context, ex db.Executor, p principal, id string) (*endpoint.Endpoint, error) {
	e, err := endpoint.Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	if p.tenant != "" && e.Tenant != p.tenant {
		return nil, db.ErrNotFound
	}
	return e, nil
}

// visibleDelivery loads a delivery the caller may see.
func visibleDelivery(ctx context.Context, ex db.Executor, p principal, id int64) (*delivery.Delivery, error) {
	d, err := delivery.Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	if p.tenant != "" && d.TenantID != p.tenant {
		return nil, db.ErrNotFound
	}
	return d, nil
}

// visibleEvent loads an event the caller may see: a tenant token sees its
// tenant's events and broadcasts, which reach its endpoints too.
func visibleEvent(ctx context.Context, ex db.Executor, p principal, id string) (*outbox.Event, error) {
	ev, err := outbox.Get(ctx, ex, id)
	if err != nil {
		if p.tenant != "" {
			// An aged-out event's message is no secret to its tenant, but
			// the tenant can no longer be told from it: say nothing more.
			return nil, db.ErrNotFound
		}
		return nil, err
	}
	if p.tenant != "" && ev.Tenant != p.tenant && !ev.Broadcast {
		return nil, db.ErrNotFound
	}
	return ev, nil
}

// audited runs change in a transaction and records e in the audit trail
// in the same transaction, as the caller, with the number of rows change
// reports: the change and its entry commit together, or neither does.
// change may fill in e (an id it made).
func (s *server) audited(r *http.Request, e *audit.Entry, change func(tx pgx.Tx) (rows int64, err error)) error {
	ctx := r.Context()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := change(tx)
		if err != nil {
			return err
		}
		e.Actor, e.Via, e.Rows = caller(r).actor, audit.ViaAPI, n
		return audit.Record(ctx, tx, *e)
	})
}
