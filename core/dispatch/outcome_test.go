package dispatch

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// verifyStripeScheme checks X-Webhook-Signature the Stripe way, written
// here from the scheme: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">,
// keyed by the secret string; any v1 may match.
func verifyStripeScheme(h http.Header, body []byte, secret string) bool {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(h.Get("X-Webhook-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return ts != ""
		}
	}
	return false
}

func TestRequestSignedDuringRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusNoContent))
	ep := b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) {
		p.Headers = map[string]string{"Authorization": "Bearer abc"}
	})
	oldSecret := ep.Secret
	ep, err := endpoint.RotateSecret(context.Background(), b.pool, ep.ID, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b.start(t, nil)
	data := `{"b": 1, "a": "<x> & y"}`
	ev := b.publish(t, "invoice.paid", data)
	b.waitState(t, ev.ID, delivery.StateSucceeded)

	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for _, secret := range []string{oldSecret, ep.Secret} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("Standard Webhooks library rejects webhook-signature: %v", err)
		}
		if !verifyStripeScheme(r.Header, r.Body, secret) {
			t.Errorf("X-Webhook-Signature does not verify with the Stripe scheme: %q", r.Header.Get("X-Webhook-Signature"))
		}
	}
	if n := len(strings.Fields(r.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature has %d signatures during rotation, want 2", n)
	}
	want := map[string]string{
		"Content-Type": "application/json", "User-Agent": "hookd/test", "Authorization": "Bearer abc",
		"X-Webhook-ID": ev.ID, "webhook-id": ev.ID,
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	wantBody := `{"id":"` + ev.ID + `","type":"invoice.paid","created":"` +
		ev.Created.UTC().Format(time.RFC3339Nano) + `","data":` + data + `}`
	if string(r.Body) != wantBody {
		t.Errorf("body\n got %s\nwant %s", r.Body, wantBody)
	}
	// The attempt log keeps the request headers, signatures included.
	as := b.attempts(t, b.only(t, ev.ID).ID)
	if len(as) != 1 || as[0].RequestHeaders.Get("X-Webhook-Signature") != r.Header.Get("X-Webhook-Signature") {
		t.Errorf("recorded attempt %+v lacks the signature sent", as)
	}
}

func TestFailTwiceThenSucceed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int64) {
		if n <= 2 {
			w.Header().Set("X-Trace", strconv.FormatInt(n, 10))
			http.Error(w, strings.Repeat("x", 3000), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	b.endpoint(t, rc.URL, nil)
	b.start(t, nil)
	ev := b.publish(t, "order.created", `{}`)
	d := b.waitState(t, ev.ID, delivery.StateSucceeded)

	as := b.attempts(t, d.ID)
	if len(as) != 3 {
		t.Fatalf("%d attempts recorded, want 3", len(as))
	}
	for i, a := range as[:2] {
		if a.Attempt != i+1 || a.ErrorClass != delivery.ClassHTTPStatus || a.ResponseStatus == nil || *a.ResponseStatus != 500 {
			t.Errorf("attempt %d = #%d class %q status %v, want http_status 500", i, a.Attempt, a.ErrorClass, a.ResponseStatus)
		}
		if !strings.Contains(a.ResponseBody, "truncated at 1024 bytes") || a.ResponseHeaders.Get("X-Trace") == "" {
			t.Errorf("attempt %d: body not truncated with a note or headers missing: %q %v", i, a.ResponseBody[:40], a.ResponseHeaders)
		}
	}
	if !as[2].Succeeded() || as[2].Attempt != 3 {
		t.Errorf("third attempt = %+v, want a success", as[2])
	}
	for _, r := range rc.requests() {
		var body struct{ ID string }
		_ = json.Unmarshal(r.Body, &body)
		if r.Header.Get("X-Webhook-ID") != ev.ID || r.Header.Get("webhook-id") != ev.ID || body.ID != ev.ID {
			t.Errorf("an attempt carried another event id: %s / %s / %s", r.Header.Get("X-Webhook-ID"), r.Header.Get("webhook-id"), body.ID)
		}
	}

	m := b.metrics
	if got := value(m.Attempts.WithLabelValues("failure", delivery.ClassHTTPStatus)); got != 2 {
		t.Errorf("failure attempts counted %v, want 2", got)
	}
	if got := value(m.Attempts.WithLabelValues("success", "")); got != 1 {
		t.Errorf("success attempts counted %v, want 1", got)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `hookd_delivery_attempts_total{class="http_status",outcome="failure"} 2`) ||
		!strings.Contains(rec.Body.String(), "hookd_delivery_attempt_duration_seconds_count 3") {
		t.Errorf("/metrics does not show the attempts:\n%s", rec.Body)
	}
}

func TestAlwaysFailingDies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, status(http.StatusInternalServerError))
	b.endpoint(t, rc.URL, nil)
	var mu sync.Mutex
	var dead []delivery.Result
	b.start(t, func(o *Options) {
		o.OnOutcome = func(_ context.Context, applied []delivery.Result) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range applied {
				if r.Next == delivery.StateDead {
					dead = append(dead, r)
				}
			}
		}
	})
	ev := b.publish(t, "order.created", `{}`)
	d := b.waitState(t, ev.ID, delivery.StateDead)
	if d.Attempts != 3 || len(b.attempts(t, d.ID)) != 3 || rc.hits.Load() != 3 {
		t.Errorf("dead after %d attempts (%d hits), want 3", d.Attempts, rc.hits.Load())
	}
	testkit.Eventually(t, "the dead letter to be counted and reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return value(b.metrics.DeadLetters) == 1 && len(dead) == 1
	})
	if dead[0].EventID != ev.ID || dead[0].ResponseStatus != 500 {
		t.Errorf("OnOutcome dead letter = %+v", dead[0])
	}
}

