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
		INSERT INTO hookd.deliveries (event_id, endpoint_id, event_type, state, next_attempt_at)
		SELECT 'e' || i, 'ep_1', 'a.b', (ARRAY['pending', 'dead', 'dead', 'succeeded', 'held', 'pending'])[i],
			now() - interval '90 seconds'
		FROM generate_series(1, 6) i`); err != nil {
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
