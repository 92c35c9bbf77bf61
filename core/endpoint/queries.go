package endpoint

import (
	"cmp"
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

// This file holds every query on hookd.endpoints.

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
	// Signatures changes what webhook-signature carries; turning v1a on
	// makes the endpoint's ed25519 key pair if it has none (a key, once
	// made, is kept when v1a is turned off and on again).
	Signatures *string `json:"signatures"`
	// Enabled enables (resuming held deliveries) or disables the endpoint.
	Enabled *bool `json:"enabled"`
	// Trusted changes the address guard's exemption; only UpdateOwn
	// applies it. Never set from a request.
	Trusted *bool `json:"-"`
	// Guard, when set, checks a new URL as CreateParams.Guard does.
	Guard *netguard.Guard `json:"-"`
}

// Update changes the fields p gives and no others, in one statement, so
// that concurrent updates of different fields all take effect (the last
// writer of a field wins). Enabled, when given, is applied in the same
// transaction. hookd's own endpoints (KindAlert, KindForward) are refused
// with a *validate.Error naming "id": they follow the configuration and
// their sources; see UpdateOwn. Only enabling or disabling them is
// allowed, as Enable and Disable allow it.
func Update(ctx context.Context, ex db.Executor, id string, p UpdateParams) (*Endpoint, error) {
	return update(ctx, ex, id, p, p.onlyEnabled())
}

// onlyEnabled reports whether p changes nothing but Enabled.
func (p UpdateParams) onlyEnabled() bool {
	return p.Enabled != nil && p == UpdateParams{Enabled: p.Enabled, Guard: p.Guard}
}

// UpdateOwn is Update for hookd's own endpoints too: for the code that
// keeps them in line with the configuration (alerts, intake sources).
func UpdateOwn(ctx context.Context, ex db.Executor, id string, p UpdateParams) (*Endpoint, error) {
	return update(ctx, ex, id, p, true)
}

func update(ctx context.Context, ex db.Executor, id string, p UpdateParams, own bool) (*Endpoint, error) {
	set, err := p.columns()
	if err != nil {
		if !own {
			// Refusing one of hookd's own endpoints says more than what
			// is wrong with a change it would not get anyway.
			var v *validate.Error
			if errors.As(refusal(ctx, ex, id), &v) {
				return nil, v
			}
		}
		return nil, err
	}
	var out *Endpoint
	err = inTx(ctx, ex, func(tx pgx.Tx) error {
		e, err := scan(tx.QueryRow(ctx, `
			UPDATE hookd.endpoints SET
				url = coalesce($2, url),
				description = coalesce($3, description),
				event_types = coalesce($4::text[], event_types),
				headers = coalesce($5::jsonb, headers),
				rate_limit = coalesce($6::integer, rate_limit),
				max_in_flight = coalesce($7::integer, max_in_flight),
				timeout_ms = coalesce($8::integer, timeout_ms),
				body_format = coalesce($9, body_format),
				ordering = coalesce($15, ordering),
				trusted = CASE WHEN $10 THEN coalesce($11::boolean, trusted) ELSE trusted END,
				signatures = coalesce($12, signatures),
				signing_key = coalesce(signing_key, $13),
				public_key = CASE WHEN signing_key IS NULL THEN $14 ELSE public_key END,
				updated_at = now()
			WHERE id = $1 AND (kind = 'webhook' OR $10)
			RETURNING `+columns,
			id, set.url, set.description, set.eventTypes, set.headers, set.rateLimit, set.maxInFlight,
			set.timeoutMS, set.bodyFormat, own, p.Trusted, set.signatures, set.signingKey, set.publicKey, set.ordering))
		if errors.Is(err, db.ErrNotFound) {
			return cmp.Or(refusal(ctx, tx, id), err)
		}
		if err != nil {
			return err
		}
		switch {
		case p.Enabled == nil:
			out = e
		case *p.Enabled:
			out, err = Enable(ctx, tx, id)
		default:
			out, err = Disable(ctx, tx, id, "disabled by an operator")
		}
		return err
	})
	return out, err
}

