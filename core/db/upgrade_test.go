package db_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/retention"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// seedV1 fills a database of schema 4 (before tenants and partitions) with
// events to 4 endpoints, n deliveries in all (90% succeeded, 5% dead, 4%
// pending, 1% retrying) and an attempt each.
func seedV1(t testing.TB, conn *pgx.Conn, n int) {
	t.Helper()
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO hookd.endpoints (id, url, secret) SELECT 'ep_' || i, 'https://ep' || i || '.example/hook',
			'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' FROM generate_series(1, 4) i`,
		`INSERT INTO hookd.events (id, type, data, created_at, fanned_out)
			SELECT 'evt_' || i, 'invoice.paid', '{"amount":4200,"currency":"eur"}', now() - (` + strconv.Itoa(n/4) + ` - i) * interval '300 milliseconds', true
			FROM generate_series(1, ` + strconv.Itoa(n/4) + `) i`,
		`INSERT INTO hookd.deliveries (event_id, endpoint_id, event_type, state, attempts, next_attempt_at, last_status, created_at, completed_at)
			SELECT e.id, 'ep_' || k, e.type,
				CASE WHEN r < 90 THEN 'succeeded' WHEN r < 95 THEN 'dead' ELSE 'pending' END,
				CASE WHEN r < 95 THEN 1 ELSE 0 END,
				CASE WHEN r = 95 THEN now() + interval '1 hour' ELSE e.created_at END,
				CASE WHEN r < 90 THEN 200 WHEN r < 95 THEN 500 END, e.created_at, CASE WHEN r < 95 THEN e.created_at END
			FROM hookd.events e, generate_series(1, 4) k, LATERAL (SELECT (hashtext(e.id || k) & 2147483647) % 100 AS r) x`,
		`INSERT INTO hookd.attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, request_url, request_headers,
				response_status, response_headers, response_body)
			SELECT id, endpoint_id, 1, created_at, 1200, 'https://example/hook', '{"Webhook-Id":["x"]}', last_status,
				'{"Content-Type":["text/plain"]}', CASE WHEN state = 'dead' THEN 'down' ELSE '' END
			FROM hookd.deliveries WHERE state IN ('succeeded', 'dead')`,
		`ANALYZE`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
}

func counts(t testing.TB, conn *pgx.Conn, queries ...string) []int64 {
	t.Helper()
	out := make([]int64, len(queries))
	for i, q := range queries {
		if err := conn.QueryRow(context.Background(), q).Scan(&out[i]); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return out
}

// An existing database with data in it is upgraded to schema 5 with
// every row accounted for: events, deliveries (finished ones into the
// partitioned history, the rest into the queue) and attempts.
func TestUpgradeKeepsEveryRow(t *testing.T) {
	t.Parallel()
	n := 4000
	if s := os.Getenv("HOOKD_UPGRADE_ROWS"); s != "" { // e.g. 1000000, to time the upgrade
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.NewEmptyDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := db.MigrateTo(ctx, conn, 4); err != nil {
		t.Fatal(err)
	}
	seedV1(t, conn, n)
	before := counts(t, conn,
		`SELECT count(*) FROM hookd.events`,
		`SELECT count(*) FROM hookd.deliveries WHERE state IN ('succeeded', 'dead')`,
		`SELECT count(*) FROM hookd.deliveries WHERE state IN ('pending', 'in_flight', 'held')`,
		`SELECT count(*) FROM hookd.attempts`,
		`SELECT count(*) FROM hookd.attempts WHERE response_body <> ''`)
	start := time.Now()
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("upgraded %d deliveries (%d events, %d attempts) in %s: %.1f s per million deliveries",
		n, before[0], before[3], took, took.Seconds()*1e6/float64(n))
	after := counts(t, conn,
		`SELECT count(*) FROM hookd.events`,
		`SELECT count(*) FROM hookd.finished`,
		`SELECT count(*) FROM hookd.queue`,
		`SELECT count(*) FROM hookd.attempts`,
		`SELECT count(*) FROM hookd.attempt_bodies`)
	for i, what := range []string{"events", "finished deliveries", "queued deliveries", "attempts", "response bodies"} {
		if before[i] != after[i] {
			t.Errorf("%s: %d before the upgrade, %d after", what, before[i], after[i])
		}
	}
	if after[1]+after[2] != int64(n) {
		t.Errorf("%d deliveries after the upgrade, want %d", after[1]+after[2], n)
	}
	retrying := counts(t, conn, `SELECT count(*) FROM hookd.queue WHERE state = 'retrying'`,
		`SELECT count(*) FROM hookd.event_ids`, `SELECT count(DISTINCT endpoint_id) FROM hookd.lanes`)
	if retrying[0] == 0 || retrying[1] != before[0] || retrying[2] != 4 {
		t.Errorf("after the upgrade: %d retrying, %d event ids, %d lanes; want some, %d and 4", retrying[0], retrying[1], retrying[2], before[0])
	}
	// The old work is claimed with its events, whose rows stayed where they were.
	c, err := delivery.Claim(ctx, conn, delivery.ClaimParams{Limit: 50, Lease: time.Minute, Worker: "w"})
	if err != nil || len(c.Jobs) != 50 || len(c.Missing) != 0 || string(c.Jobs[0].EventData) != `{"amount":4200,"currency":"eur"}` {
		t.Fatalf("claiming upgraded work: %d jobs, %d without their event, %v", len(c.Jobs), len(c.Missing), err)
	}
	// The history from before the upgrade is kept for retention.period
	// from the upgrade, although its rows' range ends in 1970.
	period := 30 * 24 * time.Hour
	if rep, err := retention.Run(ctx, conn, retention.Options{Period: period, RollupKeep: 3 * period}, time.Now().Add(period-time.Hour)); err != nil || len(rep.Dropped) != 0 {
		t.Fatalf("retention within the period after the upgrade dropped %v (%v); want nothing", rep.Dropped, err)
	}
	if left := counts(t, conn, `SELECT count(*) FROM hookd.events`); left[0] != before[0] {
		t.Fatalf("%d events kept within the period after the upgrade, want all %d", left[0], before[0])
	}
	// Once the period has passed since the upgrade, retention drops the
	// legacy partitions like any other, carrying what still has work to
	// do forward.
	queuedEvents := counts(t, conn, `SELECT count(DISTINCT event_id) FROM hookd.queue`)[0]
	rep, err := retention.Run(ctx, conn, retention.Options{Period: period, RollupKeep: 3 * period}, time.Now().Add(period+48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var legacy []string
	for _, p := range rep.Dropped {
		if strings.HasSuffix(p.Name, "_legacy") {
			legacy = append(legacy, p.Name)
		}
	}
	if len(legacy) != len(partition.History) || rep.Carried != int(queuedEvents) {
		t.Errorf("retention dropped %v and carried %d events; want the legacy partitions of %v and every queued delivery's event (%d)", legacy, rep.Carried, partition.History, queuedEvents)
	}
	if left := counts(t, conn, `SELECT count(*) FROM hookd.queue q WHERE NOT EXISTS (
		SELECT 1 FROM hookd.events e WHERE e.id = q.event_id AND e.stored_at = q.event_stored_at)`); left[0] != 0 {
		t.Errorf("%d queued deliveries lost their event", left[0])
	}
}

// Schema 18 stores a fifo line's head waiting out a backoff as retrying,
// where it stayed pending before; no other delivery changes state.
func TestUpgradeStoresFIFOHeadsRetrying(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.NewEmptyDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := db.MigrateTo(ctx, conn, 17); err != nil {
		t.Fatal(err)
	}
	// Per endpoint: a head in backoff; a retry come due (pending, attempted
	// before); one never attempted.
	for _, sql := range []string{
		`INSERT INTO hookd.endpoints (id, url, secret, ordering) VALUES
			('ep_fifo', 'https://fifo.example/', 'x', 'fifo'), ('ep_conc', 'https://conc.example/', 'x', 'concurrent')`,
		`INSERT INTO hookd.queue (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, next_attempt_at)
			SELECT k * 10 + i, 'evt_' || k || i, now(), ep, 'a.b', 'pending', CASE WHEN i < 2 THEN 2 ELSE 0 END,
				CASE WHEN i = 0 THEN now() + interval '1 hour' ELSE now() - interval '1 second' END
			FROM unnest(ARRAY['ep_fifo', 'ep_conc']) WITH ORDINALITY AS e(ep, k), generate_series(0, 2) i`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT id FROM hookd.queue WHERE state = 'retrying'`)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) != 1 || ids[0] != 10 {
		t.Fatalf("retrying after the upgrade: %v (%v), want the fifo head (10) alone", ids, err)
	}
	if n := counts(t, conn, `SELECT count(*) FROM hookd.queue WHERE state = 'pending'`); n[0] != 5 {
		t.Fatalf("%d pending after the upgrade, want the other 5", n[0])
	}
}
