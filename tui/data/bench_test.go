package data_test

import (
	"context"
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

// BenchmarkEndpoints100k measures the endpoints view's refresh (one page
// of 200 with its health) and a filter's resolution on 100,000 endpoints,
// a tenth of them with deliveries: the refresh reads the page, not the
// table.
func BenchmarkEndpoints100k(b *testing.B) {
	pool := dbtest.NewPool(b)
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO hookd.endpoints (id, url, description, secret) SELECT 'ep_' || lpad(i::text, 6, '0'),
			'https://ep' || i || '.example/hook', 'customer ' || i, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM generate_series(1, 100000) i`,
		`INSERT INTO hookd.events (id, type, data, fanned_out) SELECT 'evt_' || i, 'invoice.paid', '{}', true FROM generate_series(1, 10000) i`,
		`INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, created_at, completed_at)
			SELECT nextval('hookd.delivery_ids'), e.id, e.stored_at, 'ep_' || lpad((substr(e.id, 5)::int * 10)::text, 6, '0'),
				'invoice.paid', CASE WHEN substr(e.id, 5)::int % 5 = 0 THEN 'dead' ELSE 'succeeded' END, 1, now(), now()
			FROM hookd.events e`,
		`INSERT INTO hookd.endpoint_minutes (endpoint_id, minute, attempts, successes, latency_buckets)
			SELECT 'ep_' || lpad((i * 10)::text, 6, '0'), date_trunc('minute', now()), 10, 9, '{5,3,2,0,0,0,0,0,0,0,0,0,0}' FROM generate_series(1, 10000) i`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	src := data.NewPostgres(pool)
	b.Run("refresh_page_of_200", func(b *testing.B) {
		for b.Loop() {
			page, err := src.Endpoints(ctx, data.EndpointQuery{Limit: 200})
			if err != nil || len(page.Rows) != 200 {
				b.Fatal(err, len(page.Rows))
			}
		}
	})
	b.Run("next_page_deep", func(b *testing.B) {
		for b.Loop() {
			if _, err := src.Endpoints(ctx, data.EndpointQuery{Limit: 200, After: "ep_090000"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("filter_resolution_once", func(b *testing.B) {
		for b.Loop() {
			if _, err := src.FindEndpoints(ctx, "customer 4242", 1000); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("refresh_filtered", func(b *testing.B) {
		ls, _ := src.FindEndpoints(ctx, "customer 4242", 1000)
		ids := make([]string, len(ls))
		for i, l := range ls {
			ids[i] = l.ID
		}
		for b.Loop() {
			if _, err := src.Endpoints(ctx, data.EndpointQuery{IDs: ids}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