func TestGoneDisablesAndHolds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var gone atomic.Bool
	gone.Store(true)
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if gone.Load() {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.MaxInFlight = 1 })
	var disabled atomic.Int64
	b.start(t, func(o *Options) {
		o.OnEndpointDisabled = func(_ context.Context, id, reason string) {
			if id == ep.ID && strings.Contains(reason, "410 Gone from "+rc.URL) {
				disabled.Add(1)
			}
		}
	})
	ev1 := b.publish(t, "a.b", `{}`)
	ev2 := b.publish(t, "a.b", `{}`)
	b.waitState(t, ev1.ID, delivery.StateHeld)
	b.waitState(t, ev2.ID, delivery.StateHeld)

	got, err := endpoint.Get(context.Background(), b.pool, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || !strings.HasPrefix(got.DisabledReason, "410 Gone from "+rc.URL+" at ") {
		t.Errorf("endpoint enabled=%v reason %q, want disabled for 410", got.Enabled, got.DisabledReason)
	}
	if rc.hits.Load() != 1 || b.count(t, `SELECT count(*) FROM hookd.attempts`) != 1 {
		t.Errorf("%d requests, want only the one that got 410", rc.hits.Load())
	}
	if value(b.metrics.EndpointsDisabled.WithLabelValues("gone")) != 1 || disabled.Load() != 1 {
		t.Errorf("disable not counted or reported once")
	}

	gone.Store(false)
	if _, err := endpoint.Enable(context.Background(), b.pool, ep.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, ev1.ID, delivery.StateSucceeded)
	b.waitState(t, ev2.ID, delivery.StateSucceeded)
	if n := b.count(t, `SELECT count(*) FROM hookd.attempts`); n != 3 {
		t.Errorf("%d attempts after resuming, want 3 (410, then one success each)", n)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	withRetryAfter := func(code int, value func() string) *receiver {
		return newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
			w.Header().Set("Retry-After", value())
			w.WriteHeader(code)
		})
	}
	date := func() string { return time.Now().Add(5 * time.Minute).UTC().Format(http.TimeFormat) }
	cases := []struct {
		name     string
		rc       *receiver
		min, max time.Duration
	}{
		{"429 seconds", withRetryAfter(429, func() string { return "120" }), 120 * time.Second, 125 * time.Second},
		{"503 date", withRetryAfter(503, date), 298 * time.Second, 305 * time.Second},
		{"capped", withRetryAfter(429, func() string { return "86400" }), 10 * time.Minute, 10*time.Minute + 5*time.Second},
		{"ignored on 500", withRetryAfter(500, func() string { return "120" }), 0, 5 * time.Second},
	}
	events := make([]string, len(cases))
	for i, c := range cases {
		b.endpoint(t, c.rc.URL, func(p *endpoint.CreateParams) { p.EventTypes = []string{"t" + strconv.Itoa(i)} })
	}
	b.start(t, func(o *Options) {
		o.Delivery.RetrySchedule = []time.Duration{0, 5 * time.Millisecond, 10 * time.Minute}
		o.Delivery.Timeout = 5 * time.Second
	})
	for i := range cases {
		events[i] = b.publish(t, "t"+strconv.Itoa(i), `{}`).ID
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d delivery.Delivery
			testkit.Eventually(t, "a failed first attempt", func() bool {
				d = b.only(t, events[i])
				return d.State == delivery.StateRetrying && d.Attempts >= 1
			})
			if c.name == "ignored on 500" {
				return // retried on the 5ms schedule step; already due
			}
			as := b.attempts(t, d.ID)
			wait := d.NextAttemptAt.Sub(as[0].StartedAt)
			if wait < c.min || wait > c.max {
				t.Errorf("next attempt %s after the first, want within [%s, %s]", wait, c.min, c.max)
			}
		})
	}
}

func TestRedirectIsAFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var targetHits atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/target", func(w http.ResponseWriter, _ *http.Request) { targetHits.Add(1) })
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.endpoint(t, srv.URL+"/hook", nil)
	b.start(t, func(o *Options) { o.Delivery.RetrySchedule = []time.Duration{0} })
	ev := b.publish(t, "a.b", `{}`)
	d := b.waitState(t, ev.ID, delivery.StateDead)
	a := b.attempts(t, d.ID)[0]
	if a.ErrorClass != delivery.ClassHTTPStatus || *a.ResponseStatus != 302 || !strings.Contains(a.Error, "redirects are not followed") {
		t.Errorf("attempt = %q %v %q, want http_status 302 naming redirects", a.ErrorClass, *a.ResponseStatus, a.Error)
	}
	if targetHits.Load() != 0 {
		t.Errorf("the redirect target was requested %d times", targetHits.Load())
	}
}

func TestHangIsTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := newReceiver(t, nil)
	rc.set(rc.hang)
	b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.Timeout = endpoint.Duration(50 * time.Millisecond) })
	b.start(t, func(o *Options) { o.Delivery.RetrySchedule = []time.Duration{0} })
	ev := b.publish(t, "a.b", `{}`)
	d := b.waitState(t, ev.ID, delivery.StateDead)
	a := b.attempts(t, d.ID)[0]
	if a.ErrorClass != delivery.ClassTimeout || a.ResponseStatus != nil || a.Error != "no response within 50ms" {
		t.Errorf("attempt = %q %q, want a timeout", a.ErrorClass, a.Error)
	}
	if value(b.metrics.Attempts.WithLabelValues("failure", delivery.ClassTimeout)) != 1 {
		t.Error("timeout not counted")
	}
}

func TestAddressGuard(t *testing.T) {
	t.Parallel()
	t.Run("refused without an allowance", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		b.endpoint(t, rc.URL, nil)
		b.start(t, func(o *Options) {
			o.Delivery.AllowedNetworks = nil
			o.Delivery.RetrySchedule = []time.Duration{0}
		})
		ev := b.publish(t, "a.b", `{}`)
		d := b.waitState(t, ev.ID, delivery.StateDead)
		a := b.attempts(t, d.ID)[0]
		if a.ErrorClass != delivery.ClassBlocked || !strings.Contains(a.Error, "delivery.allowed_networks") {
			t.Errorf("attempt = %q %q, want blocked naming delivery.allowed_networks", a.ErrorClass, a.Error)
		}
		if rc.hits.Load() != 0 {
			t.Errorf("the receiver was reached %d times", rc.hits.Load())
		}
	})
	t.Run("reached with an allowance", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		b.endpoint(t, rc.URL, nil)
		b.start(t, nil)
		b.waitState(t, b.publish(t, "a.b", `{}`).ID, delivery.StateSucceeded)
	})
	t.Run("forward targets of configured sources are exempt, others are not", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rc := newReceiver(t, status(http.StatusOK))
		if _, err := b.pool.Exec(t.Context(), `INSERT INTO hookd.sources (name, scheme, secrets, from_config)
			VALUES ('configured', 'hookd', '{x}', true), ('via_api', 'hookd', '{x}', false)`); err != nil {
			t.Fatal(err)
		}
		fromConfig := b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) {
			p.Kind, p.ID, p.Trusted = endpoint.KindForward, "ep_fwd_configured", true
		})
		fromAPI := b.endpoint(t, rc.URL, func(p *endpoint.CreateParams) { p.Kind, p.ID = endpoint.KindForward, "ep_fwd_via_api" })
		b.start(t, func(o *Options) {
			o.Delivery.AllowedNetworks = nil
			o.Delivery.RetrySchedule = []time.Duration{0}
		})
		pub := outbox.NewPublisher(b.pool, outbox.Options{})
		ok, err := pub.Publish(t.Context(), outbox.Event{Type: "a.b", EndpointID: fromConfig.ID})
		if err != nil {
			t.Fatal(err)
		}
		blocked, err := pub.Publish(t.Context(), outbox.Event{Type: "a.b", EndpointID: fromAPI.ID})
		if err != nil {
			t.Fatal(err)
		}
		b.waitState(t, ok.Event.ID, delivery.StateSucceeded)
		d := b.waitState(t, blocked.Event.ID, delivery.StateDead)
		if a := b.attempts(t, d.ID)[0]; a.ErrorClass != delivery.ClassBlocked {
			t.Errorf("forward of a source made through the API: %q %q, want blocked", a.ErrorClass, a.Error)
		}
	})
}

func TestReplayDeadLetter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int64) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	b.endpoint(t, rc.URL, nil)
	b.start(t, func(o *Options) { o.Delivery.RetrySchedule = []time.Duration{0, time.Millisecond} })
	ev := b.publish(t, "a.b", `{}`)
	d := b.waitState(t, ev.ID, delivery.StateDead)

	healthy.Store(true)
	if _, err := delivery.Replay(context.Background(), b.pool, d.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, ev.ID, delivery.StateSucceeded)
	as := b.attempts(t, d.ID)
	if len(as) != 3 || *as[0].ResponseStatus != 502 || *as[1].ResponseStatus != 502 || !as[2].Succeeded() {
		t.Errorf("attempts after replay: %d, want the two failures and the success", len(as))
	}
	for _, r := range rc.requests() {
		if r.Header.Get("webhook-id") != ev.ID {
			t.Errorf("replay sent another event id %q", r.Header.Get("webhook-id"))
		}
	}
	if ts := rc.requests(); len(ts) != 3 {
		t.Errorf("receiver saw %d requests, want 3", len(ts))
	}
}
