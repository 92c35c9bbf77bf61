package metrics_test

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/metrics"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The database gauges are read at scrape time: queue states, the oldest
// due delivery's age, and whether the database answered.
func TestDatabaseGauges(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `
		INSERT INTO hookd.endpoints (id, url, secret) VALUES ('ep_1', 'https://r.example/', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
		INSERT INTO hookd.events (id, type, data, fanned_out) SELECT 'e' || i, 'a.b', '{}', true FROM generate_series(1, 6) i;
		INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, event_type, state, next_attempt_at)
		SELECT e.id, e.stored_at, 'ep_1', 'a.b', s.state, now() - interval '90 seconds'
		FROM (VALUES ('e1', 'pending'), ('e5', 'held'), ('e6', 'pending')) AS s(id, state) JOIN hookd.events e ON e.id = s.id;
		INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, event_type, state, attempts, created_at, completed_at)
		SELECT nextval('hookd.delivery_ids'), e.id, e.stored_at, 'ep_1', 'a.b', s.state, 1, now(), now()
		FROM (VALUES ('e2', 'dead'), ('e3', 'dead'), ('e4', 'succeeded')) AS s(id, state) JOIN hookd.events e ON e.id = s.id`); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.WatchDatabase(pool, nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`hookd_deliveries{state="pending"} 2`,
		`hookd_deliveries{state="dead"} 2`,
		`hookd_deliveries{state="held"} 1`,
		`hookd_deliveries{state="in_flight"} 0`,
		`hookd_database_up 1`,
		`hookd_delivery_attempts_total`,
		`hookd_endpoints_breaker_open 0`,
		`hookd_history_partitions{table="events"}`,
		`hookd_history_bytes{table="attempts"}`,
		`hookd_retention_last_run_timestamp_seconds 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if strings.Contains(text, `state="succeeded"`) {
		t.Error("succeeded deliveries are counted on every scrape; they must not be")
	}
	age := -1.0
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, "hookd_oldest_due_delivery_age_seconds "); ok {
			age, _ = strconv.ParseFloat(v, 64)
		}
	}
	if age < 89 || age > 600 {
		t.Errorf("oldest due delivery age = %v, want about 90 s", age)
	}
}
