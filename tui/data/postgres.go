package data

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
)

// Postgres is the Source over hookd's database.
type Postgres struct {
	pool *pgxpool.Pool
}

// NewPostgres returns a Source on pool. The caller keeps ownership of the
// pool and closes it after the console has stopped.
func NewPostgres(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

var _ Source = (*Postgres)(nil)

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	var one int
	return p.pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
}

// Endpoints returns webhook and forward endpoints with their health.
func (p *Postgres) Endpoints(ctx context.Context, now time.Time) ([]EndpointRow, error) {
	eps, err := endpoint.List(ctx, p.pool, endpoint.ListParams{Kinds: []string{endpoint.KindWebhook, endpoint.KindForward}})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	if len(ids) == 0 {
		return []EndpointRow{}, nil
	}
	health, err := delivery.HealthOf(ctx, p.pool, ids, now)
	if err != nil {
		return nil, err
	}
	rows := make([]EndpointRow, len(eps))
	for i, e := range eps {
		h := health[e.ID]
		if h == nil {
			h = &delivery.Health{EndpointID: e.ID}
		}
		rows[i] = EndpointRow{Endpoint: e, Health: h}
	}
	return rows, nil
}

// Overview gathers the dashboard from the health and minute rollups and
// index range scans; it never scans the deliveries or events tables whole
// (see queries.go), so it costs the same on a million deliveries as on a
// hundred.
func (p *Postgres) Overview(ctx context.Context, now time.Time) (*Overview, error) {
	eps, err := p.endpointQueues(ctx, now)
	if err != nil {
		return nil, err
	}
	o := &Overview{At: now, SuccessRate: 1, EndpointsTotal: len(eps)}
	var successes int
	for _, r := range eps {
		h := r.Health
		if r.Endpoint.Enabled {
			o.EndpointsEnabled++
		}
		o.Pending += h.Pending
		o.InFlight += h.InFlight
		o.Dead += h.Dead
		o.Held += h.Held
		o.Attempts5m += h.Last5m.Attempts
		successes += h.Last5m.Successes
		if r.Trouble() > 0 {
			o.Trouble = append(o.Trouble, r)
		}
	}
	if o.Attempts5m > 0 {
		o.SuccessRate = float64(successes) / float64(o.Attempts5m)
	}
	slices.SortStableFunc(o.Trouble, func(a, b EndpointRow) int { return b.Trouble() - a.Trouble() })
	if err := p.rates(ctx, now, o); err != nil {
		return nil, err
	}
	if err := p.sparks(ctx, now, o); err != nil {
		return nil, err
	}
	return o, nil
}

// Deliveries pages through deliveries (delivery.List).
func (p *Postgres) Deliveries(ctx context.Context, lp delivery.ListParams) (delivery.Page, error) {
	return delivery.List(ctx, p.pool, lp)
}

// Delivery returns one delivery (delivery.Get).
func (p *Postgres) Delivery(ctx context.Context, id int64) (*delivery.Delivery, error) {
	return delivery.Get(ctx, p.pool, id)
}

// Event returns an event (outbox.Get) and its deliveries (delivery.ForEvent).
func (p *Postgres) Event(ctx context.Context, id string) (*outbox.Event, []delivery.Delivery, error) {
	ev, err := outbox.Get(ctx, p.pool, id)
	if err != nil {
		return nil, nil, err
	}
	ds, err := delivery.ForEvent(ctx, p.pool, id)
	return ev, ds, err
}

// Attempts returns a delivery's attempts (delivery.Attempts).
func (p *Postgres) Attempts(ctx context.Context, id int64) ([]delivery.Attempt, error) {
	return delivery.Attempts(ctx, p.pool, id)
}

// CountMatching is delivery.ReplayMatching's dry run.
func (p *Postgres) CountMatching(ctx context.Context, f delivery.Filter) (int64, error) {
	return delivery.ReplayMatching(ctx, p.pool, delivery.ReplayParams{Filter: f, DryRun: true})
}

// Replay calls delivery.Replay.
func (p *Postgres) Replay(ctx context.Context, id int64) error {
	_, err := delivery.Replay(ctx, p.pool, id)
	return err
}

// ReplayIDs calls delivery.ReplayIDs.
func (p *Postgres) ReplayIDs(ctx context.Context, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, errors.New("no deliveries marked")
	}
	return delivery.ReplayIDs(ctx, p.pool, ids)
}

// ReplayMatching calls delivery.ReplayMatching.
func (p *Postgres) ReplayMatching(ctx context.Context, f delivery.Filter) (int64, error) {
	return delivery.ReplayMatching(ctx, p.pool, delivery.ReplayParams{Filter: f})
}

// EnableEndpoint calls endpoint.Enable.
func (p *Postgres) EnableEndpoint(ctx context.Context, id string) error {
	_, err := endpoint.Enable(ctx, p.pool, id)
	return err
}

// DisableEndpoint calls endpoint.Disable.
func (p *Postgres) DisableEndpoint(ctx context.Context, id, reason string) error {
	_, err := endpoint.Disable(ctx, p.pool, id, reason)
	return err
}
