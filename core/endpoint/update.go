package endpoint

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// Changes to an endpoint's settings (see queries.go for the other
// queries on hookd.endpoints).

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
		if *p.URL == "" {
			// Not "is required": a PATCH requires no field.
			return c, validate.Errorf("url", "is empty; it must be an absolute http:// or https:// URL")
		}
		if err := ValidateURL(*p.URL); err != nil {
			return c, err
		}
		if err := CheckDestination(p.Guard, *p.URL); err != nil {
			return c, err
		}
		if err := checkHostSpelling(*p.URL); err != nil {
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
