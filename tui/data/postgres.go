package data

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/netguard"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/validate"
)

// Postgres is the Source over hookd's database. It is safe for
// concurrent use: one serves every console session of a process.
type Postgres struct {
	pool   *pgxpool.Pool
	period time.Duration
	guard  *netguard.Guard // checks a URL an edit sets, as the CLI and the API do
	series series
}

// Option configures a Postgres source.
type Option func(*Postgres)

// WithRetention gives the source retention.period, which Storage needs
// to tell when history is dropped next. Defaults to
// config.DefaultRetentionPeriod.
func WithRetention(period time.Duration) Option {
	return func(p *Postgres) {
		if period > 0 {
			p.period = period
		}
	}
}

// WithAllowedNetworks gives the source delivery.allowed_networks: an edit
// may aim an endpoint at those networks, as the CLI's and the API's may.
// Without it, only public addresses are allowed.
func WithAllowedNetworks(allowed []netip.Prefix) Option {
	return func(p *Postgres) { p.guard = netguard.New(allowed) }
}

// NewPostgres returns a Source on pool. The caller keeps ownership of the
// pool and closes it after the console has stopped.
func NewPostgres(pool *pgxpool.Pool, opts ...Option) *Postgres {
	p := &Postgres{pool: pool, period: config.DefaultRetentionPeriod, guard: netguard.New(nil)}
	for _, o := range opts {
		o(p)
	}
	return p
}

var _ Source = (*Postgres)(nil)

// TestEventType is the type of the events SendTestEvent publishes.
const TestEventType = "hookd.test"

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	var one int
	return p.pool.QueryRow(ctx, `SELECT 1`).Scan(&one)
}

// Info names the database from the pool's configuration.
func (p *Postgres) Info() Info {
	if p.pool == nil {
		return Info{}
	}
	c := p.pool.Config().ConnConfig
	return Info{Database: fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)}
}

// Endpoints reads one page of endpoints by id, then the health of that
// page only; with the first page, the endpoints in trouble.
func (p *Postgres) Endpoints(ctx context.Context, q EndpointQuery) (EndpointPage, error) {
	if q.Limit <= 0 {
		q.Limit = 200
	}
	q.Limit = min(q.Limit, 1000)
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	if q.IDs != nil && len(q.IDs) == 0 {
		return EndpointPage{Rows: []EndpointRow{}}, nil
	}
	eps, total, err := p.endpointPage(ctx, q)
	if err != nil {
		return EndpointPage{}, err
	}
	page := EndpointPage{Total: total, Rows: []EndpointRow{}}
	if len(eps) > q.Limit {
		eps = eps[:q.Limit]
		page.Next = eps[q.Limit-1].ID
	}
	rows, err := p.withHealth(ctx, eps, q.Now, spanHour)
	page.Rows = rows
	if err != nil || q.IDs != nil || q.After != "" {
		return page, err
	}
	page.Trouble, err = p.troubled(ctx, q.Now, nil, spanHour)
	return page, err
}

// withHealth joins endpoints with their health over span and the bound of
// their 5-minute p95, reading those endpoints only (engine.go).
func (p *Postgres) withHealth(ctx context.Context, eps []*endpoint.Endpoint, now time.Time, span healthSpan) ([]EndpointRow, error) {
	if len(eps) == 0 {
		return []EndpointRow{}, nil
	}
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	health, lat, err := p.health(ctx, ids, fifoOf(eps), now, span)
	if err != nil {
		return nil, err
	}
	rows := make([]EndpointRow, len(eps))
	for i, e := range eps {
		rows[i] = EndpointRow{Endpoint: e, Health: health[e.ID]}
		rows[i].P95, rows[i].P95Over = p95Bound(sumBuckets(lat[e.ID], now.Add(-5*time.Minute)))
	}
	return rows, nil
}

// sumBuckets adds the buckets of the minutes overlapping the span since.
func sumBuckets(ms map[time.Time]minuteAcc, since time.Time) []int {
	out := make([]int, len(delivery.LatencyBuckets)+1)
	for m, a := range ms {
		if !m.Add(time.Minute).After(since) {
			continue
		}
		for i, v := range a.buckets {
			if i < len(out) {
				out[i] += int(v)
			}
		}
	}
	return out
}