// updateColumns are the new values of an update, nil where unchanged.
type updateColumns struct {
	url, description, bodyFormat, signatures, signingKey, publicKey, ordering *string
	eventTypes                                                                []string
	headers                                                                   []byte
	rateLimit, maxInFlight                                                    *int
	timeoutMS                                                                 *int64
}

// columns validates the fields given and renders them for the update.
func (p UpdateParams) columns() (updateColumns, error) {
	var c updateColumns
	if p.URL != nil {
		if err := ValidateURL(*p.URL); err != nil {
			return c, err
		}
		if err := CheckDestination(p.Guard, *p.URL); err != nil {
			return c, err
		}
		c.url = p.URL
	}
	if p.Description != nil {
		if err := validateDescription(*p.Description); err != nil {
			return c, err
		}
		c.description = p.Description
	}
	if p.EventTypes != nil {
		types, err := endpointEventTypes(*p.EventTypes)
		if err != nil {
			return c, err
		}
		c.eventTypes = types
	}
	if p.Headers != nil {
		if err := validateHeaders(*p.Headers); err != nil {
			return c, err
		}
		var err error
		if c.headers, err = sealHeaders(*p.Headers); err != nil {
			return c, err
		}
	}
	var timeout Duration
	if p.Timeout != nil {
		timeout = *p.Timeout
		ms := time.Duration(timeout).Milliseconds()
		c.timeoutMS = &ms
	}
	rate, inFlight := 0, 0
	if p.RateLimit != nil {
		rate, c.rateLimit = *p.RateLimit, p.RateLimit
	}
	if p.MaxInFlight != nil {
		inFlight, c.maxInFlight = *p.MaxInFlight, p.MaxInFlight
	}
	if err := validateLimits(rate, inFlight, timeout); err != nil {
		return c, err
	}
	if p.BodyFormat != nil {
		if err := validateBodyFormat(*p.BodyFormat); err != nil {
			return c, err
		}
		c.bodyFormat = p.BodyFormat
	}
	if p.Ordering != nil {
		if err := validateOrdering(*p.Ordering); err != nil {
			return c, err
		}
		c.ordering = p.Ordering
	}
	if p.Signatures != nil {
		if err := validateSignatures(*p.Signatures); err != nil {
			return c, err
		}
		c.signatures = p.Signatures
		// A pair in case the endpoint has none yet; one it has is kept.
		sk, pk, err := keyPairFor(*p.Signatures)
		if err != nil {
			return c, err
		}
		if sk != nil {
			c.signingKey, c.publicKey = sk, pk
		}
	}
	return c, nil
}

