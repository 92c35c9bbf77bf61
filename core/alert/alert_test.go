package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type bundle struct {
	pool    *pgxpool.Pool
	pub     *outbox.Publisher
	metrics *metrics.Metrics
	alerter *Alerter
	target  *endpoint.Endpoint // an ordinary webhook endpoint alerts are about
}

func setup(t *testing.T, c config.Alerts) *bundle {
	t.Helper()
	ctx := context.Background()
	b := &bundle{pool: dbtest.NewPool(t), metrics: metrics.New()}
	b.pub = outbox.NewPublisher(b.pool, outbox.Options{})
	var err error
	b.alerter, err = New(b.pool, b.pub, Options{Config: c, Metrics: b.metrics, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.alerter.syncEndpoint(ctx); err != nil {
		t.Fatal(err)
	}
	b.target, err = endpoint.Create(ctx, b.pool, endpoint.CreateParams{URL: "https://receiver.example/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alertEvents returns the alert events published to the alert endpoint.
func alertEvents(t *testing.T, pool *pgxpool.Pool) []outbox.Event {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT id, type, data::text FROM hookd.events WHERE endpoint_id = $1 ORDER BY seq`, EndpointID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outbox.Event
	for rows.Next() {
		var ev outbox.Event
		var data string
		if err := rows.Scan(&ev.ID, &ev.Type, &data); err != nil {
			t.Fatal(err)
		}
		ev.Data = json.RawMessage(data)
		out = append(out, ev)
	}
	return out
}

func decode(t *testing.T, raw []byte) Alert {
	t.Helper()
	var al Alert
	if err := json.Unmarshal(raw, &al); err != nil {
		t.Fatalf("alert data %s: %v", raw, err)
	}
	return al
}

func deadBatch(endpointID string, from, n int) []Dead {
	out := make([]Dead, n)
	for i := range n {
		out[i] = Dead{EndpointID: endpointID, EventID: fmt.Sprintf("evt_%03d", from+i)}
	}
	return out
}

func TestCoalescedDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, config.Alerts{URL: "https://alerts.example/in", MinInterval: time.Hour})

	// 50 deaths arriving in two batches, plus one to the alert endpoint
	// itself, which must never be alerted about.
	if err := b.alerter.RecordDead(ctx, append(deadBatch(b.target.ID, 0, 30), Dead{EndpointID: EndpointID, EventID: "evt_x"})); err != nil {
		t.Fatal(err)
	}
	if err := b.alerter.RecordDead(ctx, deadBatch(b.target.ID, 30, 20)); err != nil {
		t.Fatal(err)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1 alert", n, err)
	}
	evs := alertEvents(t, b.pool)
	if len(evs) != 1 || evs[0].Type != TypeDead {
		t.Fatalf("alert events = %+v; want one %s", evs, TypeDead)
	}
	al := decode(t, evs[0].Data)
	if al.Count != 50 || al.FirstEventID != "evt_000" || al.LastEventID != "evt_049" || al.EndpointID != b.target.ID {
		t.Errorf("alert = %+v; want count 50, evt_000..evt_049 on %s", al, b.target.ID)
	}
	if !strings.Contains(al.Text, "50 deliveries") || !strings.Contains(al.Text, "evt_049") {
		t.Errorf("text %q does not name the count and ids", al.Text)
	}

	// More deaths within min_interval wait.
	if err := b.alerter.RecordDead(ctx, deadBatch(b.target.ID, 50, 5)); err != nil {
		t.Fatal(err)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("second Flush within min_interval = %d, %v; want 0", n, err)
	}
	// Once min_interval has passed they go out as one alert of 5.
	if _, err := b.pool.Exec(ctx, `UPDATE hookd.alert_state SET last_sent_at = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush after min_interval = %d, %v; want 1", n, err)
	}
	evs = alertEvents(t, b.pool)
	if al := decode(t, evs[len(evs)-1].Data); al.Count != 5 || al.FirstEventID != "evt_050" || al.LastEventID != "evt_054" {
		t.Errorf("second alert = %+v; want count 5, evt_050..evt_054", al)
	}
	if got := counter(t, b.metrics.AlertsSent.WithLabelValues(KindDead)); got != 2 {
		t.Errorf("hookd_alerts_total{kind=dead} = %v, want 2", got)
	}
}

func TestDisabledAndRecovered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, config.Alerts{URL: "https://alerts.example/in"})

	// A 410 seen by the dispatcher hook: the endpoint is disabled once and
	// one alert is queued however many results carried the 410.
	gone := delivery.Result{EndpointID: b.target.ID, EventID: "evt_1", ResponseStatus: 410, Next: delivery.StateHeld}
	b.alerter.OnOutcome(ctx, []delivery.Result{gone, gone})
	b.alerter.OnOutcome(ctx, []delivery.Result{gone})
	ep, err := endpoint.Get(ctx, b.pool, b.target.ID)
	if err != nil || ep.Enabled || ep.DisabledReason != GoneReason {
		t.Fatalf("endpoint after 410 = %+v, %v; want disabled with %q", ep, err, GoneReason)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want 1", n, err)
	}
	evs := alertEvents(t, b.pool)
	if len(evs) != 1 || evs[0].Type != TypeDisabled {
		t.Fatalf("events = %+v; want one %s", evs, TypeDisabled)
	}
	if al := decode(t, evs[0].Data); al.Reason != GoneReason || !strings.Contains(al.Text, "410") {
		t.Errorf("disabled alert = %+v", al)
	}
	// Nothing to recover while still disabled.
	if ids, err := b.alerter.CheckRecovered(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("CheckRecovered while disabled = %v, %v", ids, err)
	}
	if _, err := endpoint.Enable(ctx, b.pool, b.target.ID); err != nil {
		t.Fatal(err)
	}
	if ids, err := b.alerter.CheckRecovered(ctx); err != nil || len(ids) != 1 || ids[0] != b.target.ID {
		t.Fatalf("CheckRecovered after enable = %v, %v; want [%s]", ids, err, b.target.ID)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want the recovered alert", n, err)
	}
	evs = alertEvents(t, b.pool)
	if len(evs) != 2 || evs[1].Type != TypeRecovered {
		t.Fatalf("events = %+v; want %s last", evs, TypeRecovered)
	}
	// A new disable episode alerts again.
	if _, err := endpoint.Disable(ctx, b.pool, b.target.ID, "operator"); err != nil {
		t.Fatal(err)
	}
	if err := b.alerter.RecordDisabled(ctx, b.target.ID, "operator"); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.alerter.Flush(ctx); n != 1 {
		t.Errorf("second episode: %d alerts, want 1", n)
	}
}

func TestRecoveredAfterDeadLetters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, config.Alerts{URL: "https://alerts.example/in"})
	if err := b.alerter.RecordDead(ctx, deadBatch(b.target.ID, 0, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.alerter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := b.alerter.CheckRecovered(ctx); len(ids) != 0 {
		t.Fatalf("recovered without a success: %v", ids)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO hookd.endpoint_health (endpoint_id, last_success_at) VALUES ($1, now() + interval '1 second')`, b.target.ID); err != nil {
		t.Fatal(err)
	}
	if ids, err := b.alerter.CheckRecovered(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("CheckRecovered after a success = %v, %v", ids, err)
	}
}

// In slack format the alert's data is Slack's body and the alert endpoint
// sends it without hookd's envelope (the engine's side is tested in
// engine_test.go).
func TestSlackFormat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, config.Alerts{URL: "https://hooks.slack.example/services/T0/B0/x", Format: config.AlertFormatSlack})
	ep, err := endpoint.Get(ctx, b.pool, EndpointID)
	if err != nil || ep.BodyFormat != endpoint.BodyData {
		t.Fatalf("alert endpoint = %+v, %v; want body_format data", ep, err)
	}
	if err := b.alerter.RecordDead(ctx, deadBatch(b.target.ID, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	evs := alertEvents(t, b.pool)
	if len(evs) != 1 || evs[0].Type != TypeDead {
		t.Fatalf("alert events = %+v, want one %s", evs, TypeDead)
	}
	var body map[string]any
	if err := json.Unmarshal(evs[0].Data, &body); err != nil {
		t.Fatal(err)
	}
	txt, _ := body["text"].(string)
	if !strings.Contains(txt, "2 deliveries") || body["blocks"] == nil {
		t.Errorf("slack body = %v; want text naming 2 deliveries and blocks", body)
	}
}

func TestNoURLLogsAndCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, config.Alerts{})
	if err := b.alerter.RecordDead(ctx, deadBatch(b.target.ID, 0, 4)); err != nil {
		t.Fatal(err)
	}
	if n, err := b.alerter.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	if got := counter(t, b.metrics.AlertsSent.WithLabelValues(KindDead)); got != 1 {
		t.Errorf("hookd_alerts_total{kind=dead} = %v, want 1", got)
	}
	if _, err := endpoint.Get(ctx, b.pool, EndpointID); err == nil {
		t.Errorf("alert endpoint created without alerts.url")
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c   config.Alerts
		key string
	}{
		{config.Alerts{URL: "https://a.example", Secret: "not-a-secret"}, "alerts.secret"},
		{config.Alerts{URL: "ftp://a.example"}, "alerts.url"},
		{config.Alerts{Format: "teams"}, "alerts.format"},
	} {
		_, err := New(nil, nil, Options{Config: tc.c})
		verr, ok := err.(*validate.Error)
		if !ok || verr.Field != tc.key {
			t.Errorf("New(%+v) = %v; want a validate.Error on %s", tc.c, err, tc.key)
		}
	}
}

func TestEndpointSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	pub := outbox.NewPublisher(pool, outbox.Options{})
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	start := func(c config.Alerts) *endpoint.Endpoint {
		t.Helper()
		a, err := New(pool, pub, Options{Config: c})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		a.Stop(context.Background())
		a.Stop(context.Background())
		ep, err := endpoint.Get(ctx, pool, EndpointID)
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	ep := start(config.Alerts{URL: "https://a.example/one"})
	if ep.Kind != endpoint.KindAlert || ep.URL != "https://a.example/one" || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Errorf("created %+v", ep)
	}
	ep = start(config.Alerts{URL: "https://a.example/two", Secret: secret})
	if ep.URL != "https://a.example/two" || ep.Secret != secret || !ep.Enabled {
		t.Errorf("updated %+v", ep)
	}
	if ep = start(config.Alerts{}); ep.Enabled {
		t.Errorf("alert endpoint still enabled without alerts.url")
	}
	if ep = start(config.Alerts{URL: "https://a.example/two"}); !ep.Enabled {
		t.Errorf("alert endpoint not re-enabled")
	}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Dead letters are noted for alerting in the transaction that records
// them dead: rolled back with it, committed with it.
func TestOnOutcomeTxCommitsWithTheResults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, config.Alerts{URL: "https://alerts.example/in"})
	dead := []delivery.Result{{EndpointID: b.target.ID, EventID: "evt_1", Next: delivery.StateDead},
		{EndpointID: b.target.ID, EventID: "evt_2", Next: delivery.StateSucceeded}}
	pending := func() int {
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT coalesce(sum(pending_count), 0) FROM hookd.alert_state WHERE kind = 'dead'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.alerter.OnOutcomeTx(ctx, tx, dead); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 0 {
		t.Fatalf("after rollback %d dead letters are pending alert, want 0", n)
	}
	if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return b.alerter.OnOutcomeTx(ctx, tx, dead) }); err != nil {
		t.Fatal(err)
	}
	if n := pending(); n != 1 {
		t.Fatalf("after commit %d dead letters are pending alert, want 1", n)
	}
}