// FindEndpoints matches text in ids, descriptions and URLs, within a
// tenant when one is given.
func (p *Postgres) FindEndpoints(ctx context.Context, text, tenant string, limit int) ([]Label, error) {
	return p.findEndpoints(ctx, text, tenant, limit)
}

// Labels names endpoints by id.
func (p *Postgres) Labels(ctx context.Context, ids []string) (map[string]Label, error) {
	return p.labels(ctx, ids)
}

// Endpoint gathers an endpoint's page.
func (p *Postgres) Endpoint(ctx context.Context, id string, now time.Time) (*EndpointDetail, error) {
	e, err := endpoint.Get(ctx, p.pool, id)
	if err != nil {
		return nil, err
	}
	e.Secret, e.PreviousSecret = "", "" // never drawn
	rows, err := p.withHealth(ctx, []*endpoint.Endpoint{e}, now, spanHour)
	if err != nil {
		return nil, err
	}
	d := &EndpointDetail{Row: rows[0]}
	start := now.Truncate(time.Minute).Add(-59 * time.Minute)
	lat, err := p.latency(ctx, []string{id}, start)
	if err != nil {
		return nil, err
	}
	for i := range 60 {
		m := start.Add(time.Duration(i) * time.Minute)
		a := lat[id][m]
		mn := Minute{At: m, Attempts: a.attempts, Successes: a.successes}
		b := make([]int, len(a.buckets))
		for j, v := range a.buckets {
			b[j] = int(v)
		}
		mn.P95, mn.P95Over = p95Bound(b)
		d.Minutes = append(d.Minutes, mn)
	}
	if d.Recent, err = p.recent(ctx, id, 15); err != nil {
		return nil, err
	}
	dead, err := p.groupDead(ctx, DeliveryQuery{EndpointIDs: []string{id}, Filter: delivery.Filter{State: delivery.StateDead}})
	if err != nil {
		return nil, err
	}
	retrying, err := p.groupDead(ctx, DeliveryQuery{EndpointIDs: []string{id}, Filter: delivery.Filter{State: delivery.StateRetrying}})
	if err != nil {
		return nil, err
	}
	d.Errors = Groups{Groups: append(dead.Groups, retrying.Groups...), Scanned: dead.Scanned + retrying.Scanned,
		Capped: dead.Capped || retrying.Capped}
	d.OldestDue, err = oldestDueOf(ctx, p.pool, id, now)
	return d, err
}

// Deliveries pages through deliveries by the index ranges of their
// states (search.go); the page's endpoints are named.
func (p *Postgres) Deliveries(ctx context.Context, q DeliveryQuery) (DeliveryPage, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	out := DeliveryPage{Deliveries: []delivery.Delivery{}, Labels: map[string]Label{}}
	if q.Empty() {
		return out, nil
	}
	if err := q.Filter.Validate(); err != nil {
		return out, err
	}
	ds, next, partial, err := p.search(ctx, q, q.Before, q.Limit)
	if err != nil {
		return out, err
	}
	out.Deliveries, out.Next, out.Scanned = ds, next, partial
	out.Labels, err = p.labels(ctx, endpointIDs(out.Deliveries))
	return out, err
}