// keyPairFor returns a new ed25519 key pair, the signing key sealed, when
// versions signs v1a; nils otherwise.
func keyPairFor(versions string) (signingKey, publicKey *string, err error) {
	if versions == signing.VersionsHMAC {
		return nil, nil, nil
	}
	sk, pk, err := signing.GenerateSigningKey()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := secrets.Seal(sk)
	if err != nil {
		return nil, nil, err
	}
	return &sealed, &pk, nil
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

// RotateSecret makes newSecret (or a generated one when empty) current and
// keeps the old one signing for overlap (DefaultSecretOverlap when zero,
// at most MaxSecretOverlap). hookd's own endpoints are refused with a
// *validate.Error; see RotateOwnSecret.
func RotateSecret(ctx context.Context, ex db.Executor, id, newSecret string, overlap time.Duration) (*Endpoint, error) {
	return rotate(ctx, ex, id, newSecret, overlap, false)
}

// RotateOwnSecret is RotateSecret for hookd's own endpoints too.
func RotateOwnSecret(ctx context.Context, ex db.Executor, id, newSecret string, overlap time.Duration) (*Endpoint, error) {
	return rotate(ctx, ex, id, newSecret, overlap, true)
}

func rotate(ctx context.Context, ex db.Executor, id, newSecret string, overlap time.Duration, own bool) (*Endpoint, error) {
	var err error
	if newSecret == "" {
		if newSecret, err = signing.GenerateSecret(); err != nil {
			return nil, err
		}
	} else if err := signing.ValidateSecret(newSecret); err != nil {
		return nil, validate.Errorf("secret", "%v", err)
	}
	if overlap < 0 || overlap > MaxSecretOverlap {
		return nil, validate.Errorf("overlap", "must be between 0 (the default, %s) and %s", DefaultSecretOverlap, MaxSecretOverlap)
	}
	if overlap == 0 {
		overlap = DefaultSecretOverlap
	}
	sealed, err := secrets.Seal(newSecret)
	if err != nil {
		return nil, err
	}
	e, err := scan(ex.QueryRow(ctx, `
		UPDATE hookd.endpoints SET previous_secret = secret, secret = $2,
			previous_secret_expires_at = now() + $3 * interval '1 millisecond', updated_at = now()
		WHERE id = $1 AND (kind = 'webhook' OR $4) RETURNING `+columns, id, sealed, overlap.Milliseconds(), own))
	if errors.Is(err, db.ErrNotFound) {
		return nil, cmp.Or(refusal(ctx, ex, id), err)
	}
	return e, err
}

// SetOwnSecret replaces the secret of one of hookd's own endpoints with no
// overlap: for an intake forward target, whose internal service is given
// the new secret at the same time.
func SetOwnSecret(ctx context.Context, ex db.Executor, id, secret string) error {
	if err := signing.ValidateSecret(secret); err != nil {
		return validate.Errorf("secret", "%v", err)
	}
	sealed, err := secrets.Seal(secret)
	if err != nil {
		return err
	}
	tag, err := ex.Exec(ctx, `UPDATE hookd.endpoints SET secret = $2, previous_secret = NULL,
		previous_secret_expires_at = NULL, updated_at = now() WHERE id = $1`, id, sealed)
	if err == nil && tag.RowsAffected() == 0 {
		err = db.ErrNotFound
	}
	return err
}

// inTx runs fn in a transaction on ex (a savepoint when ex is a pgx.Tx).
func inTx(ctx context.Context, ex db.Executor, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, ex, fn)
}

// Reseal re-seals under the current key of the process keyring (see
// core/secrets) the secrets and header values of up to batch endpoints
// holding a value sealed under another key, or stored before encryption
// at rest, and returns how many endpoints it changed: call it until it
// returns 0. Rows another caller is re-sealing are skipped. A value that
// no key of the keyring opens is an error naming the endpoint.
func Reseal(ctx context.Context, ex db.Executor, batch int) (int, error) {
	kr := secrets.Default()
	n := 0
	err := inTx(ctx, ex, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT id, secret, coalesce(previous_secret, ''), coalesce(signing_key, ''), headers FROM hookd.endpoints
			WHERE secret NOT LIKE $1
			   OR (previous_secret <> '' AND previous_secret NOT LIKE $1)
			   OR (signing_key <> '' AND signing_key NOT LIKE $1)
			   OR EXISTS (SELECT 1 FROM jsonb_each_text(headers) h WHERE h.value <> '' AND h.value NOT LIKE $1)
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`, kr.CurrentPrefix()+"%", batch)
		if err != nil {
			return err
		}
		type row struct {
			id, secret, previous, signingKey string
			headers                          map[string]string
		}
		stale, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.secret, &x.previous, &x.signingKey, &x.headers)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range stale {
			if err := resealRow(kr, x.headers, &x.secret, &x.previous, &x.signingKey); err != nil {
				return fmt.Errorf("endpoint %s: %w", x.id, err)
			}
			headers, _ := json.Marshal(x.headers)
			if _, err := tx.Exec(ctx, `UPDATE hookd.endpoints SET secret = $2, previous_secret = nullif($3, ''),
				signing_key = nullif($4, ''), headers = $5 WHERE id = $1`,
				x.id, x.secret, x.previous, x.signingKey, headers); err != nil {
				return err
			}
		}
		n = len(stale)
		return nil
	})
	return n, err
}

func resealRow(kr *secrets.Keyring, headers map[string]string, values ...*string) error {
	var err error
	for _, v := range values {
		if *v, err = kr.Reseal(*v); err != nil {
			return err
		}
	}
	for k, v := range headers {
		if headers[k], err = kr.Reseal(v); err != nil {
			return fmt.Errorf("header %s: %w", k, err)
		}
	}
	return nil
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
