// Package metrics holds hookd's Prometheus metrics.
//
// Each process (and each test) builds its own *Metrics with its own registry,
// so several engines can live in one process. Counters move where work
// happens; queue gauges are read from the database at scrape time, so they
// are right even when several hookd processes share the work.
package metrics

import (
	"context"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/partition"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors every part of hookd reports to.
type Metrics struct {
	Registry *prometheus.Registry

	// EventsPublished counts events written through the outbox API.
	EventsPublished prometheus.Counter
	// Attempts counts delivery attempts by outcome (success, failure) and
	// error class ("" for success; timeout, connect, dns, tls, blocked,
	// http_status, interrupted).
	Attempts *prometheus.CounterVec
	// AttemptDuration observes attempt latency in seconds.
	AttemptDuration prometheus.Histogram
	// DeadLetters counts deliveries that spent their retry budget.
	DeadLetters prometheus.Counter
	// HandedBack counts claimed deliveries a worker handed back unsent and
	// uncounted: too little of their lease was left to give the request
	// its time (a claim slow to commit, or a worker that woke late).
	HandedBack prometheus.Counter
	// EndpointsDisabled counts automatic disables by reason (gone, unhealthy).
	EndpointsDisabled *prometheus.CounterVec
	// IntakeRequests counts intake requests by source and outcome
	// (accepted, duplicate, rejected, error).
	IntakeRequests *prometheus.CounterVec
	// IntakeVerifyFailures counts rejected intake requests by source and reason.
	IntakeVerifyFailures *prometheus.CounterVec
	// InboxProcessed counts inbox events handed to the application by outcome
	// (processed, failed, dead).
	InboxProcessed *prometheus.CounterVec
	// AlertsSent counts operational alerts queued by kind.
	AlertsSent *prometheus.CounterVec
}

// New returns metrics registered on a fresh registry, with Go and process
// collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		EventsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_events_published_total", Help: "Events published through the outbox.",
		}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_delivery_attempts_total", Help: "Delivery attempts by outcome and error class.",
		}, []string{"outcome", "class"}),
		AttemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookd_delivery_attempt_duration_seconds",
			Help:    "Latency of delivery attempts.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_dead_letters_total", Help: "Deliveries that spent their retry budget and died.",
		}),
		HandedBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookd_deliveries_handed_back_total",
			Help: "Claimed deliveries handed back unsent and uncounted: too little of their lease was left to give the request its time.",
		}),
		EndpointsDisabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_endpoints_disabled_total", Help: "Endpoints disabled automatically, by reason.",
		}, []string{"reason"}),
		IntakeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_intake_requests_total", Help: "Intake requests by source and outcome.",
		}, []string{"source", "outcome"}),
		IntakeVerifyFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_intake_verification_failures_total", Help: "Intake requests rejected by verification, by reason.",
		}, []string{"source", "reason"}),
		InboxProcessed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_inbox_processed_total", Help: "Inbox events handed to the application, by outcome.",
		}, []string{"outcome"}),
		AlertsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookd_alerts_total", Help: "Operational alerts queued, by kind.",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.EventsPublished, m.Attempts, m.AttemptDuration, m.DeadLetters, m.HandedBack, m.EndpointsDisabled,
		m.IntakeRequests, m.IntakeVerifyFailures, m.InboxProcessed, m.AlertsSent,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// WatchDatabase adds gauges read from the database at scrape time:
// deliveries by state (all but succeeded), the oldest due delivery's age
// and the inbox backlog.
func (m *Metrics) WatchDatabase(pool *pgxpool.Pool, logger *slog.Logger) {
	m.Registry.MustRegister(&dbCollector{pool: pool, logger: logger})
}

