package data_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/data"
)

// The tenants view reads pages of tenants with their counts, and the
// tenants in trouble first; tenant: filters deliveries and endpoints, and
// a bulk replay by tenant replays that tenant's dead letters only.
func TestTenantsAndTheTenantFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := seedVolume(t)
	now := time.Now()
	page, err := v.src.Tenants(ctx, data.TenantQuery{Now: now})
	if err != nil || len(page.Rows) != 2 || page.Total != 2 || page.Next != "" {
		t.Fatalf("%v %+v", err, page)
	}
	acme, globex := page.Rows[0], page.Rows[1]
	wantDead := int64(v.deadOfEndoint[v.eps[0]] + v.deadOfEndoint[v.eps[1]])
	if acme.ID != "acme" || acme.Endpoints != 2 || acme.Failing != 1 || acme.Dead != wantDead || acme.Backlog == 0 {
		t.Fatalf("acme: two endpoints, one failing, its dead letters (%d) and backlog: %+v", wantDead, acme)
	}
	if globex.Endpoints != 1 || globex.Failing != 0 || globex.Dead != int64(v.deadOfEndoint[v.eps[2]]) {
		t.Fatalf("globex: %+v", globex)
	}
	if len(page.Trouble) != 2 || page.Trouble[0].ID != "acme" {
		t.Fatalf("both have dead letters, acme fails too and comes first: %+v", page.Trouble)
	}
	one, err := v.src.Tenants(ctx, data.TenantQuery{Limit: 1})
	if err != nil || len(one.Rows) != 1 || one.Next != "acme" {
		t.Fatalf("paged by id: %v %+v", err, one)
	}
	if ids, err := v.src.FindTenants(ctx, "GLOB", 10); err != nil || !slices.Equal(ids, []string{"globex"}) {
		t.Fatalf("found by part of the id: %v %v", err, ids)
	}
	if f, err := v.src.Lookup(ctx, "globex"); err != nil || f.Kind != "tenant" {
		t.Fatalf("a tenant id pasted is found: %v %+v", err, f)
	}

	// tenant: on deliveries and dead letters.
	deadAcme := data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead, Tenant: "acme"}, Limit: 1000}
	dl, err := v.src.Deliveries(ctx, deadAcme)
	if err != nil || int64(len(dl.Deliveries)) != wantDead {
		t.Fatalf("acme's dead letters: %v, %d of %d", err, len(dl.Deliveries), wantDead)
	}
	for _, d := range dl.Deliveries {
		if d.TenantID != "acme" || d.State != delivery.StateDead {
			t.Fatalf("only acme's dead letters: %+v", d)
		}
	}
	all, err := v.src.Deliveries(ctx, data.DeliveryQuery{Filter: delivery.Filter{Tenant: "globex"}, Limit: 1000})
	if err != nil || len(all.Deliveries) != 1000 || all.Next == 0 {
		t.Fatalf("globex's deliveries in pages: %v %d next %d", err, len(all.Deliveries), all.Next)
	}
	for _, d := range all.Deliveries {
		if d.TenantID != "globex" || d.EndpointID != v.eps[2] {
			t.Fatalf("only globex's: %+v", d)
		}
	}
	eps, err := v.src.FindEndpoints(ctx, "", "acme", 100)
	if err != nil || len(eps) != 2 || eps[0].Tenant != "acme" {
		t.Fatalf("the tenant's endpoints: %v %+v", err, eps)
	}

	// R on dead letters filtered by tenant: a preview by the engine's
	// filter, replaying that tenant's only.
	pv, err := v.src.Preview(ctx, deadAcme, time.Now())
	if err != nil || pv.Count != wantDead || pv.IDs != nil {
		t.Fatalf("the preview counts acme's dead letters by the engine's filter: %v %+v", err, pv)
	}
	n, err := v.src.ReplayQuery(audit.NewContext(ctx, audit.Actor{Kind: audit.KindOS, ID: "carol"}), pv, "/tenant:acme")
	if err != nil || n != wantDead {
		t.Fatalf("replayed %d of %d: %v", n, wantDead, err)
	}
	var acmeDead, othersDead int
	_ = v.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE tenant_id = 'acme'), count(*) FILTER (WHERE tenant_id IS DISTINCT FROM 'acme')
		FROM hookd.finished WHERE state = 'dead'`).Scan(&acmeDead, &othersDead)
	others := 0
	for _, ep := range v.eps[2:] {
		others += v.deadOfEndoint[ep]
	}
	if acmeDead != 0 || othersDead != others {
		t.Fatalf("acme's dead letters all replayed (%d left), the others' untouched (%d of %d)", acmeDead, othersDead, others)
	}
}

// A fifo endpoint's blocked head shows on its row (which delivery, since
// when) and in the overview's trouble; Skip moves the line on and is
// audited; an open breaker shows with its next probe.
func TestBlockedHeadBreakerAndSkip(t *testing.T) {
	t.Parallel()
	ctx := audit.NewContext(context.Background(), audit.Actor{Kind: audit.KindOS, ID: "carol"})
	v := seedVolume(t)
	now := time.Now()
	started := now.Add(-7 * time.Minute)
	if _, err := v.pool.Exec(ctx, `INSERT INTO hookd.attempts (delivery_id, event_stored_at, endpoint_id, attempt, started_at, error_class, error)
		SELECT id, event_stored_at, endpoint_id, 1, $2, 'http_status', 'HTTP 500' FROM hookd.queue WHERE id = $1`, v.fifoHead, started); err != nil {
		t.Fatal(err)
	}
	if _, err := v.pool.Exec(ctx, `INSERT INTO hookd.endpoint_health (endpoint_id, consecutive_failures, breaker_opened_at, breaker_probe_at)
		VALUES ($1, 12, now() - interval '2 minutes', now() + interval '30 seconds')`, v.eps[3]); err != nil {
		t.Fatal(err)
	}
	page, err := v.src.Endpoints(ctx, data.EndpointQuery{IDs: []string{v.eps[1], v.eps[3]}, Now: now})
	if err != nil || len(page.Rows) != 2 {
		t.Fatalf("%v %+v", err, page)
	}
	byID := map[string]data.EndpointRow{}
	for _, r := range page.Rows {
		byID[r.Endpoint.ID] = r
	}
	// The head waiting out its backoff is retrying, in the searches as on
	// the row, not pending.
	for st, want := range map[delivery.State]bool{delivery.StateRetrying: true, delivery.StatePending: false} {
		found, err := v.src.Deliveries(ctx, data.DeliveryQuery{EndpointIDs: []string{v.eps[1]}, Filter: delivery.Filter{State: st}, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.ContainsFunc(found.Deliveries, func(d delivery.Delivery) bool { return d.ID == v.fifoHead }); got != want {
			t.Errorf("state:%s lists the head in backoff: %v, want %v", st, got, want)
		}
	}
	b := byID[v.eps[1]].Health.Blocked
	if b == nil || b.DeliveryID != v.fifoHead || b.Attempts != 3 || !b.Since.Equal(started.Truncate(time.Microsecond)) ||
		!b.NextAttemptAt.After(now) {
		t.Fatalf("the fifo endpoint's blocked head, since its first attempt: %+v", b)
	}
	if br := byID[v.eps[3]].Health.Breaker; br.State != delivery.BreakerOpen || br.NextProbeAt == nil || !br.NextProbeAt.After(now) {
		t.Fatalf("the open breaker with its next probe: %+v", br)
	}
	o, err := v.src.Overview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var blocked, open bool
	for _, r := range o.Trouble {
		blocked = blocked || r.Endpoint.ID == v.eps[1] && r.Health.Blocked != nil
		open = open || r.Endpoint.ID == v.eps[3] && r.Health.Breaker.State == delivery.BreakerOpen
	}
	if !blocked || !open || o.BreakersOpen != 1 {
		t.Fatalf("the overview's trouble has the blocked line and the open breaker: %+v", o.Trouble)
	}

	if err := v.src.Skip(ctx, v.fifoHead); err != nil {
		t.Fatal(err)
	}
	d, err := v.src.Delivery(ctx, v.fifoHead)
	if err != nil || d.State != delivery.StateSkipped {
		t.Fatalf("the head is skipped: %v %+v", err, d)
	}
	page, _ = v.src.Endpoints(ctx, data.EndpointQuery{IDs: []string{v.eps[1]}, Now: now})
	if page.Rows[0].Health.Blocked != nil {
		t.Fatalf("the line moves on: %+v", page.Rows[0].Health.Blocked)
	}
	if err := v.src.Skip(ctx, v.fifoHead); err == nil {
		t.Fatal("a finished delivery cannot be skipped")
	}
	trail, _ := v.src.Audit(ctx, audit.ListParams{})
	if len(trail.Entries) != 2 || trail.Entries[1].Action != audit.ActionSkip || trail.Entries[1].Rows != 1 ||
		trail.Entries[1].Actor.ID != "carol" || trail.Entries[0].Outcome != audit.OutcomeFailed {
		t.Fatalf("the skip is audited with its actor, and the refused one as failed: %+v", trail.Entries)
	}
}

// The overview's counts come from the queue; its series keep the minutes
// that can no longer change; the storage figures say what is kept.
func TestOverviewCountsSeriesAndStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := seedVolume(t)
	now := time.Now()
	o, err := v.src.Overview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	var pending, retrying, held, dead int
	_ = v.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'retrying'),
		count(*) FILTER (WHERE state = 'held'), (SELECT count(*) FROM hookd.finished WHERE state = 'dead') FROM hookd.queue d`).
		Scan(&pending, &retrying, &held, &dead)
	if o.Pending != pending || o.Retrying != retrying || o.Held != held || o.Dead != dead || o.EndpointsTotal != 6 ||
		o.EndpointsDisabled != 0 || o.EndpointsCapped {
		t.Fatalf("counts %+v, want %d %d %d %d", o, pending, retrying, held, dead)
	}
	// 25 attempts a minute per endpoint, the first endpoint's 20 failing.
	last := o.AttemptsPerMinute[data.SparkMinutes-2]
	if last != 6*25 || o.FailuresPerMinute[data.SparkMinutes-2] != 20 || o.Attempts5m == 0 || o.SuccessRate >= 1 {
		t.Fatalf("series %v %v, 5m %d at %.2f", o.AttemptsPerMinute, o.FailuresPerMinute, o.Attempts5m, o.SuccessRate)
	}
	// The blocked fifo line first, then the endpoint failing now.
	if len(o.Trouble) < 2 || o.Trouble[0].Endpoint.ID != v.eps[1] || o.Trouble[1].Endpoint.ID != v.eps[0] ||
		o.Trouble[1].Health.Last5m.SuccessRate != 0.2 {
		t.Fatalf("the blocked line, then the failing endpoint: %+v %+v", o.Trouble[0].Health, o.Trouble[1].Health)
	}
	// The endpoints view's first page brings the endpoints in trouble
	// whatever page they are on; later pages and filters do not.
	// Pages go by id, and ids made in the same millisecond need not sort
	// in the order they were made.
	first, err := v.src.Endpoints(ctx, data.EndpointQuery{Limit: 1, Now: now})
	if err != nil || len(first.Rows) != 1 || first.Rows[0].Endpoint.ID != slices.Min(v.eps) || len(first.Trouble) < 2 ||
		first.Trouble[0].Endpoint.ID != v.eps[1] || first.Trouble[0].Health.Blocked == nil {
		t.Fatalf("the first page and the endpoints in trouble: %v %+v", err, first)
	}
	if next, _ := v.src.Endpoints(ctx, data.EndpointQuery{Limit: 1, After: first.Next, Now: now}); next.Trouble != nil {
		t.Fatal("a next page brings no trouble again")
	}
	// A minute that can no longer change is kept: rewriting it afterwards
	// does not show (the next refresh reads the last minutes only).
	old := now.UTC().Truncate(time.Minute).Add(-20 * time.Minute)
	if _, err := v.pool.Exec(ctx, `UPDATE hookd.endpoint_minutes SET attempts = attempts + 1000 WHERE minute = $1`, old); err != nil {
		t.Fatal(err)
	}
	recent := now.UTC().Truncate(time.Minute).Add(-time.Minute)
	if _, err := v.pool.Exec(ctx, `UPDATE hookd.endpoint_minutes SET attempts = attempts + 1000 WHERE minute = $1`, recent); err != nil {
		t.Fatal(err)
	}
	// At the same instant, so that the minutes keep their places in the
	// series whatever the time of day (a second later may be a new minute).
	o2, err := v.src.Overview(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if o2.AttemptsPerMinute[data.SparkMinutes-21] != o.AttemptsPerMinute[data.SparkMinutes-21] ||
		o2.AttemptsPerMinute[data.SparkMinutes-2] != o.AttemptsPerMinute[data.SparkMinutes-2]+6000 {
		t.Fatalf("kept %d → %d, re-read %d → %d", o.AttemptsPerMinute[data.SparkMinutes-21], o2.AttemptsPerMinute[data.SparkMinutes-21],
			o.AttemptsPerMinute[data.SparkMinutes-2], o2.AttemptsPerMinute[data.SparkMinutes-2])
	}

	st, err := v.src.Storage(ctx, now)
	if err != nil || st.TotalBytes <= 0 || st.OldestKept == nil || st.NextDrop == nil || len(st.Partitions) == 0 ||
		st.Period != 720*time.Hour {
		t.Fatalf("storage: %v %+v", err, st)
	}
	short := data.NewPostgres(v.pool, data.WithRetention(time.Hour))
	if st2, err := short.Storage(ctx, now); err != nil || !st2.NextDrop.Before(*st.NextDrop) {
		t.Fatalf("the next drop follows retention.period: %v %v", err, st2)
	}
}

// An event retention dropped says so, naming retention.period, instead of
// a bare "not found".
func TestAgedOutEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := seedVolume(t)
	if _, err := v.pool.Exec(ctx, `INSERT INTO hookd.event_ids (id, stored_at) VALUES ('evt_gone', '2001-01-01')`); err != nil {
		t.Fatal(err)
	}
	_, _, err := v.src.Event(ctx, "evt_gone")
	var aged *outbox.AgedOutError
	if !errors.As(err, &aged) || !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("the event aged out: %v", err)
	}
	if _, err := v.src.Lookup(ctx, "evt_gone"); !errors.As(err, &aged) {
		t.Fatalf("a jump to it says it aged out: %v", err)
	}
	if _, err := v.src.Lookup(ctx, "evt_never"); !errors.Is(err, db.ErrNotFound) || errors.As(err, &aged) {
		t.Fatalf("an unknown id is not found: %v", err)
	}
}
