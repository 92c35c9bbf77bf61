package maintenance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hookd/hookd/core/alert"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/core/testkit"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func newEndpoint(t *testing.T, pool *pgxpool.Pool) *endpoint.Endpoint {
	t.Helper()
	ep, err := endpoint.Create(context.Background(), pool, endpoint.CreateParams{URL: "https://receiver.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	if s.opts.Interval != DefaultInterval || s.opts.Logger == nil {
		t.Errorf("defaults not applied: %+v", s.opts)
	}
	if got := UnhealthyReason(config.DefaultDisableAfter); got != "failing with no successful delivery for 5 days (delivery.disable_after)" {
		t.Errorf("reason = %q", got)
	}
	if err := New(nil, Options{DisableAfter: -time.Second}).Start(context.Background()); err == nil || !strings.Contains(err.Error(), "delivery.disable_after") {
		t.Errorf("negative DisableAfter: err = %v", err)
	}
}

func TestAutoDisableAlertsAndRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	m := metrics.New()
	alerter, err := alert.New(pool, outbox.NewPublisher(pool, outbox.Options{}), alert.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	sick, healthy, recent := newEndpoint(t, pool), newEndpoint(t, pool), newEndpoint(t, pool)
	// sick: failing for 2h, never succeeded. healthy: failed 2h ago but
	// succeeded since. recent: failing for 10 minutes only.
	if _, err := pool.Exec(ctx, `INSERT INTO hookd.endpoint_health (endpoint_id, consecutive_failures, failing_since, last_success_at, last_failure_at) VALUES
		($1, 40, now() - interval '2 hours', NULL, now()),
		($2, 0, NULL, now() - interval '1 minute', now() - interval '2 hours'),
		($3, 3, now() - interval '10 minutes', now() - interval '3 hours', now())`, sick.ID, healthy.ID, recent.ID); err != nil {
		t.Fatal(err)
	}
	s := New(pool, Options{DisableAfter: time.Hour, Alerter: alerter, Metrics: m})
	if err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ep      *endpoint.Endpoint
		enabled bool
	}{{sick, false}, {healthy, true}, {recent, true}} {
		got, err := endpoint.Get(ctx, pool, tc.ep.ID)
		if err != nil || got.Enabled != tc.enabled {
			t.Errorf("endpoint %s enabled = %v, %v; want %v", tc.ep.ID, got.Enabled, err, tc.enabled)
		}
		if !tc.enabled && got.DisabledReason != UnhealthyReason(time.Hour) {
			t.Errorf("reason = %q", got.DisabledReason)
		}
	}
	if got := counter(t, m.EndpointsDisabled.WithLabelValues("unhealthy")); got != 1 {
		t.Errorf("hookd_endpoints_disabled_total{reason=unhealthy} = %v, want 1", got)
	}
	// Running again changes nothing and counts nothing.
	if err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, m.EndpointsDisabled.WithLabelValues("unhealthy")); got != 1 {
		t.Errorf("counted again: %v", got)
	}
	if n, err := alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("disabled alerts = %d, %v; want 1", n, err)
	}
	// Re-enabled: the next run sees the recovery.
	if _, err := endpoint.Enable(ctx, pool, sick.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("recovered alerts = %d, %v; want 1", n, err)
	}
	if got := counter(t, m.AlertsSent.WithLabelValues(alert.KindRecovered)); got != 1 {
		t.Errorf("recovered alerts counted %v", got)
	}
}

// The leader keeps history partitions ahead of now (retention is tested in
// leaderPID selects the backend holding the leader's lock in this test's
// database: pg_locks is the whole server's, where other tests (and this
// package's, making partitions) hold advisory locks of their own.
const leaderPID = `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1`

// core/retention) and gives lanes to endpoints with due work but none.
func TestRunOnceKeepsPartitionsAheadAndLanes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	ep := newEndpoint(t, pool)
	if _, err := outbox.NewPublisher(pool, outbox.Options{}).Publish(ctx, outbox.Event{Type: "a.b"}); err != nil {
		t.Fatal(err)
	}
	// A lane lost (the protocol's safety net is what is tested here).
	if _, err := pool.Exec(ctx, `DELETE FROM hookd.lanes`); err != nil {
		t.Fatal(err)
	}
	period := 2 * time.Hour // spans of 15 minutes
	if err := New(pool, Options{Retention: retention.Options{Period: period}}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	parts, err := partition.List(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	var latest time.Time
	for _, p := range parts {
		if p.Parent == "events" && p.Upper.After(latest) {
			latest = p.Upper
		}
	}
	if ahead := partition.Ahead(partition.SpanFor(period)); latest.Before(time.Now().Add(ahead - time.Minute)) {
		t.Errorf("events partitioned until %s, want at least %s ahead", latest, ahead)
	}
	var lanes int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM hookd.lanes WHERE endpoint_id = $1`, ep.ID).Scan(&lanes); err != nil || lanes != 1 {
		t.Errorf("lanes of the endpoint with due work = %d, %v; want 1", lanes, err)
	}
}

func TestOneLeaderAndReelection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	a := New(pool, Options{Interval: 10 * time.Millisecond})
	b := New(pool, Options{Interval: 10 * time.Millisecond})
	for _, s := range []*Service{a, b} {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
	}
	testkit.Eventually(t, "a leader", func() bool { return a.IsLeader() || b.IsLeader() })
	for range 20 {
		if a.IsLeader() && b.IsLeader() {
			t.Fatal("two leaders at once")
		}
	}

	// The leader's connection is killed: the lock goes with it and a
	// leader is elected again.
	var pid int
	if err := pool.QueryRow(ctx, leaderPID, LockKey).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "a new leader session", func() bool {
		var newPID int
		err := pool.QueryRow(ctx, leaderPID, LockKey).Scan(&newPID)
		return err == nil && newPID != pid
	})
	testkit.Eventually(t, "a leader after re-election", func() bool { return a.IsLeader() != b.IsLeader() })

	// Stopping the leader hands over to the other.
	leader, other := a, b
	if b.IsLeader() {
		leader, other = b, a
	}
	leader.Stop(context.Background())
	leader.Stop(context.Background())
	testkit.Eventually(t, "the other process to lead", other.IsLeader)
}
