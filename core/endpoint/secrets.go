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
	"github.com/hookd/hookd/core/secrets"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

// Secrets' rotation and re-sealing under the current key: the queries on
// hookd.endpoints' secret columns (see queries.go for the others).

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