func endpointIDs(ds []delivery.Delivery) []string {
	seen := map[string]bool{}
	var ids []string
	for _, d := range ds {
		if !seen[d.EndpointID] {
			seen[d.EndpointID] = true
			ids = append(ids, d.EndpointID)
		}
	}
	return ids
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

// DeadGroups groups dead letters by endpoint and reason.
func (p *Postgres) DeadGroups(ctx context.Context, q DeliveryQuery) (Groups, error) {
	q.State = delivery.StateDead
	if q.Empty() {
		return Groups{}, nil
	}
	if err := q.Filter.Validate(); err != nil {
		return Groups{}, err
	}
	g, err := p.groupDead(ctx, q)
	if err != nil {
		return Groups{}, err
	}
	return g, p.nameGroups(ctx, &g, false, time.Time{})
}

// nameGroups fills the groups' labels and, with health, their endpoints'
// health at now.
func (p *Postgres) nameGroups(ctx context.Context, g *Groups, health bool, now time.Time) error {
	var ids []string
	for _, gr := range g.Groups {
		if !slices.Contains(ids, gr.EndpointID) {
			ids = append(ids, gr.EndpointID)
		}
	}
	labels, err := p.labels(ctx, ids)
	if err != nil {
		return err
	}
	var hs map[string]*delivery.Health
	if health && len(ids) > 0 {
		if hs, _, err = p.health(ctx, ids, nil, now, span5m); err != nil {
			return err
		}
	}
	for i := range g.Groups {
		gr := &g.Groups[i]
		gr.Endpoint = labels[gr.EndpointID]
		if gr.Endpoint.ID == "" {
			gr.Endpoint.ID = gr.EndpointID
		}
		gr.Health = hs[gr.EndpointID]
	}
	return nil
}

// Preview counts and groups the dead letters a bulk replay of q would
// re-queue: those that had died by now.
func (p *Postgres) Preview(ctx context.Context, q DeliveryQuery, now time.Time) (*Preview, error) {
	q.State, q.CompletedBefore, q.Before = delivery.StateDead, now, 0
	if err := q.Filter.Validate(); err != nil {
		return nil, err
	}
	pv := &Preview{Query: q}
	if q.Empty() {
		return pv, nil
	}
	if f, ok := q.engineFilter(); ok {
		n, err := delivery.ReplayMatching(ctx, p.pool, delivery.ReplayParams{Filter: f, DryRun: true})
		if err != nil {
			return nil, err
		}
		pv.Count = n
	} else {
		ids, _, err := p.searchIDs(ctx, q)
		if err != nil {
			return nil, err
		}
		pv.IDs, pv.Count = ids, int64(len(ids))
		if pv.IDs == nil {
			pv.IDs = []int64{}
		}
	}
	g, err := p.groupDead(ctx, q)
	if err != nil {
		return nil, err
	}
	pv.Groups = g
	return pv, p.nameGroups(ctx, &pv.Groups, true, now)
}

// PreviewMarked loads the marked deliveries and previews their replay.
func (p *Postgres) PreviewMarked(ctx context.Context, ids []int64, now time.Time) (*Preview, error) {
	ds, err := delivery.GetMany(ctx, p.pool, ids)
	if err != nil {
		return nil, err
	}
	slices.Reverse(ds) // newest first, as groups take them
	pv := Marked(ds)
	return pv, p.nameGroups(ctx, &pv.Groups, true, now)
}

// Lookup finds a delivery (a number), an endpoint, an event or a tenant
// by id.
func (p *Postgres) Lookup(ctx context.Context, id string) (Found, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return Found{}, validate.Errorf("id", "is empty")
	}
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
		if _, err := delivery.Get(ctx, p.pool, n); err != nil {
			return Found{}, err
		}
		return Found{Kind: "delivery", ID: id}, nil
	}
	if _, err := endpoint.Get(ctx, p.pool, id); err == nil {
		return Found{Kind: "endpoint", ID: id}, nil
	} else if !errors.Is(err, db.ErrNotFound) {
		return Found{}, err
	}
	_, err := outbox.Get(ctx, p.pool, id)
	var aged *outbox.AgedOutError
	switch {
	case err == nil:
		return Found{Kind: "event", ID: id}, nil
	case errors.As(err, &aged), !errors.Is(err, db.ErrNotFound):
		return Found{}, err
	}
	if _, err := tenant.Get(ctx, p.pool, id); err != nil {
		return Found{}, err
	}
	return Found{Kind: "tenant", ID: id}, nil
}

// Storage reads retention.ReadStats with the configured period.
func (p *Postgres) Storage(ctx context.Context, now time.Time) (*retention.Stats, error) {
	st, err := retention.ReadStats(ctx, p.pool, p.period, now)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// Audit calls audit.List.
func (p *Postgres) Audit(ctx context.Context, lp audit.ListParams) (audit.Page, error) {
	return audit.List(ctx, p.pool, lp)
}
