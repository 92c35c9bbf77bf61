package data_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/tenant"
	"github.com/hookd/hookd/tui/data"
)

// recorder is a pgx tracer that keeps every statement a pool runs, with
// its arguments, so a test can ask PostgreSQL how it plans exactly what
// the console sent.
type recorder struct {
	mu    sync.Mutex
	stmts []stmt
}

type stmt struct {
	sql  string
	args []any
}

func (r *recorder) add(sql string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, stmt{sql: sql, args: args})
}

func (r *recorder) take() []stmt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.stmts
	r.stmts = nil
	return out
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.add(d.SQL, d.Args)
	return ctx
}
func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *recorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (r *recorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.add(d.SQL, d.Args)
}
func (r *recorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// volume is a database with history enough for the planner to choose as
// it would in production: 30,000 events over the last 20 hours to six
// endpoints of two tenants and none (90% succeeded, 10% dead), a thousand
// deliveries still to do, 20 hours of minute rollups; vacuumed and
// analyzed, as autovacuum would have.
type volume struct {
	pool          *pgxpool.Pool
	rec           *recorder
	src           *data.Postgres
	eps           []string // acme's two (the second fifo), globex's, then three without a tenant
	fifoHead      int64
	acme, globex  string
	deadOfEndoint map[string]int
}

func seedVolume(t *testing.T) *volume {
	t.Helper()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	v := &volume{rec: &recorder{}, acme: "acme", globex: "globex", deadOfEndoint: map[string]int{}}
	cfg.ConnConfig.Tracer = v.rec
	if v.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.pool.Close)
	for _, id := range []string{v.acme, v.globex} {
		if _, _, err := tenant.Put(ctx, v.pool, id, tenant.PutParams{}); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range []endpoint.CreateParams{
		{URL: "https://a1.example/hook", Description: "Acme billing", Tenant: v.acme},
		{URL: "https://a2.example/hook", Description: "Acme ledger", Tenant: v.acme, Ordering: endpoint.OrderingFIFO},
		{URL: "https://g1.example/hook", Description: "Globex", Tenant: v.globex},
		{URL: "https://n1.example/hook"}, {URL: "https://n2.example/hook"}, {URL: "https://n3.example/hook"},
	} {
		ep, err := endpoint.Create(ctx, v.pool, p)
		if err != nil {
			t.Fatalf("endpoint %d: %v", i, err)
		}
		v.eps = append(v.eps, ep.ID)
	}
	pastPartitions(t, v.pool)
	for _, sql := range []string{
		// Event i goes to endpoint i % 6, stored i * 2.4s after 20 hours ago.
		`CREATE TEMP TABLE seed AS SELECT i, 'evt_v' || i AS id,
			now() - interval '20 hours' + i * interval '2400 milliseconds' AS at,
			($1::text[])[1 + i % 6] AS ep, CASE i % 6 WHEN 0 THEN 'acme' WHEN 1 THEN 'acme' WHEN 2 THEN 'globex' END AS tenant
			FROM generate_series(0, 29999) i`,
		`INSERT INTO hookd.events (id, type, data, tenant_id, fanned_out, stored_at, created_at)
			SELECT id, CASE WHEN i % 3 = 0 THEN 'payment.failed' ELSE 'invoice.paid' END, '{}', tenant, true, at, at FROM seed ORDER BY i`,
		`INSERT INTO hookd.event_ids (id, stored_at) SELECT id, at FROM seed`,
		`INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts,
				last_status, last_error_class, last_error, created_at, completed_at)
			SELECT nextval('hookd.delivery_ids'), id, at, ep, tenant, 'invoice.paid',
				CASE WHEN i % 20 IN (7, 8) THEN 'dead' ELSE 'succeeded' END, CASE WHEN i % 20 IN (7, 8) THEN 10 ELSE 1 END,
				CASE WHEN i % 20 IN (7, 8) THEN 503 ELSE 200 END, CASE WHEN i % 20 IN (7, 8) THEN 'http_status' ELSE '' END,
				CASE WHEN i % 20 IN (7, 8) THEN 'HTTP 503 Service Unavailable' ELSE '' END, at, at + interval '1 second'
			FROM seed WHERE i < 29000 ORDER BY i`,
		`INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts,
				next_attempt_at, last_status, last_error_class, last_error, created_at)
			SELECT id, at, ep, tenant, 'invoice.paid',
				CASE WHEN i % 10 < 6 THEN 'pending' WHEN i % 10 < 9 THEN 'retrying' ELSE 'held' END,
				CASE WHEN i % 10 < 6 THEN 0 ELSE 2 END,
				CASE WHEN i % 10 < 6 THEN now() ELSE now() + interval '1 hour' END,
				CASE WHEN i % 10 < 6 THEN NULL ELSE 500 END, CASE WHEN i % 10 < 6 THEN '' ELSE 'http_status' END,
				CASE WHEN i % 10 < 6 THEN '' ELSE 'HTTP 500' END, at
			FROM seed WHERE i >= 29000 ORDER BY i`,
		`INSERT INTO hookd.lanes (endpoint_id) SELECT DISTINCT endpoint_id FROM hookd.queue WHERE state = 'pending'`,
		`INSERT INTO hookd.endpoint_minutes (endpoint_id, minute, attempts, successes, latency_buckets)
			SELECT ep, date_trunc('minute', now()) - m * interval '1 minute', 25, CASE WHEN ep = ($1::text[])[1] THEN 5 ELSE 25 END,
				'{10,10,5,0,0,0,0,0,0,0,0,0,0}'
			FROM unnest($1::text[]) ep, generate_series(0, 1199) m`,
		`INSERT INTO hookd.endpoint_health (endpoint_id, consecutive_failures, last_status, failing_since)
			SELECT ep, 7, 503, now() - interval '10 minutes' FROM unnest($1::text[]) ep WHERE ep = ($1::text[])[1]`,
	} {
		var err error
		if strings.Contains(sql, "$1") {
			_, err = v.pool.Exec(ctx, sql, v.eps)
		} else {
			_, err = v.pool.Exec(ctx, sql)
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	// The fifo endpoint's head has failed and waits out a backoff.
	if err := v.pool.QueryRow(ctx, `UPDATE hookd.queue SET state = 'retrying', attempts = 3, next_attempt_at = now() + interval '10 minutes',
			last_error = 'HTTP 500', last_error_class = 'http_status', last_status = 500
		WHERE id = (SELECT min(id) FROM hookd.queue WHERE endpoint_id = $1 AND state = 'pending') RETURNING id`, v.eps[1]).Scan(&v.fifoHead); err != nil {
		t.Fatal(err)
	}
	rows, _ := v.pool.Query(ctx, `SELECT endpoint_id, count(*) FROM hookd.finished WHERE state = 'dead' GROUP BY 1`)
	for rows.Next() {
		var ep string
		var n int
		_ = rows.Scan(&ep, &n)
		v.deadOfEndoint[ep] = n
	}
	rows.Close()
	for _, table := range []string{"hookd.events", "hookd.finished", "hookd.queue", "hookd.endpoint_minutes", "hookd.lanes",
		"hookd.endpoint_health", "hookd.endpoints", "hookd.tenants", "hookd.event_ids"} {
		if _, err := v.pool.Exec(ctx, "VACUUM ANALYZE "+table); err != nil {
			t.Fatal(err)
		}
	}
	v.rec.take()
	v.src = data.NewPostgres(v.pool)
	return v
}

// pastPartitions gives each partitioned table, in place of the
// partitions made for the days around now (empty yet), one of its own
// from three days before now to a day after, so that history of the last
// hours seeded lies in one partition whatever the time of day. With a
// partition a day long, an hour after midnight the current one held an
// hour of the seed, which the overview's last hour then read whole by
// sequential scan, rightly, and the test failed for hours of each day.
func pastPartitions(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), `DO $$
		DECLARE lo timestamptz := now() - interval '3 days'; hi timestamptz := now() + interval '1 day'; t text; p text;
		BEGIN
			FOREACH t IN ARRAY ARRAY['events', 'finished', 'attempts', 'attempt_bodies', 'inbox', 'endpoint_minutes', 'intake_minutes'] LOOP
				FOR p IN SELECT name FROM hookd.partitions WHERE parent = t AND lower_bound > '1970-01-02' LOOP
					EXECUTE format('DROP TABLE hookd.%I', p);
					DELETE FROM hookd.partitions WHERE name = p;
				END LOOP;
				EXECUTE format('CREATE TABLE hookd.%I PARTITION OF hookd.%I FOR VALUES FROM (%L) TO (%L)',
					t || '_seed', t, lo, hi);
				INSERT INTO hookd.partitions (name, parent, lower_bound, upper_bound) VALUES (t || '_seed', t, lo, hi);
			END LOOP;
		END $$`); err != nil {
		tb.Fatal(err)
	}
}

// history names the partitions of the tables that grow with history.
var history = regexp.MustCompile(`^(events|finished|attempts|attempt_bodies|endpoint_minutes)(_|$)`)

// fewPages is the most pages a history relation may have and still be
// read by sequential scan: reading so few costs about what an index probe
// does, and the planner rightly prefers it. Such is the legacy partition;
// the one that holds the seed has hundreds of pages.
const fewPages = 16

// seqScans returns the history relations a plan reads by sequential
// scan, but for those in empty (of fewPages or fewer).
func seqScans(node map[string]any, empty map[string]bool) []string {
	var out []string
	if node["Node Type"] == "Seq Scan" {
		if rel, _ := node["Relation Name"].(string); history.MatchString(rel) && !empty[rel] {
			out = append(out, rel)
		}
	}
	if kids, ok := node["Plans"].([]any); ok {
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				out = append(out, seqScans(m, empty)...)
			}
		}
	}
	return out
}

