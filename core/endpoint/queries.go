package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// This file, update.go (changes to an endpoint's settings) and secrets.go
// (the secrets' rotation and re-sealing) hold every query on
// hookd.endpoints.

const columns = `id, kind, url, description, event_types, secret, coalesce(previous_secret, ''),
	previous_secret_expires_at, enabled, disabled_reason, disabled_at, headers,
	rate_limit, max_in_flight, timeout_ms, body_format, trusted, signatures, coalesce(signing_key, ''),
	coalesce(public_key, ''), created_at, updated_at, coalesce(tenant_id, ''), ordering`

func scan(row pgx.Row) (*Endpoint, error) {
	var e Endpoint
	var headers []byte
	var timeoutMS int64
	err := row.Scan(&e.ID, &e.Kind, &e.URL, &e.Description, &e.EventTypes, &e.Secret, &e.PreviousSecret,
		&e.PreviousSecretExpiresAt, &e.Enabled, &e.DisabledReason, &e.DisabledAt, &headers,
		&e.RateLimit, &e.MaxInFlight, &timeoutMS, &e.BodyFormat, &e.Trusted, &e.Signatures, &e.SigningKey,
		&e.PublicKey, &e.CreatedAt, &e.UpdatedAt, &e.Tenant, &e.Ordering)
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
	// Secrets and header values are stored sealed (core/secrets).
	if err := secrets.OpenAll(&e.Secret, &e.PreviousSecret, &e.SigningKey); err != nil {
		return nil, fmt.Errorf("endpoint %s: secret: %w", e.ID, err)
	}
	if err := secrets.OpenMap(e.Headers); err != nil {
		return nil, fmt.Errorf("endpoint %s: header %w", e.ID, err)
	}
	return &e, nil
}

// sealHeaders renders custom headers for the headers column: names in the
// clear, values sealed.
func sealHeaders(h map[string]string) ([]byte, error) {
	if h == nil {
		h = map[string]string{}
	}
	sealed, err := secrets.SealMap(h)
	if err != nil {
		return nil, err
	}
	return json.Marshal(sealed)
}

// CreateParams describe a new endpoint. Only URL is required.
type CreateParams struct {
	// ID is optional; a new "ep_..." id is made when empty.
	ID   string `json:"-"`
	Kind string `json:"-"`
	// Trusted exempts the endpoint from the outbound address guard: only
	// for the operator's own targets from the configuration (alerts.url,
	// forward_to of intake.sources). Never set from a request.
	Trusted     bool     `json:"-"`
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
	// Signatures defaults to signing.VersionsHMAC; with v1a an ed25519
	// key pair is made for the endpoint.
	Signatures string `json:"signatures"`
	// Disabled creates the endpoint disabled.
	Disabled bool `json:"disabled"`
	// Tenant owns the endpoint; empty for none. The tenant must exist.
	Tenant string `json:"tenant"`
	// Ordering is OrderingConcurrent (the default) or OrderingFIFO.
	Ordering string `json:"ordering"`
	// Guard, when set, refuses a URL whose host is an address it blocks
	// (loopback, private, metadata...) now, rather than at every attempt.
	// The API and the CLI set it from delivery.allowed_networks; names are
	// checked again at every dial. Ignored for a Trusted endpoint.
	Guard *netguard.Guard `json:"-"`
}

// Create validates p and inserts the endpoint. Input errors are *validate.Error.
func Create(ctx context.Context, ex db.Executor, p CreateParams) (*Endpoint, error) {
	if err := ValidateURL(p.URL); err != nil {
		return nil, err
	}
	if !p.Trusted {
		if err := CheckDestination(p.Guard, p.URL); err != nil {
			return nil, err
		}
	}
	if err := checkHostSpelling(p.URL); err != nil {
		return nil, err
	}
	if err := validateDescription(p.Description); err != nil {
		return nil, err
	}
	types, err := endpointEventTypes(p.EventTypes)
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
	if p.Signatures == "" {
		p.Signatures = signing.VersionsHMAC
	}
	if err := validateSignatures(p.Signatures); err != nil {
		return nil, err
	}
	signingKey, publicKey, err := keyPairFor(p.Signatures)
	if err != nil {
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
	headers, err := sealHeaders(p.Headers)
	if err != nil {
		return nil, err
	}
	secret, err := secrets.Seal(p.Secret)
	if err != nil {
		return nil, err
	}
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
			rate_limit, max_in_flight, timeout_ms, enabled, disabled_reason, disabled_at, body_format, trusted,
			signatures, signing_key, public_key, tenant_id, ordering)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $11 THEN NULL ELSE now() END, $13, $14,
			$15, $16, $17, $18, $19)
		RETURNING `+columns,
		p.ID, p.Kind, p.URL, p.Description, types, secret, headers,
		p.RateLimit, p.MaxInFlight, time.Duration(p.Timeout).Milliseconds(), !p.Disabled, reason, p.BodyFormat, p.Trusted,
		p.Signatures, signingKey, publicKey, tenant, p.Ordering))
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

// refusal says why a change to id touched no row: it does not exist
// (db.ErrNotFound), or it is one of hookd's own endpoints (a
// *validate.Error). It is nil for a webhook endpoint.
func refusal(ctx context.Context, ex db.Executor, id string) error {
	var kind string
	if err := ex.QueryRow(ctx, `SELECT kind FROM hookd.endpoints WHERE id = $1`, id).Scan(&kind); err != nil {
		return db.Interpret(err)
	}
	if kind == KindWebhook {
		return nil
	}
	return ownError(id, kind)
}

func ownError(id, kind string) error {
	return validate.Errorf("id", "endpoint %s is hookd's own %s endpoint; change it through its source or alerts.url instead", id, kind)
}

// Delete removes the endpoint with its deliveries and their attempts.
// hookd's own endpoints are refused with a *validate.Error; see DeleteOwn.
func Delete(ctx context.Context, ex db.Executor, id string) error {
	return remove(ctx, ex, id, false)
}

// DeleteOwn is Delete for hookd's own endpoints too (a source that stops
// forwarding). A missing endpoint is not an error.
func DeleteOwn(ctx context.Context, ex db.Executor, id string) error {
	err := remove(ctx, ex, id, true)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return err
}

func remove(ctx context.Context, ex db.Executor, id string, own bool) error {
	return pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		var kind string
		err := tx.QueryRow(ctx, `SELECT kind FROM hookd.endpoints WHERE id = $1 FOR UPDATE`, id).Scan(&kind)
		if err != nil {
			return db.Interpret(err)
		}
		if kind != KindWebhook && !own {
			return ownError(id, kind)
		}
		if err := delivery.DeleteEndpointWork(ctx, tx, id); err != nil {
			return db.Interpret(err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM hookd.endpoints WHERE id = $1`, id)
		return db.Interpret(err)
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
	if err := ValidateReason(reason); err != nil {
		return nil, false, err
	}
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

// inTx runs fn in a transaction on ex (a savepoint when ex is a pgx.Tx).
func inTx(ctx context.Context, ex db.Executor, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, ex, fn)
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
