package tenant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/core/validate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func mustTenant(t *testing.T, pool *pgxpool.Pool, id string) {
	t.Helper()
	name := "Customer " + id
	if _, _, err := tenant.Put(context.Background(), pool, id, tenant.PutParams{Name: &name}); err != nil {
		t.Fatal(err)
	}
}

func mustEndpoint(t *testing.T, pool *pgxpool.Pool, tenantID string, types ...string) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Create(context.Background(), pool, endpoint.CreateParams{
		URL: "https://" + tenantID + "x.example/hook", Tenant: tenantID, EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func deliveredTo(t *testing.T, pool *pgxpool.Pool, eventID string) []string {
	t.Helper()
	ds, err := delivery.ForEvent(context.Background(), pool, eventID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.EndpointID)
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// An event for a tenant reaches only that tenant's endpoints; one without a
// tenant only the endpoints without one; a broadcast every matching one.
func TestRoutingKeepsTenantsApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	mustTenant(t, pool, "cus_a")
	mustTenant(t, pool, "cus_b")
	a := mustEndpoint(t, pool, "cus_a", "payment.*")
	b := mustEndpoint(t, pool, "cus_b", "payment.*")
	none := mustEndpoint(t, pool, "", "payment.*")
	other := mustEndpoint(t, pool, "cus_a", "invoice.paid")
	pub := outbox.NewPublisher(pool, outbox.Options{})
	publish := func(ev outbox.Event) string {
		t.Helper()
		r, err := pub.Publish(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return r.Event.ID
	}
	cases := []struct {
		name string
		ev   outbox.Event
		want []string
	}{
		{"tenant a", outbox.Event{Type: "payment.succeeded", Tenant: "cus_a"}, sorted(a.ID)},
		{"tenant b", outbox.Event{Type: "payment.succeeded", Tenant: "cus_b"}, sorted(b.ID)},
		{"no tenant", outbox.Event{Type: "payment.succeeded"}, sorted(none.ID)},
		{"broadcast", outbox.Event{Type: "payment.succeeded", Broadcast: true}, sorted(a.ID, b.ID, none.ID)},
		{"type filter inside a tenant", outbox.Event{Type: "invoice.paid", Tenant: "cus_a"}, sorted(other.ID)},
	}
	for _, c := range cases {
		if got := deliveredTo(t, pool, publish(c.ev)); !slices.Equal(got, c.want) {
			t.Errorf("%s: delivered to %v, want %v", c.name, got, c.want)
		}
	}
	// Tenants are made explicitly: a typo never creates one.
	_, err := pub.Publish(ctx, outbox.Event{Type: "payment.succeeded", Tenant: "cus_typo"})
	var unknown *outbox.UnknownTenantError
	if !errors.As(err, &unknown) || unknown.Tenant != "cus_typo" || !errors.Is(err, db.ErrNotFound) {
		t.Errorf("publish for an unknown tenant: %v", err)
	}
	_, err = endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://x.example/", Tenant: "cus_typo"})
	var unknownEP *endpoint.UnknownTenantError
	if !errors.As(err, &unknownEP) {
		t.Errorf("endpoint for an unknown tenant: %v", err)
	}
	// A whole batch fails when one event names an unknown tenant.
	_, err = pub.PublishBatch(ctx, nil, []outbox.Event{{Type: "a.b", Tenant: "cus_a"}, {Type: "a.b", Tenant: "cus_nobody"}})
	if !errors.As(err, &unknown) {
		t.Errorf("batch with an unknown tenant: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM hookd.events WHERE type = 'a.b'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d events of the refused batch were written (%v)", n, err)
	}
	// So does a plain SQL producer's insert, in the producer's
	// transaction, naming the column; one for a tenant that exists
	// reaches its endpoints.
	_, err = pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data, tenant_id) VALUES ('sql-1', 'payment.x', '{}', 'cus_typo')`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ColumnName != "tenant_id" || !strings.Contains(pgErr.Message, "cus_typo") {
		t.Errorf("plain SQL insert for an unknown tenant: %v, want foreign_key_violation on tenant_id", err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM hookd.event_ids WHERE id = 'sql-1'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the refused insert claimed its id (%d, %v)", n, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data, tenant_id) VALUES ('sql-1', 'payment.x', '{}', 'cus_a')`); err != nil {
		t.Fatalf("plain SQL insert for a tenant: %v", err)
	}
	if _, err := outbox.RunFanout(ctx, pool, 10); err != nil {
		t.Fatal(err)
	}
	if got := deliveredTo(t, pool, "sql-1"); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("plain SQL event of cus_a delivered to %v, want %v", got, []string{a.ID})
	}
	// The fan-out of a tenant's event uses the tenant index.
	var plan string
	if err := pool.QueryRow(ctx, `EXPLAIN SELECT id FROM hookd.endpoints
		WHERE tenant_id = 'cus_a' AND kind = 'webhook' AND enabled`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if !containsAny(plan, "endpoints_tenant") {
		t.Errorf("fan-out by tenant does not use the tenant index: %s", plan)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestPutGetList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	meta := json.RawMessage(`{"plan":"pro"}`)
	tn, did, err := tenant.Put(ctx, pool, "cus_1", tenant.PutParams{Metadata: &meta})
	if err != nil || !did.Created || tn.Name != "" || string(tn.Metadata) != `{"plan": "pro"}` {
		t.Fatalf("create: %+v %v %v", tn, did, err)
	}
	name := "Acme"
	tn, did, err = tenant.Put(ctx, pool, "cus_1", tenant.PutParams{Name: &name})
	if err != nil || did.Created || !slices.Equal(did.Changed, []string{"name"}) || tn.Name != "Acme" || string(tn.Metadata) != `{"plan": "pro"}` {
		t.Fatalf("update keeps what is not given: %+v %v %v", tn, did, err)
	}
	// Nothing given, or only what it holds: nothing written.
	for _, p := range []tenant.PutParams{{}, {Name: &name}, {Metadata: &meta}} {
		again, did, err := tenant.Put(ctx, pool, "cus_1", p)
		if err != nil || !did.Unchanged() || !again.UpdatedAt.Equal(tn.UpdatedAt) || again.Name != "Acme" {
			t.Fatalf("put changing nothing: %+v %v %v (updated_at before %s)", again, did, err, tn.UpdatedAt)
		}
	}
	// Both given, one different: only that one is named.
	plus := json.RawMessage(`{"plan":"team"}`)
	if _, did, err := tenant.Put(ctx, pool, "cus_1", tenant.PutParams{Name: &name, Metadata: &plus}); err != nil ||
		did.Created || !slices.Equal(did.Changed, []string{"metadata"}) {
		t.Fatalf("put of a name it holds and new metadata: %+v, %v", did, err)
	}
	for _, bad := range []struct {
		id   string
		p    tenant.PutParams
		want string
	}{
		{"has space", tenant.PutParams{}, "id"},
		{"", tenant.PutParams{}, "id"},
		{"cus_2", tenant.PutParams{Metadata: ptr(json.RawMessage(`[1]`))}, "metadata"},
		{"cus_2", tenant.PutParams{Name: ptr("a\x00b")}, "name"},
	} {
		var v *validate.Error
		if _, _, err := tenant.Put(ctx, pool, bad.id, bad.p); !errors.As(err, &v) || v.Field != bad.want {
			t.Errorf("Put(%q, %+v) = %v; want an error naming %s", bad.id, bad.p, err, bad.want)
		}
	}
	if _, err := tenant.Get(ctx, pool, "cus_404"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	for i := range 5 {
		mustTenant(t, pool, fmt.Sprintf("page_%d", i))
	}
	mustEndpoint(t, pool, "page_0", "a.*")
	var got []tenant.Summary
	after := ""
	for {
		page, err := tenant.List(ctx, pool, tenant.ListParams{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Tenants...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if len(got) != 6 || got[1].ID != "page_0" || got[1].Endpoints != 1 {
		t.Fatalf("paged tenants: %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	mustTenant(t, pool, "cus_t")
	tok, err := tenant.CreateToken(ctx, pool, "cus_t", tenant.TokenParams{Name: "ci"})
	if err != nil || len(tok.Secret) < 40 || tok.Secret[:4] != tenant.TokenPrefix {
		t.Fatalf("token: %+v, %v", tok, err)
	}
	got, err := tenant.Authenticate(ctx, pool, tok.Secret)
	if err != nil || got.TenantID != "cus_t" || got.ID != tok.ID {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	var stored []byte
	if err := pool.QueryRow(ctx, `SELECT token_sha256 FROM hookd.tenant_tokens WHERE id = $1`, tok.ID).Scan(&stored); err != nil ||
		containsAny(string(stored), tok.Secret) {
		t.Fatalf("the token is stored as itself (%v)", err)
	}
	list, err := tenant.ListTokens(ctx, pool, "cus_t")
	if err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if b, _ := json.Marshal(list); containsAny(string(b), tok.Secret) {
		t.Fatal("a listed token shows its secret")
	}
	if _, err := tenant.Authenticate(ctx, pool, tok.Secret+"x"); !errors.Is(err, tenant.ErrTokenUnknown) {
		t.Errorf("a wrong token: %v", err)
	}
	if err := tenant.RevokeToken(ctx, pool, "cus_other", tok.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("revoking another tenant's token: %v", err)
	}
	if err := tenant.RevokeToken(ctx, pool, "cus_t", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.Authenticate(ctx, pool, tok.Secret); !errors.Is(err, tenant.ErrTokenUnknown) {
		t.Errorf("a revoked token: %v", err)
	}
	short, err := tenant.CreateToken(ctx, pool, "cus_t", tenant.TokenParams{ExpiresIn: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_sleep(0.01)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.Authenticate(ctx, pool, short.Secret); !errors.Is(err, tenant.ErrTokenExpired) {
		t.Errorf("an expired token: %v", err)
	}
	if _, err := tenant.CreateToken(ctx, pool, "cus_404", tenant.TokenParams{}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("a token for an unknown tenant: %v", err)
	}
}

// Erasing a tenant leaves no row of it in any of hookd's tables, leaves
// the others untouched, and is safe while its deliveries are in flight.
func TestEraseLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	seed := func(id string) ([]string, []string) {
		mustTenant(t, pool, id)
		eps := []string{mustEndpoint(t, pool, id, "a.*").ID, mustEndpoint(t, pool, id, "a.*").ID}
		pub := outbox.NewPublisher(pool, outbox.Options{})
		var evs []string
		for range 3 {
			r, err := pub.Publish(ctx, outbox.Event{Type: "a.b", Tenant: id, Data: json.RawMessage(`{"secret":"` + id + `"}`)})
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, r.Event.ID)
		}
		if _, err := tenant.CreateToken(ctx, pool, id, tenant.TokenParams{Name: "t"}); err != nil {
			t.Fatal(err)
		}
		return eps, evs
	}
	aEps, aEvs := seed("cus_gone")
	seed("cus_kept")
	// Some of A's (and B's) deliveries finish with attempts and bodies,
	// some die, one of A's stays in flight across the erasure.
	c, err := delivery.Claim(ctx, pool, delivery.ClaimParams{Limit: 100, Lease: time.Minute, Worker: "w"})
	if err != nil || len(c.Jobs) != 12 {
		t.Fatalf("claim: %d, %v", len(c.Jobs), err)
	}
	var rs []delivery.Result
	var inFlight *delivery.Job
	for i, j := range c.Jobs {
		if inFlight == nil && j.TenantID == "cus_gone" {
			inFlight = &c.Jobs[i]
			continue
		}
		r := delivery.ResultOf(j, "w")
		r.StartedAt, r.ResponseStatus, r.ResponseBody, r.RequestHeaders = time.Now(), 200, "ok "+j.TenantID, http.Header{}
		r.Next = delivery.StateSucceeded
		if i%3 == 0 {
			r.ResponseStatus, r.ErrorClass, r.Error, r.Next = 500, delivery.ClassHTTPStatus, "HTTP 500", delivery.StateDead
		}
		rs = append(rs, r)
	}
	if _, err := delivery.Complete(ctx, pool, delivery.Policy{}, rs); err != nil {
		t.Fatal(err)
	}
	keptBefore := rowsOf(t, pool, "cus_kept")

	erased, err := tenant.Erase(ctx, pool, "cus_gone")
	if err != nil {
		t.Fatal(err)
	}
	if erased.Endpoints != 2 || erased.Events != 3 || erased.Deliveries != 6 || erased.Attempts != 5 || erased.Tokens != 1 {
		t.Errorf("erased %+v; want 2 endpoints, 3 events, 6 deliveries, 5 attempts, 1 token", erased)
	}
	// The attempt in flight finishes after the erasure: nothing is recorded.
	r := delivery.ResultOf(*inFlight, "w")
	r.StartedAt, r.ResponseStatus, r.RequestHeaders, r.Next = time.Now(), 200, http.Header{}, delivery.StateSucceeded
	if _, err := delivery.Complete(ctx, pool, delivery.Policy{}, []delivery.Result{r}); err != nil {
		t.Fatal(err)
	}
	if left := rowsOf(t, pool, "cus_gone", append(aEps, aEvs...)...); len(left) != 0 {
		t.Errorf("rows of the erased tenant remain: %v", left)
	}
	if kept := rowsOf(t, pool, "cus_kept"); !mapsEqual(kept, keptBefore) {
		t.Errorf("the other tenant's rows changed: before %v, after %v", keptBefore, kept)
	}
	if _, err := tenant.Get(ctx, pool, "cus_gone"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the erased tenant: %v", err)
	}
	if _, err := tenant.Erase(ctx, pool, "cus_gone"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("erasing again: %v", err)
	}
	// Its ids may be used again: a new tenant of the same id starts empty.
	mustTenant(t, pool, "cus_gone")
	if _, err := outbox.NewPublisher(pool, outbox.Options{}).Publish(ctx, outbox.Event{ID: aEvs[0], Type: "a.b", Tenant: "cus_gone"}); err != nil {
		t.Errorf("republishing an erased event's id: %v", err)
	}
}

// rowsOf counts, in every table of the hookd schema, the rows that belong
// to a tenant: by a tenant or tenant_id column, by an endpoint_id naming
// one of its endpoints, or by an id or event_id naming one of the given
// ids (its endpoints and events), and the bodies of its attempts.
func rowsOf(t *testing.T, pool *pgxpool.Pool, tenantID string, extra ...string) map[string]int {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `
		SELECT c.table_name, array_agg(c.column_name::text)
		FROM information_schema.columns c JOIN information_schema.tables tb
		  ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		JOIN pg_class pc ON pc.relname = c.table_name AND pc.relnamespace = 'hookd'::regnamespace
		WHERE c.table_schema = 'hookd' AND tb.table_type = 'BASE TABLE' AND NOT pc.relispartition
		  AND c.column_name IN ('tenant_id', 'endpoint_id', 'event_id', 'id', 'delivery_id', 'attempt_id')
		GROUP BY c.table_name`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string][]string{}
	for rows.Next() {
		var name string
		var cols []string
		if err := rows.Scan(&name, &cols); err != nil {
			t.Fatal(err)
		}
		tables[name] = cols
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("found only %d tables to check: %v", len(tables), tables)
	}
	eps, err := endpoint.TenantEndpointIDs(ctx, pool, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	ids := append(append([]string{}, eps...), extra...)
	out := map[string]int{}
	for name, cols := range tables {
		var conds []string
		for _, c := range cols {
			switch c {
			case "tenant_id":
				conds = append(conds, "tenant_id = $1")
			case "endpoint_id", "event_id":
				conds = append(conds, c+" = ANY($2)")
			case "id":
				conds = append(conds, "id::text = ANY($2)")
			case "delivery_id":
				conds = append(conds, "delivery_id IN (SELECT id FROM hookd.deliveries WHERE tenant_id = $1 OR endpoint_id = ANY($2))")
			case "attempt_id":
				conds = append(conds, "attempt_id IN (SELECT id FROM hookd.attempts WHERE endpoint_id = ANY($2))")
			}
		}
		if name == "tenants" {
			conds = append(conds, "id = $1")
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM hookd.%s WHERE %s`, pgx.Identifier{name}.Sanitize(), joinOr(conds))
		q = strings.Replace(q, "WHERE ", "WHERE $1::text IS NOT NULL AND (", 1) + ")"
		if err := pool.QueryRow(ctx, q, tenantID, ids).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			out[name] = n
		}
	}
	return out
}

func joinOr(conds []string) string {
	s := ""
	for i, c := range conds {
		if i > 0 {
			s += " OR "
		}
		s += "(" + c + ")"
	}
	return s
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A producer at REPEATABLE READ whose snapshot predates an erasure still
// sees the tenant and its endpoints, whatever lock it waits for: its
// publish fails as a serialization failure (which it retries, to learn
// the tenant is gone) and writes nothing for the erased tenant. At READ
// COMMITTED the same publish is refused as an unknown tenant.
func TestPublishAfterErasureFromAnOlderSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	pub := outbox.NewPublisher(pool, outbox.Options{})
	for _, iso := range []pgx.TxIsoLevel{pgx.RepeatableRead, pgx.Serializable, pgx.ReadCommitted} {
		id := "cus_" + strings.ReplaceAll(string(iso), " ", "_")
		mustTenant(t, pool, id)
		ep := mustEndpoint(t, pool, id)
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT count(*) FROM hookd.tenants`); err != nil { // takes the snapshot
			t.Fatal(err)
		}
		if _, err := tenant.Erase(ctx, pool, id); err != nil {
			t.Fatal(err)
		}
		_, perr := pub.PublishTx(ctx, tx, outbox.Event{Type: "a.b", Tenant: id})
		if perr == nil {
			perr = tx.Commit(ctx)
		}
		_ = tx.Rollback(ctx)
		var pgErr *pgconn.PgError
		var unknown *outbox.UnknownTenantError
		switch {
		case iso == pgx.ReadCommitted && !errors.As(perr, &unknown):
			t.Errorf("%s: publish after erasure: %v, want the unknown tenant", iso, perr)
		case iso != pgx.ReadCommitted && (!errors.As(perr, &pgErr) || pgErr.Code != "40001"):
			t.Errorf("%s: publish after erasure: %v, want a serialization failure", iso, perr)
		}
		var events, queued int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM hookd.events WHERE tenant_id = $1),
			(SELECT count(*) FROM hookd.queue WHERE endpoint_id = $2)`, id, ep.ID).Scan(&events, &queued); err != nil {
			t.Fatal(err)
		}
		if events != 0 || queued != 0 {
			t.Errorf("%s: the erased tenant has %d events and %d deliveries", iso, events, queued)
		}
	}
}