// indexes returns the indexes a plan reads.
func indexes(node map[string]any) []string {
	var out []string
	if name, ok := node["Index Name"].(string); ok {
		out = append(out, name)
	}
	if kids, ok := node["Plans"].([]any); ok {
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				out = append(out, indexes(m)...)
			}
		}
	}
	return out
}

// explain plans s as sent (a custom plan, for its arguments) and, with
// generic, as a prepared statement run many times may be planned (a
// generic plan, for any arguments).
func explain(t *testing.T, conn *pgx.Conn, s stmt, generic bool) map[string]any {
	t.Helper()
	ctx := context.Background()
	mode := "force_custom_plan"
	if generic {
		mode = "force_generic_plan"
	}
	call := "EXPLAIN (FORMAT JSON) EXECUTE console_stmt"
	if len(s.args) > 0 {
		lits := make([]string, len(s.args))
		for i, a := range s.args {
			lits[i] = literal(t, a)
		}
		call += "(" + strings.Join(lits, ", ") + ")"
	}
	var out []byte
	err := func() error {
		for _, q := range []string{"SET plan_cache_mode = " + mode, "DEALLOCATE ALL", "PREPARE console_stmt AS " + s.sql} {
			if _, err := conn.Exec(ctx, q); err != nil {
				return err
			}
		}
		return conn.QueryRow(ctx, call).Scan(&out)
	}()
	if err != nil {
		t.Fatalf("explain: %v:\n%s\n%s", err, s.sql, call)
	}
	var plans []map[string]any
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("explain output %s: %v", out, err)
	}
	return plans[0]["Plan"].(map[string]any)
}

