package endpoint

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// This file holds every query on hookd.endpoints.

const columns = `id, kind, url, description, event_types, secret, coalesce(previous_secret, ''),
	previous_secret_expires_at, enabled, disabled_reason, disabled_at, headers,
	rate_limit, max_in_flight, timeout_ms, body_format, created_at, updated_at, coalesce(tenant_id, ''), ordering`

func scan(row pgx.Row) (*Endpoint, error) {
	var e Endpoint
	var headers []byte
	var timeoutMS int64
	err := row.Scan(&e.ID, &e.Kind, &e.URL, &e.Description, &e.EventTypes, &e.Secret, &e.PreviousSecret,
		&e.PreviousSecretExpiresAt, &e.Enabled, &e.DisabledReason, &e.DisabledAt, &headers,
		&e.RateLimit, &e.MaxInFlight, &timeoutMS, &e.BodyFormat, &e.CreatedAt, &e.UpdatedAt, &e.Tenant, &e.Ordering)
	if err != nil {
		return nil, db.Interpret(err)
	}
	e.Timeout = Duration(time.Duration(timeoutMS) * time.Millisecond)
	if err := json.Unmarshal(headers, &e.Headers); err != nil {
		return nil, err
	}
	if e.Headers == nil {
		e.Headers = map[string]string{}
	}
	return &e, nil
}

