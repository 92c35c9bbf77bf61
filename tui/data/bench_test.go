package data_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/data"
)

// seedMillion fills a fresh database with 1,000,000 deliveries (250,000
// events to 4 endpoints, created over the last day; 90% succeeded, 5%
// dead, 4% pending, 1% retrying), an hour of minute rollups and 10,000
// inbox events. Benchmarks only: never in normal test runs.
func seedMillion(b *testing.B) *pgxpool.Pool {
	b.Helper()
	pool := dbtest.NewPool(b)
	ctx := context.Background()
	start := time.Now()
	for _, sql := range []string{
		`INSERT INTO hookd.endpoints (id, url, secret) SELECT 'ep_bench_' || i, 'https://ep' || i || '.example/hook',
			'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM generate_series(1, 4) i`,
		`INSERT INTO hookd.events (id, type, data, created_at, fanned_out)
			SELECT 'evt_bench_' || i, CASE WHEN i % 3 = 0 THEN 'payment.failed' ELSE 'invoice.paid' END,
				'{"n":1}', now() - (250000 - i) * interval '345 milliseconds', true
			FROM generate_series(1, 250000) i`,
		`INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, last_status,
				created_at, completed_at)
			SELECT nextval('hookd.delivery_ids'), e.id, e.stored_at, 'ep_bench_' || k, e.type,
				CASE WHEN r < 90 THEN 'succeeded' ELSE 'dead' END, CASE WHEN r < 90 THEN 1 ELSE 10 END,
				CASE WHEN r < 90 THEN 200 ELSE 500 END, e.created_at, e.created_at
			FROM hookd.events e, generate_series(1, 4) k, LATERAL (SELECT (hashtext(e.id || k) & 2147483647) % 100 AS r) x
			WHERE r < 95`,
		`INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, event_type, state, attempts, last_status,
				next_attempt_at, created_at)
			SELECT e.id, e.stored_at, 'ep_bench_' || k, e.type, CASE WHEN r < 96 THEN 'retrying' ELSE 'pending' END,
				CASE WHEN r < 96 THEN 2 ELSE 0 END, CASE WHEN r < 96 THEN 500 END,
				CASE WHEN r < 96 THEN now() + interval '1 hour' ELSE e.created_at END, e.created_at
			FROM hookd.events e, generate_series(1, 4) k, LATERAL (SELECT (hashtext(e.id || k) & 2147483647) % 100 AS r) x
			WHERE r >= 95`,
		`INSERT INTO hookd.endpoint_minutes (endpoint_id, minute, attempts, successes, latency_buckets)
			SELECT 'ep_bench_' || k, date_trunc('minute', now()) - m * interval '1 minute', 2000, 1900,
				'{100,400,800,500,150,40,10,0,0,0,0,0,0}'
			FROM generate_series(1, 4) k, generate_series(0, 59) m`,
		`INSERT INTO hookd.inbox (source, event_id, body, state) SELECT 'src' || (i % 3), 'in_' || i, '{}',
			CASE WHEN i % 50 = 0 THEN 'dead' ELSE 'processed' END FROM generate_series(1, 10000) i`,
		`ANALYZE`, // as autovacuum would have by now
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	var n, pages, visible int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries`).Scan(&n)
	// Counts of queued deliveries are index-only once VACUUM has marked the
	// pages all-visible; on a server shared with other busy tests an old
	// transaction elsewhere can prevent that, and the figures are higher.
	_ = pool.QueryRow(ctx, `SELECT relpages, relallvisible FROM pg_class WHERE oid = 'hookd.deliveries'::regclass`).Scan(&pages, &visible)
	b.Logf("seeded %d deliveries in %s; %d of %d pages all-visible", n, time.Since(start).Round(time.Millisecond), visible, pages)
	return pool
}

// BenchmarkFirstLoad1M measures the first load of each view's data on a
// database of 1,000,000 deliveries: what the console does on opening.
func BenchmarkFirstLoad1M(b *testing.B) {
	pool := seedMillion(b)
	src := data.NewPostgres(pool)
	ctx := context.Background()
	views := []struct {
		name string
		load func() error
	}{
		{"overview", func() error { _, err := src.Overview(ctx, time.Now()); return err }},
		{"endpoints", func() error { _, err := src.Endpoints(ctx, data.EndpointQuery{}); return err }},
		{"deliveries", func() error {
			_, err := src.Deliveries(ctx, data.DeliveryQuery{Limit: 100})
			return err
		}},
		{"deliveries_filtered", func() error {
			_, err := src.Deliveries(ctx, data.DeliveryQuery{Limit: 100, Filter: delivery.Filter{EndpointID: "ep_bench_2", EventType: "payment.*"}})
			return err
		}},
		{"dead_letters", func() error {
			_, err := src.Deliveries(ctx, data.DeliveryQuery{Limit: 100, Filter: delivery.Filter{State: delivery.StateDead}})
			return err
		}},
		{"dead_letters_search", func() error {
			_, err := src.Deliveries(ctx, data.DeliveryQuery{Limit: 100, Filter: delivery.Filter{State: delivery.StateDead}, Text: "boom"})
			return err
		}},
		{"dead_groups", func() error {
			_, err := src.DeadGroups(ctx, data.DeliveryQuery{})
			return err
		}},
		{"endpoint_page", func() error { _, err := src.Endpoint(ctx, "ep_bench_2", time.Now()); return err }},
		{"inbox", func() error { _, err := src.Inbox(ctx, data.InboxQuery{Limit: 100}); return err }},
	}
	b.Run("all_views", func(b *testing.B) {
		for b.Loop() {
			for _, v := range views {
				if err := v.load(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				if err := v.load(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seedScale fills a fresh database with endpoints endpoints across tenants
// tenants (every hundredth fifo), of which 1,000 are active whatever the
// total: 100,000 events over the last two hours to them (95% succeeded,
// 5% dead), 20,000 deliveries still to do (a tenth of the fifo ones with
// a blocked head), an hour of minute rollups (a tenth failing), ten
// breakers open; vacuumed and analyzed. Two databases that differ only in
// the number of endpoints and tenants then do the same work.
func seedScale(b *testing.B, endpoints, tenants int) *pgxpool.Pool {
	b.Helper()
	pool := dbtest.NewPool(b)
	ctx := context.Background()
	start := time.Now()
	pastPartitions(b, pool)
	every := endpoints / 1000 // one active endpoint in every
	for _, sql := range []string{
		`INSERT INTO hookd.tenants (id, name) SELECT 'cus_' || lpad(i::text, 6, '0'), 'Customer ' || i FROM generate_series(1, $2) i`,
		`INSERT INTO hookd.endpoints (id, url, description, secret, tenant_id, ordering)
			SELECT 'ep_' || lpad(i::text, 6, '0'), 'https://ep' || i || '.example/hook', 'customer ' || i,
				'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'cus_' || lpad((1 + i % $2)::text, 6, '0'),
				CASE WHEN i % 100 = 0 THEN 'fifo' ELSE 'concurrent' END
			FROM generate_series(1, $1) i`,
		`CREATE TEMP TABLE active AS SELECT e.id, e.tenant_id, e.ordering, row_number() OVER (ORDER BY e.id) AS n
			FROM hookd.endpoints e WHERE substr(e.id, 4)::int % $3 = 0`,
		`CREATE TEMP TABLE seed AS SELECT i, 'evt_s' || i AS id, now() - interval '2 hours' + i * interval '72 milliseconds' AS at,
			a.id AS ep, a.tenant_id FROM generate_series(0, 99999) i JOIN active a ON a.n = 1 + i % 1000`,
		`INSERT INTO hookd.events (id, type, data, tenant_id, fanned_out, stored_at, created_at)
			SELECT id, 'invoice.paid', '{}', tenant_id, true, at, at FROM seed ORDER BY i`,
		`INSERT INTO hookd.event_ids (id, stored_at) SELECT id, at FROM seed`,
		`INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts,
				last_status, last_error_class, last_error, created_at, completed_at)
			SELECT nextval('hookd.delivery_ids'), id, at, ep, tenant_id, 'invoice.paid',
				CASE WHEN i % 20 = 7 THEN 'dead' ELSE 'succeeded' END, 1, CASE WHEN i % 20 = 7 THEN 503 ELSE 200 END,
				CASE WHEN i % 20 = 7 THEN 'http_status' ELSE '' END, CASE WHEN i % 20 = 7 THEN 'HTTP 503' ELSE '' END, at, at
			FROM seed WHERE i < 80000 ORDER BY i`,
		`INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts, next_attempt_at, created_at)
			SELECT id, at, ep, tenant_id, 'invoice.paid', CASE WHEN i % 4 = 0 THEN 'retrying' ELSE 'pending' END,
				CASE WHEN i % 4 = 0 THEN 2 ELSE 0 END, CASE WHEN i % 4 = 0 THEN now() + interval '1 hour' ELSE at END, at
			FROM seed WHERE i >= 80000 ORDER BY i`,
		`UPDATE hookd.queue q SET state = 'retrying', attempts = 3, next_attempt_at = now() + interval '10 minutes', last_error = 'HTTP 500'
			FROM active a WHERE a.id = q.endpoint_id AND a.ordering = 'fifo' AND a.n % 10 = 0 AND q.state = 'pending'
			AND q.id = (SELECT min(id) FROM hookd.queue h WHERE h.endpoint_id = a.id AND h.state = 'pending')`,
		`INSERT INTO hookd.lanes (endpoint_id) SELECT DISTINCT endpoint_id FROM hookd.queue WHERE state = 'pending'`,
		`INSERT INTO hookd.endpoint_minutes (endpoint_id, minute, attempts, successes, latency_buckets)
			SELECT a.id, date_trunc('minute', now()) - m * interval '1 minute', 20, CASE WHEN a.n % 10 = 0 THEN 4 ELSE 20 END,
				'{5,5,5,5,0,0,0,0,0,0,0,0,0}'
			FROM active a, generate_series(0, 59) m`,
		`INSERT INTO hookd.endpoint_health (endpoint_id, consecutive_failures, last_status, failing_since, breaker_opened_at, breaker_probe_at)
			SELECT a.id, CASE WHEN a.n % 10 = 0 THEN 12 ELSE 0 END, CASE WHEN a.n % 10 = 0 THEN 503 ELSE 200 END,
				CASE WHEN a.n % 10 = 0 THEN now() - interval '1 hour' END,
				CASE WHEN a.n % 100 = 0 THEN now() - interval '5 minutes' END, CASE WHEN a.n % 100 = 0 THEN now() + interval '30 seconds' END
			FROM active a`,
		`VACUUM ANALYZE`,
	} {
		// The sizes are the benchmark's own numbers: written in as literals.
		sql = strings.NewReplacer("$1", fmt.Sprint(endpoints), "$2", fmt.Sprint(tenants), "$3", fmt.Sprint(every)).Replace(sql)
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatalf("%v\n%s", err, sql)
		}
	}
	b.Logf("seeded %d endpoints of %d tenants, 1,000 active, in %s", endpoints, tenants, time.Since(start).Round(time.Millisecond))
	return pool
}

// BenchmarkEndpoints100k measures what the console reads on every refresh
// with 1,000 and with 100,000 endpoints (100 and 10,000 tenants) doing the
// same work: the overview, a page of the endpoints view and of the tenants
// view, dead letters, a tenant's dead letters and an endpoint's page. The
// figures at both sizes are the proof that a refresh costs the same
// whatever the number of endpoints and tenants. Run it with
//
//	go test ./tui/data -run '^$' -bench Endpoints100k -benchtime 20x
func BenchmarkEndpoints100k(b *testing.B) {
	for _, size := range []struct{ endpoints, tenants int }{{1_000, 100}, {100_000, 10_000}} {
		b.Run(fmt.Sprintf("endpoints=%d", size.endpoints), func(b *testing.B) {
			pool := seedScale(b, size.endpoints, size.tenants)
			benchRefreshes(b, pool)
		})
	}
}

func benchRefreshes(b *testing.B, pool *pgxpool.Pool) {
	ctx := context.Background()
	src := data.NewPostgres(pool)
	var active, tenantID string
	if err := pool.QueryRow(ctx, `SELECT endpoint_id, tenant_id FROM hookd.finished WHERE state = 'dead' ORDER BY id DESC LIMIT 1`).
		Scan(&active, &tenantID); err != nil {
		b.Fatal(err)
	}
	run := func(name string, f func() error) {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := f(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("overview_refresh", func() error { _, err := src.Overview(ctx, time.Now()); return err })
	run("overview_first_load", func() error { _, err := data.NewPostgres(pool).Overview(ctx, time.Now()); return err })
	run("endpoints_page_of_200", func() error {
		page, err := src.Endpoints(ctx, data.EndpointQuery{Limit: 200})
		if err == nil && len(page.Rows) != 200 {
			err = fmt.Errorf("%d rows", len(page.Rows))
		}
		return err
	})
	run("endpoints_next_page_deep", func() error {
		_, err := src.Endpoints(ctx, data.EndpointQuery{Limit: 200, After: "ep_000900"})
		return err
	})
	run("tenants_page_of_100", func() error { _, err := src.Tenants(ctx, data.TenantQuery{}); return err })
	run("dead_letters", func() error {
		_, err := src.Deliveries(ctx, data.DeliveryQuery{Limit: 100, Filter: delivery.Filter{State: delivery.StateDead}})
		return err
	})
	run("tenant_dead_letters", func() error {
		_, err := src.Deliveries(ctx, data.DeliveryQuery{Limit: 100, Filter: delivery.Filter{State: delivery.StateDead, Tenant: tenantID}})
		return err
	})
	run("endpoint_page", func() error { _, err := src.Endpoint(ctx, active, time.Now()); return err })
	run("filter_resolution_once", func() error { _, err := src.FindEndpoints(ctx, "customer 4242", "", 1000); return err })
}