// literal renders an argument as an SQL literal of unknown type, which
// EXECUTE coerces to the prepared statement's parameter type.
func literal(t *testing.T, a any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	array := func(items []string) string {
		for i, v := range items {
			items[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
		}
		return quote("{" + strings.Join(items, ",") + "}")
	}
	switch v := a.(type) {
	case nil:
		return "NULL"
	case string:
		return quote(v)
	case bool, int, int32, int64:
		return fmt.Sprint(v)
	case time.Time:
		return quote(v.Format(time.RFC3339Nano))
	case []string:
		return array(append([]string(nil), v...))
	case []int64:
		items := make([]string, len(v))
		for i, n := range v {
			items[i] = fmt.Sprint(n)
		}
		return quote("{" + strings.Join(items, ",") + "}")
	}
	t.Fatalf("no literal for %T", a)
	return ""
}

// The console's reads of deliveries use an index on the table of their
// state and never read history by sequential scan, planned as sent and
// as a prepared statement's generic plan: the dead-letter list, one
// endpoint's deliveries, searches (text, tenant), groups, an endpoint's
// page, the overview and the tenants view.
func TestReadsUseIndexesNotHistoryScans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := seedVolume(t)
	now := time.Now()
	cc := v.pool.Config().ConnConfig.Copy()
	cc.Tracer, cc.DefaultQueryExecMode = nil, pgx.QueryExecModeSimpleProtocol // it prepares by hand
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Tables of a few pages (see seqScans) as VACUUM ANALYZE left them.
	empty := map[string]bool{}
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_class WHERE relnamespace = 'hookd'::regnamespace AND relkind = 'r'
		AND relpages <= $1`, fewPages)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		_ = rows.Scan(&name)
		empty[name] = true
	}
	rows.Close()
	dead := delivery.Filter{State: delivery.StateDead}
	reads := []struct {
		name string
		run  func() error
		// want starts the name of an index the reads must use (an
		// index of a partition of hookd.finished: finished_...).
		want string
	}{
		{"dead-letter list", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{Filter: dead, Limit: 100})
			return err
		}, "finished_"},
		{"one endpoint's deliveries", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{EndpointIDs: []string{v.eps[3]}, Limit: 100})
			return err
		}, "finished_"},
		{"one endpoint's dead letters", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead, EndpointID: v.eps[3]}, Limit: 100})
			return err
		}, "finished_"},
		{"search by text", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{Filter: dead, Text: "service unavailable", Limit: 100})
			return err
		}, "finished_"},
		{"search all states by status", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{StatusMin: 500, StatusMax: 599, Limit: 100})
			return err
		}, "finished_"},
		{"a tenant's dead letters", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead, Tenant: v.acme}, Limit: 100})
			return err
		}, "finished_"},
		{"retrying", func() error {
			_, err := v.src.Deliveries(ctx, data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateRetrying}, Limit: 100})
			return err
		}, "queue_"},
		{"dead letters grouped", func() error { _, err := v.src.DeadGroups(ctx, data.DeliveryQuery{}); return err }, "finished_"},
		{"endpoint page", func() error { _, err := v.src.Endpoint(ctx, v.eps[1], now); return err }, "finished_"},
		{"overview", func() error { _, err := v.src.Overview(ctx, now); return err }, "endpoint_minutes_"},
		{"tenants", func() error { _, err := v.src.Tenants(ctx, data.TenantQuery{Now: now}); return err }, "finished_"},
	}
	for _, r := range reads {
		if err := r.run(); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		stmts := v.rec.take()
		var used []string
		for _, s := range stmts {
			if !strings.Contains(s.sql, "hookd.") || strings.HasPrefix(strings.TrimSpace(s.sql), "EXPLAIN") {
				continue
			}
			for _, generic := range []bool{false, true} {
				plan := explain(t, conn, s, generic)
				if scans := seqScans(plan, empty); len(scans) > 0 {
					t.Errorf("%s (generic plan %v) reads history by sequential scan (%v):\n%s", r.name, generic, scans, s.sql)
				}
				if !generic {
					used = append(used, indexes(plan)...)
				}
			}
		}
		if len(stmts) == 0 {
			t.Errorf("%s ran nothing", r.name)
		}
		if !slices.ContainsFunc(used, func(name string) bool { return strings.HasPrefix(name, r.want) }) {
			t.Errorf("%s uses no index like %q: %v", r.name, r.want, used)
		}
		t.Logf("%s: %d statements, indexes %v", r.name, len(stmts), used)
	}
}
