package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

// envelope is what hookd's engine sends.
type envelope struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data Alert  `json:"data"`
}

// alertInbox is the operator's alert URL: it verifies the signature with
// alerts.secret and keeps every alert.
type alertInbox struct {
	srv    *httptest.Server
	mu     sync.Mutex
	alerts []envelope
}

func newAlertInbox(t *testing.T, secret string) *alertInbox {
	in := &alertInbox{}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := signing.Verify(signing.SchemeStandard, r.Header, body, []string{secret}, time.Minute, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		in.mu.Lock()
		in.alerts = append(in.alerts, env)
		in.mu.Unlock()
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *alertInbox) ofType(typ string) []envelope {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []envelope
	for _, a := range in.alerts {
		if a.Type == typ {
			out = append(out, a)
		}
	}
	return out
}

// Through the real dispatcher: 50 deliveries dying at once give one alert
// naming the count, and a 410 gives a disabled alert, both delivered
// signed to alerts.url by hookd's own engine.
func TestAlertsThroughEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	m := metrics.New()
	pub := outbox.NewPublisher(pool, outbox.Options{})
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	inbox := newAlertInbox(t, secret)

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusGone)
	}))
	t.Cleanup(gone.Close)
	broken, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: failing.URL, EventTypes: []string{"invoice.*"}})
	if err != nil {
		t.Fatal(err)
	}
	goneEP, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: gone.URL, EventTypes: []string{"order.*"}})
	if err != nil {
		t.Fatal(err)
	}

	alerter, err := New(pool, pub, Options{Config: config.Alerts{URL: inbox.srv.URL, Secret: secret, MinInterval: time.Hour},
		Metrics: m, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := dispatch.New(pool, dispatch.Options{
		Delivery: config.Delivery{
			RetrySchedule:   []time.Duration{0, time.Millisecond},
			Timeout:         5 * time.Second,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Workers:         16, MaxInFlightPerEndpoint: 16,
			PollInterval: 20 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
		},
		Metrics:            m,
		OnOutcome:          alerter.OnOutcome,
		OnOutcomeTx:        alerter.OnOutcomeTx,
		OnEndpointDisabled: alerter.OnEndpointDisabled,
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })

	var published []string
	for i := range 50 {
		res, err := pub.Publish(ctx, outbox.Event{Type: "invoice.paid", Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		published = append(published, res.Event.ID)
	}
	// The 50 die in however many batches; the flusher starts once all are
	// recorded, so the one alert must carry all 50.
	testkit.Eventually(t, "50 dead letters recorded for alerting", func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT coalesce(sum(pending_count), 0) FROM hookd.alert_state WHERE endpoint_id = $1 AND kind = 'dead'`, broken.ID).Scan(&n)
		return n == 50
	})
	if err := alerter.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alerter.Stop(context.Background()) })
	testkit.Eventually(t, "the dead-letter alert at alerts.url", func() bool { return len(inbox.ofType(TypeDead)) > 0 })
	al := inbox.ofType(TypeDead)[0].Data
	if al.Count != 50 || al.EndpointID != broken.ID || !slices.Contains(published, al.FirstEventID) ||
		!slices.Contains(published, al.LastEventID) || al.FirstEventID == al.LastEventID {
		t.Errorf("dead alert = %+v; want count 50 on %s with first and last of the published ids", al, broken.ID)
	}

	if _, err := pub.Publish(ctx, outbox.Event{Type: "order.created"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the disabled alert at alerts.url", func() bool { return len(inbox.ofType(TypeDisabled)) > 0 })
	if al := inbox.ofType(TypeDisabled)[0].Data; al.EndpointID != goneEP.ID || al.Reason == "" {
		t.Errorf("disabled alert = %+v; want %s with a reason", al, goneEP.ID)
	}
	if n := len(inbox.ofType(TypeDead)); n != 1 {
		t.Errorf("%d dead-letter alerts; want exactly 1", n)
	}
	if len(inbox.ofType(TypeDisabled)) != 1 {
		t.Errorf("disabled alerts: %+v; want exactly 1", inbox.ofType(TypeDisabled))
	}
}

// In slack format the engine sends Slack's body alone, signed, to
// alerts.url: what Slack-compatible incoming webhooks accept.
func TestSlackAlertsThroughEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	pub := outbox.NewPublisher(pool, outbox.Options{})
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	bodies := make(chan map[string]any, 4)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if _, err := signing.Verify(signing.SchemeStandard, r.Header, raw, []string{secret}, time.Minute, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil || body["text"] == nil || body["id"] != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		bodies <- body
	}))
	t.Cleanup(slack.Close)
	target, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://receiver.example/"})
	if err != nil {
		t.Fatal(err)
	}
	alerter, err := New(pool, pub, Options{Config: config.Alerts{URL: slack.URL, Secret: secret, Format: config.AlertFormatSlack},
		FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := alerter.RecordDead(ctx, deadBatch(target.ID, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if err := alerter.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alerter.Stop(context.Background()) })
	d := dispatch.New(pool, dispatch.Options{Delivery: config.Delivery{
		RetrySchedule: []time.Duration{0, time.Millisecond}, Timeout: 5 * time.Second,
		Workers: 4, MaxInFlightPerEndpoint: 4, PollInterval: 20 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
	}})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	select {
	case body := <-bodies:
		if txt, _ := body["text"].(string); !strings.Contains(txt, target.ID) || body["blocks"] == nil {
			t.Errorf("slack body = %v; want text naming %s and blocks", body, target.ID)
		}
	case <-time.After(testkit.Timeout):
		t.Fatal("no slack alert arrived")
	}
}