var (
	deliveriesDesc = prometheus.NewDesc("hookd_deliveries",
		"Deliveries by state: pending, retrying, in_flight, held, dead (succeeded ones are counted by hookd_delivery_attempts_total).",
		[]string{"state"}, nil)
	oldestDueDesc = prometheus.NewDesc("hookd_oldest_due_delivery_age_seconds",
		"Age of the oldest pending delivery that is due now (0 when none).", nil, nil)
	inboxDesc   = prometheus.NewDesc("hookd_inbox_events", "Inbox events by state.", []string{"state"}, nil)
	breakerDesc = prometheus.NewDesc("hookd_endpoints_breaker_open",
		"Endpoints whose circuit breaker is open: their due deliveries wait while one probe goes out per interval.", nil, nil)
	keptBytesDesc = prometheus.NewDesc("hookd_history_bytes",
		"Bytes on disk of the partitioned history and rollup tables, per table.", []string{"table"}, nil)
	keptPartsDesc = prometheus.NewDesc("hookd_history_partitions",
		"Partitions kept of the partitioned history and rollup tables, per table.", []string{"table"}, nil)
	retentionRunDesc = prometheus.NewDesc("hookd_retention_last_run_timestamp_seconds",
		"When retention last ran (0 before the first run).", nil, nil)
	upDesc = prometheus.NewDesc("hookd_database_up", "1 when the scrape could read the database.", nil, nil)
)

type dbCollector struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveriesDesc
	ch <- oldestDueDesc
	ch <- inboxDesc
	ch <- breakerDesc
	ch <- keptBytesDesc
	ch <- keptPartsDesc
	ch <- retentionRunDesc
	ch <- upDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		if c.logger != nil {
			c.logger.Warn("metrics: database gauges unavailable", slog.String("error", err.Error()))
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
}

func (c *dbCollector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	// Succeeded deliveries are the bulk of history and only grow; counting
	// them on every scrape would read it all. They are counted as they
	// happen by hookd_delivery_attempts_total{outcome="success"}; the states
	// counted here each have a partial index.
	q, err := delivery.QueueCounts(ctx, c.pool)
	if err != nil {
		return err
	}
	counts := map[string]float64{"pending": float64(q.Pending), "retrying": float64(q.Retrying),
		"in_flight": float64(q.InFlight), "dead": float64(q.Dead), "held": float64(q.Held)}
	var oldest float64
	due, err := delivery.OldestDue(ctx, c.pool)
	if err != nil {
		return err
	}
	if !due.IsZero() {
		oldest = max(time.Since(due).Seconds(), 0)
	}
	// Processed and forwarded inbox events only grow (like succeeded
	// deliveries): hookd_inbox_processed_total counts them as they happen.
	inbox := map[string]float64{"pending": 0, "dead": 0}
	if err := c.countByState(ctx, `SELECT state, count(*) FROM hookd.inbox WHERE state IN ('pending', 'dead') GROUP BY state`, inbox); err != nil {
		return err
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.GaugeValue, n, state)
	}
	ch <- prometheus.MustNewConstMetric(oldestDueDesc, prometheus.GaugeValue, oldest)
	for state, n := range inbox {
		ch <- prometheus.MustNewConstMetric(inboxDesc, prometheus.GaugeValue, n, state)
	}
	open, err := delivery.OpenBreakers(ctx, c.pool)
	if err != nil {
		return err
	}
	ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, float64(open))
	parts, err := partition.Sizes(ctx, c.pool)
	if err != nil {
		return err
	}
	bytes, count := map[string]float64{}, map[string]float64{}
	for _, p := range parts {
		bytes[p.Parent] += float64(p.Bytes)
		count[p.Parent]++
	}
	for table := range count {
		ch <- prometheus.MustNewConstMetric(keptBytesDesc, prometheus.GaugeValue, bytes[table], table)
		ch <- prometheus.MustNewConstMetric(keptPartsDesc, prometheus.GaugeValue, count[table], table)
	}
	// (core/retention writes the state; it imports the inbox, which counts
	// into these metrics, so the one read is here.)
	var lastRun *time.Time
	if err := c.pool.QueryRow(ctx, `SELECT last_run_at FROM hookd.retention_state`).Scan(&lastRun); err != nil {
		return err
	}
	var last float64
	if lastRun != nil {
		last = float64(lastRun.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(retentionRunDesc, prometheus.GaugeValue, last)
	return nil
}

// countByState adds the (state, count) rows of query to into.
func (c *dbCollector) countByState(ctx context.Context, query string, into map[string]float64) error {
	rows, err := c.pool.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return err
		}
		into[state] = float64(n)
	}
	return rows.Err()
}