// CreateParams describe a new endpoint. Only URL is required.
type CreateParams struct {
	// ID is optional; a new "ep_..." id is made when empty.
	ID          string   `json:"-"`
	Kind        string   `json:"-"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	// Secret is optional; a new whsec_ secret is made when empty.
	Secret      string            `json:"secret"`
	Headers     map[string]string `json:"headers"`
	RateLimit   int               `json:"rate_limit"`
	MaxInFlight int               `json:"max_in_flight"`
	Timeout     Duration          `json:"timeout"`
	// BodyFormat defaults to BodyEnvelope.
	BodyFormat string `json:"body_format"`
	// Disabled creates the endpoint disabled.
	Disabled bool `json:"disabled"`
	// Tenant owns the endpoint; empty for none. The tenant must exist.
	Tenant string `json:"tenant"`
	// Ordering is OrderingConcurrent (the default) or OrderingFIFO.
	Ordering string `json:"ordering"`
}

// Create validates p and inserts the endpoint. Input errors are *validate.Error.
func Create(ctx context.Context, ex db.Executor, p CreateParams) (*Endpoint, error) {
	if err := ValidateURL(p.URL); err != nil {
		return nil, err
	}
	types, err := NormalizeEventTypes(p.EventTypes)
	if err != nil {
		return nil, err
	}
	if err := validateHeaders(p.Headers); err != nil {
		return nil, err
	}
	if err := validateLimits(p.RateLimit, p.MaxInFlight, p.Timeout); err != nil {
		return nil, err
	}
	if p.BodyFormat == "" {
		p.BodyFormat = BodyEnvelope
	}
	if err := validateBodyFormat(p.BodyFormat); err != nil {
		return nil, err
	}
	if p.Ordering == "" {
		p.Ordering = OrderingConcurrent
	}
	if err := validateOrdering(p.Ordering); err != nil {
		return nil, err
	}
	if err := validateTenant(p.Tenant); err != nil {
		return nil, err
	}
	if p.Secret == "" {
		if p.Secret, err = signing.GenerateSecret(); err != nil {
			return nil, err
		}
	} else if err := signing.ValidateSecret(p.Secret); err != nil {
		return nil, validate.Errorf("secret", "%v", err)
	}
	if p.ID == "" {
		p.ID = ids.New("ep")
	}
	if p.Kind == "" {
		p.Kind = KindWebhook
	}
	if p.Headers == nil {
		p.Headers = map[string]string{}
	}
	headers, _ := json.Marshal(p.Headers)
	reason := ""
	if p.Disabled {
		reason = "created disabled"
	}
	var tenant *string
	if p.Tenant != "" {
		tenant = &p.Tenant
	}
	e, err := scan(ex.QueryRow(ctx, `
		INSERT INTO hookd.endpoints (id, kind, url, description, event_types, secret, headers,
			rate_limit, max_in_flight, timeout_ms, enabled, disabled_reason, disabled_at, body_format, tenant_id, ordering)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $11 THEN NULL ELSE now() END, $13, $14, $15)
		RETURNING `+columns,
		p.ID, p.Kind, p.URL, p.Description, types, p.Secret, headers,
		p.RateLimit, p.MaxInFlight, time.Duration(p.Timeout).Milliseconds(), !p.Disabled, reason, p.BodyFormat, tenant, p.Ordering))
	if db.IsForeignKeyViolation(err, "endpoints_tenant_id_fkey") {
		return nil, &UnknownTenantError{Tenant: p.Tenant}
	}
	return e, err
}

// Get returns one endpoint or db.ErrNotFound.
func Get(ctx context.Context, ex db.Executor, id string) (*Endpoint, error) {
	return scan(ex.QueryRow(ctx, `SELECT `+columns+` FROM hookd.endpoints WHERE id = $1`, id))
}

// ListParams filter List. Zero values list every webhook endpoint.
type ListParams struct {
	// Kinds defaults to webhook endpoints only.
	Kinds []string
	// EnabledOnly hides disabled endpoints.
	EnabledOnly bool
	// Tenant keeps one tenant's endpoints (a tenant token's scope).
	Tenant string
}

// List returns endpoints oldest first.
func List(ctx context.Context, ex db.Executor, p ListParams) ([]*Endpoint, error) {
	kinds := p.Kinds
	if len(kinds) == 0 {
		kinds = []string{KindWebhook}
	}
	rows, err := ex.Query(ctx, `SELECT `+columns+` FROM hookd.endpoints
		WHERE kind = ANY($1) AND (enabled OR NOT $2) AND ($3 = '' OR tenant_id = $3) ORDER BY created_at, id`,
		kinds, p.EnabledOnly, p.Tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Endpoint
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateParams change an endpoint; nil fields stay as they are.
type UpdateParams struct {
	URL         *string            `json:"url"`
	Description *string            `json:"description"`
	EventTypes  *[]string          `json:"event_types"`
	Headers     *map[string]string `json:"headers"`
	RateLimit   *int               `json:"rate_limit"`
	MaxInFlight *int               `json:"max_in_flight"`
	Timeout     *Duration          `json:"timeout"`
	BodyFormat  *string            `json:"body_format"`
	Ordering    *string            `json:"ordering"`
	// Enabled enables (resuming held deliveries) or disables the endpoint.
	Enabled *bool `json:"enabled"`
}

// Update applies p in one transaction-safe statement sequence on ex.
// Pass a pgx.Tx to make it atomic with other work; with a pool each step
// is still individually consistent.
func Update(ctx context.Context, ex db.Executor, id string, p UpdateParams) (*Endpoint, error) {
	cur, err := Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	if p.URL != nil {
		if err := ValidateURL(*p.URL); err != nil {
			return nil, err
		}
		cur.URL = *p.URL
	}
	if p.Description != nil {
		cur.Description = *p.Description
	}
	if p.EventTypes != nil {
		if cur.EventTypes, err = NormalizeEventTypes(*p.EventTypes); err != nil {
			return nil, err
		}
	}
	if p.Headers != nil {
		if err := validateHeaders(*p.Headers); err != nil {
			return nil, err
		}
		cur.Headers = *p.Headers
	}
	if p.RateLimit != nil {
		cur.RateLimit = *p.RateLimit
	}
	if p.MaxInFlight != nil {
		cur.MaxInFlight = *p.MaxInFlight
	}
	if p.Timeout != nil {
		cur.Timeout = *p.Timeout
	}
	if p.BodyFormat != nil {
		if err := validateBodyFormat(*p.BodyFormat); err != nil {
			return nil, err
		}
		cur.BodyFormat = *p.BodyFormat
	}
	if p.Ordering != nil {
		if err := validateOrdering(*p.Ordering); err != nil {
			return nil, err
		}
		cur.Ordering = *p.Ordering
	}
	if err := validateLimits(cur.RateLimit, cur.MaxInFlight, cur.Timeout); err != nil {
		return nil, err
	}
	if cur.Headers == nil {
		cur.Headers = map[string]string{}
	}
	headers, _ := json.Marshal(cur.Headers)
	if _, err := ex.Exec(ctx, `UPDATE hookd.endpoints SET url = $2, description = $3, event_types = $4,
		headers = $5, rate_limit = $6, max_in_flight = $7, timeout_ms = $8, body_format = $9, ordering = $10, updated_at = now()
		WHERE id = $1`,
		id, cur.URL, cur.Description, cur.EventTypes, headers, cur.RateLimit, cur.MaxInFlight,
		time.Duration(cur.Timeout).Milliseconds(), cur.BodyFormat, cur.Ordering); err != nil {
		return nil, db.Interpret(err)
	}
	if p.Enabled != nil {
		if *p.Enabled {
			return Enable(ctx, ex, id)
		}
		return Disable(ctx, ex, id, "disabled by an operator")
	}
	return Get(ctx, ex, id)
}

// Delete removes the endpoint with its deliveries and their attempts.
func Delete(ctx context.Context, ex db.Executor, id string) error {
	return pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		if err := delivery.DeleteEndpointWork(ctx, tx, id); err != nil {
			return db.Interpret(err)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM hookd.endpoints WHERE id = $1`, id)
		if err != nil {
			return db.Interpret(err)
		}
		if tag.RowsAffected() == 0 {
			return db.ErrNotFound
		}
		return nil
	})
}

