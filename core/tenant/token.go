package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/validate"
)

// TokenPrefix starts every tenant token, so that one pasted anywhere is
// recognised for what it is.
const TokenPrefix = "hkt_"

// MaxTokenLifetime bounds expires_in.
const MaxTokenLifetime = 10 * 365 * 24 * time.Hour

// Token is a tenant token as listed: never its secret.
type Token struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// NewToken is a token just made, with its secret: shown once.
type NewToken struct {
	Token
	Secret string `json:"token"`
}

// TokenParams describe a new token.
type TokenParams struct {
	Name string `json:"name"`
	// ExpiresIn makes the token stop working after this long; 0 never.
	ExpiresIn time.Duration `json:"-"`
}

func hashToken(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// CreateToken makes a token for the tenant. It fails with db.ErrNotFound
// when the tenant does not exist.
func CreateToken(ctx context.Context, ex db.Executor, tenantID string, p TokenParams) (*NewToken, error) {
	if err := validate.Text("name", p.Name, 256); err != nil {
		return nil, err
	}
	if p.ExpiresIn < 0 || p.ExpiresIn > MaxTokenLifetime {
		return nil, validate.Errorf("expires_in", "must be between 0 (never) and %s", MaxTokenLifetime)
	}
	if ValidateID(tenantID) != nil {
		return nil, db.ErrNotFound
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	var expires *time.Time
	if p.ExpiresIn > 0 {
		e := time.Now().Add(p.ExpiresIn)
		expires = &e
	}
	t := NewToken{Secret: secret}
	err := ex.QueryRow(ctx, `
		INSERT INTO hookd.tenant_tokens (id, tenant_id, name, token_sha256, expires_at)
		SELECT $1, id, $3, $4, $5 FROM hookd.tenants WHERE id = $2
		RETURNING id, tenant_id, name, created_at, expires_at`,
		ids.New("tok"), tenantID, p.Name, hashToken(secret), expires).
		Scan(&t.ID, &t.TenantID, &t.Name, &t.CreatedAt, &t.ExpiresAt)
	if err != nil {
		return nil, db.Interpret(err)
	}
	return &t, nil
}

// ListTokens returns a tenant's tokens, oldest first, without secrets.
func ListTokens(ctx context.Context, ex db.Executor, tenantID string) ([]Token, error) {
	rows, err := ex.Query(ctx, `SELECT id, tenant_id, name, created_at, expires_at, last_used_at
		FROM hookd.tenant_tokens WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) {
		var t Token
		err := r.Scan(&t.ID, &t.TenantID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt)
		return t, err
	})
	if out == nil {
		out = []Token{}
	}
	return out, err
}

// RevokeToken deletes a token of the tenant: it stops working at once. It
// fails with db.ErrNotFound for a token that is not the tenant's.
func RevokeToken(ctx context.Context, ex db.Executor, tenantID, tokenID string) error {
	tag, err := ex.Exec(ctx, `DELETE FROM hookd.tenant_tokens WHERE tenant_id = $1 AND id = $2`, tenantID, tokenID)
	if err != nil {
		return db.Interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return db.ErrNotFound
	}
	return nil
}

// Authentication failures of Authenticate.
var (
	ErrTokenUnknown = errors.New("the tenant token is not valid")
	ErrTokenExpired = errors.New("the tenant token has expired")
)

// IsToken reports whether a bearer credential is a tenant token.
func IsToken(s string) bool { return strings.HasPrefix(s, TokenPrefix) }

// Authenticate returns the token a secret belongs to. It fails with
// ErrTokenUnknown (also for a revoked one) or ErrTokenExpired. The lookup
// is by the secret's SHA-256, so no comparison of secrets takes place. It
// notes the token's last use at most once a minute.
func Authenticate(ctx context.Context, ex db.Executor, secret string) (*Token, error) {
	if !IsToken(secret) || len(secret) > 128 {
		return nil, ErrTokenUnknown
	}
	var t Token
	var expired bool
	err := ex.QueryRow(ctx, `SELECT id, tenant_id, name, created_at, expires_at, last_used_at,
			expires_at IS NOT NULL AND expires_at <= now()
		FROM hookd.tenant_tokens WHERE token_sha256 = $1`, hashToken(secret)).
		Scan(&t.ID, &t.TenantID, &t.Name, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &expired)
	if err != nil {
		if errors.Is(db.Interpret(err), db.ErrNotFound) {
			return nil, ErrTokenUnknown
		}
		return nil, err
	}
	if expired {
		return nil, ErrTokenExpired
	}
	if t.LastUsedAt == nil || time.Since(*t.LastUsedAt) > time.Minute {
		_, _ = ex.Exec(ctx, `UPDATE hookd.tenant_tokens SET last_used_at = now() WHERE id = $1`, t.ID)
	}
	return &t, nil
}
