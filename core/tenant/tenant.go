// Package tenant manages hookd's tenants (the producer's customers), their
// tokens, and erasure.
//
// A tenant has an id chosen by the producer (its customer's id, e.g.
// "cus_42"), an optional name and metadata. Endpoints and events belong to
// one tenant or to none; an event for a tenant reaches only that tenant's
// endpoints (see core/outbox). Tenants are created explicitly: publishing
// for, or creating an endpoint of, a tenant that does not exist fails.
//
// A tenant token ("hkt_...") is a customer-facing API key that sees only
// its tenant's slice of the API. It is shown once when made and stored
// only as its SHA-256.
//
// [Erase] deletes a tenant and everything of it (endpoints, events,
// deliveries, attempts, tokens, health) in one transaction.
//
// All SQL on hookd.tenants and hookd.tenant_tokens lives in this package.
package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// Tenant is one customer of the producer.
type Tenant struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Metadata  json.RawMessage `json:"metadata"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Summary is a tenant with what an operator looks at first.
type Summary struct {
	Tenant
	// Endpoints counts the tenant's endpoints.
	Endpoints int `json:"endpoints"`
	// DeadLetters counts its dead deliveries.
	DeadLetters int `json:"dead_letters"`
}

// MaxMetadataBytes caps a tenant's metadata.
const MaxMetadataBytes = 16 << 10

// ValidateID checks a tenant id: 1 to 128 of A-Z a-z 0-9 . _ : -.
func ValidateID(id string) error { return validate.TenantID("id", id) }

// PutParams are what Put sets; nil fields stay as they are (or take their
// defaults on creation: no name, empty metadata).
type PutParams struct {
	Name     *string          `json:"name"`
	Metadata *json.RawMessage `json:"metadata"`
}

const columns = `id, name, metadata, created_at, updated_at`

func scan(row pgx.Row) (*Tenant, error) {
	var t Tenant
	var meta []byte
	if err := row.Scan(&t.ID, &t.Name, &meta, &t.CreatedAt, &t.UpdatedAt); err != nil {
		return nil, db.Interpret(err)
	}
	t.Metadata = meta
	return &t, nil
}

// PutResult says what Put did.
type PutResult struct {
	// Created: the tenant did not exist.
	Created bool
	// Changed names the fields an update of an existing tenant changed,
	// in the order name, metadata.
	Changed []string
}

// Unchanged: the tenant exists and the fields given hold their values
// already (or none was given); nothing was written.
func (r PutResult) Unchanged() bool { return !r.Created && len(r.Changed) == 0 }

// Put creates the tenant or updates the fields given, and reports which.
// A put that would change nothing writes nothing.
func Put(ctx context.Context, ex db.Executor, id string, p PutParams) (*Tenant, PutResult, error) {
	if err := ValidateID(id); err != nil {
		return nil, PutResult{}, err
	}
	var meta []byte
	if p.Metadata != nil {
		m := *p.Metadata
		if len(m) > MaxMetadataBytes {
			return nil, PutResult{}, validate.Errorf("metadata", "is %d bytes, over the limit of %d", len(m), MaxMetadataBytes)
		}
		// Numbers kept as written: 1e400 is a JSON number, if not a float.
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(m, &obj); err != nil || obj == nil {
			return nil, PutResult{}, validate.Errorf("metadata", "must be a JSON object")
		}
		// Stored as jsonb: what PostgreSQL would refuse is the caller's to mend.
		if path, problem := validate.JSONTextAt(m, true); problem != "" {
			field := "metadata"
			if path != "" {
				field += "." + path
			}
			return nil, PutResult{}, validate.Errorf(field, "%s", problem)
		}
		meta = m
	}
	if p.Name != nil {
		if err := validate.Text("name", *p.Name, 256); err != nil {
			return nil, PutResult{}, err
		}
	}
	var t Tenant
	var metaOut []byte
	var res PutResult
	var nameChanged, metaChanged bool
	// The row as it was, for the fields an update changed: read in the
	// statement's snapshot, so a concurrent put the upsert waited for can
	// make it name a field the other put had changed already.
	err := ex.QueryRow(ctx, `
		WITH old AS (
			SELECT name, metadata FROM hookd.tenants WHERE id = $1
		), put AS (
			INSERT INTO hookd.tenants AS t (id, name, metadata) VALUES ($1, coalesce($2, ''), coalesce($3::jsonb, '{}'))
			ON CONFLICT (id) DO UPDATE SET
				name = coalesce($2, t.name), metadata = coalesce($3::jsonb, t.metadata), updated_at = now()
			WHERE t.name IS DISTINCT FROM coalesce($2, t.name) OR t.metadata IS DISTINCT FROM coalesce($3::jsonb, t.metadata)
			RETURNING `+columns+`, xmax = 0 AS created
		)
		SELECT put.*, old.name IS DISTINCT FROM put.name, old.metadata IS DISTINCT FROM put.metadata
		FROM put LEFT JOIN old ON true`, id, p.Name, meta).Scan(&t.ID, &t.Name, &metaOut, &t.CreatedAt, &t.UpdatedAt,
		&res.Created, &nameChanged, &metaChanged)
	if errors.Is(err, pgx.ErrNoRows) {
		// It exists, holding what was given already.
		got, err := Get(ctx, ex, id)
		return got, PutResult{}, err
	}
	if err != nil {
		return nil, PutResult{}, db.Interpret(err)
	}
	t.Metadata = metaOut
	if !res.Created {
		if nameChanged {
			res.Changed = append(res.Changed, "name")
		}
		if metaChanged {
			res.Changed = append(res.Changed, "metadata")
		}
	}
	return &t, res, nil
}

// Get returns one tenant or db.ErrNotFound.
func Get(ctx context.Context, ex db.Executor, id string) (*Tenant, error) {
	if ValidateID(id) != nil {
		return nil, db.ErrNotFound
	}
	return scan(ex.QueryRow(ctx, `SELECT `+columns+` FROM hookd.tenants WHERE id = $1`, id))
}

// GetSummary returns one tenant with its counts, or db.ErrNotFound.
func GetSummary(ctx context.Context, ex db.Executor, id string) (*Summary, error) {
	if ValidateID(id) != nil {
		return nil, db.ErrNotFound
	}
	rows, err := ex.Query(ctx, `SELECT `+summaryColumns+` FROM hookd.tenants t WHERE t.id = $1`, id)
	if err != nil {
		return nil, err
	}
	s, err := pgx.CollectExactlyOneRow(rows, scanSummary)
	if err != nil {
		return nil, db.Interpret(err)
	}
	return &s, nil
}

// summaryColumns are a tenant t's columns and counts, each count an index
// range of that tenant's rows.
const summaryColumns = `t.id, t.name, t.metadata, t.created_at, t.updated_at,
	(SELECT count(*) FROM hookd.endpoints e WHERE e.tenant_id = t.id),
	(SELECT count(*) FROM hookd.finished f WHERE f.tenant_id = t.id AND f.state = 'dead')`

func scanSummary(r pgx.CollectableRow) (Summary, error) {
	var s Summary
	var meta []byte
	err := r.Scan(&s.ID, &s.Name, &meta, &s.CreatedAt, &s.UpdatedAt, &s.Endpoints, &s.DeadLetters)
	s.Metadata = meta
	return s, err
}

// ListParams page through tenants by id.
type ListParams struct {
	// After is the id to continue after (the previous page's Next).
	After string
	// Limit defaults to 100, at most 1000.
	Limit int
}

// Page is one page of tenants; Next is "" when there are no more.
type Page struct {
	Tenants []Summary `json:"tenants"`
	Next    string    `json:"next,omitempty"`
}

// List returns tenants in id order with their endpoint and dead-letter
// counts (index ranges per tenant on the page, never a scan of all).
func List(ctx context.Context, ex db.Executor, p ListParams) (Page, error) {
	if p.Limit == 0 {
		p.Limit = 100
	}
	if p.Limit < 1 || p.Limit > 1000 {
		return Page{}, validate.Errorf("limit", "must be between 1 and 1000")
	}
	if p.After != "" && ValidateID(p.After) != nil {
		return Page{}, validate.Errorf("after", "%q is not a tenant id (use the next of a previous page)", p.After)
	}
	rows, err := ex.Query(ctx, `SELECT `+summaryColumns+`
		FROM hookd.tenants t WHERE t.id > $1 ORDER BY t.id LIMIT $2`, p.After, p.Limit+1)
	if err != nil {
		return Page{}, err
	}
	out, err := pgx.CollectRows(rows, scanSummary)
	if err != nil {
		return Page{}, err
	}
	page := Page{Tenants: out}
	if len(out) > p.Limit {
		page.Tenants = out[:p.Limit]
		page.Next = out[p.Limit-1].ID
	}
	if page.Tenants == nil {
		page.Tenants = []Summary{}
	}
	return page, nil
}

// ErrNoTenant is returned for a tenant that does not exist.
var ErrNoTenant = errors.New("no such tenant")