// Disable stops deliveries to the endpoint: its pending deliveries are held
// (not attempted, not aged out) until Enable. Disabling a disabled endpoint
// keeps its first reason. It returns the endpoint as it now is.
func Disable(ctx context.Context, ex db.Executor, id, reason string) (*Endpoint, error) {
	e, _, err := disable(ctx, ex, id, reason)
	return e, err
}

// DisableIfEnabled is Disable that also reports whether this call did it,
// so that exactly one caller raises the alert.
func DisableIfEnabled(ctx context.Context, ex db.Executor, id, reason string) (changed bool, err error) {
	_, changed, err = disable(ctx, ex, id, reason)
	return changed, err
}

func disable(ctx context.Context, ex db.Executor, id, reason string) (*Endpoint, bool, error) {
	var changed bool
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE hookd.endpoints SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
			WHERE id = $1 AND enabled`, id, reason)
		if err != nil {
			return err
		}
		if changed = tag.RowsAffected() > 0; changed {
			_, err = delivery.HoldEndpoint(ctx, tx, id)
		}
		return err
	})
	if err != nil {
		return nil, false, db.Interpret(err)
	}
	e, err := Get(ctx, ex, id)
	return e, changed, err
}

// Enable resumes deliveries: held ones become due at once, and the
// endpoint's failure streak and breaker start afresh.
func Enable(ctx context.Context, ex db.Executor, id string) (*Endpoint, error) {
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE hookd.endpoints SET enabled = true, disabled_reason = '', disabled_at = NULL, updated_at = now()
			WHERE id = $1`, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = delivery.ResumeEndpoint(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, db.Interpret(err)
	}
	return Get(ctx, ex, id)
}

// RotateSecret makes newSecret (or a generated one when empty) current and
// keeps the old one signing for overlap (DefaultSecretOverlap when zero).
func RotateSecret(ctx context.Context, ex db.Executor, id, newSecret string, overlap time.Duration) (*Endpoint, error) {
	var err error
	if newSecret == "" {
		if newSecret, err = signing.GenerateSecret(); err != nil {
			return nil, err
		}
	} else if err := signing.ValidateSecret(newSecret); err != nil {
		return nil, validate.Errorf("secret", "%v", err)
	}
	if overlap < 0 {
		return nil, validate.Errorf("overlap", "must not be negative")
	}
	if overlap == 0 {
		overlap = DefaultSecretOverlap
	}
	return scan(ex.QueryRow(ctx, `
		UPDATE hookd.endpoints SET previous_secret = secret, secret = $2,
			previous_secret_expires_at = now() + $3 * interval '1 millisecond', updated_at = now()
		WHERE id = $1 RETURNING `+columns, id, newSecret, overlap.Milliseconds()))
}

// DeleteTenant deletes a tenant's endpoints and returns how many; call it
// in the transaction that erases the tenant, after its deliveries
// (delivery.EraseTenant).
func DeleteTenant(ctx context.Context, tx pgx.Tx, tenantID string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM hookd.endpoints WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return 0, db.Interpret(err)
	}
	return tag.RowsAffected(), nil
}

// TenantEndpointIDs returns the ids of a tenant's endpoints.
func TenantEndpointIDs(ctx context.Context, ex db.Executor, tenantID string) ([]string, error) {
	rows, err := ex.Query(ctx, `SELECT id FROM hookd.endpoints WHERE tenant_id = $1 ORDER BY id`, tenantID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
