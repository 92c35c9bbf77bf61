package inbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/goleak"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/signing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(dbtest.Wrap(m), goleak.IgnoreAnyFunction(dbtest.SharedServerGoroutine))
}

// Secrets used by the tests; whsec_ secrets work for every scheme.
const (
	secretA = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	secretB = "whsec_dGhpcyBpcyB0aGUgc2Vjb25kIHNlY3JldCBrZXkh"
)

type bundle struct {
	pool    *pgxpool.Pool
	metrics *metrics.Metrics
	handler *inbox.Handler
	srv     *httptest.Server
}

// setup gives a test its own database and the intake handler on a
// loopback server at POST /in/{source}.
// tune, when given, adjusts the options once the pool exists.
func setup(t testing.TB, opts inbox.HandlerOptions, tune ...func(*pgxpool.Pool, *inbox.HandlerOptions)) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, dbtest.NewDB(t), db.Options{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := &bundle{pool: pool, metrics: metrics.New()}
	opts.Metrics = b.metrics
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range tune {
		f(pool, &opts)
	}
	b.handler = inbox.NewHandler(pool, opts)
	mux := http.NewServeMux()
	mux.Handle("POST /in/{source}", b.handler)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bundle) source(t testing.TB, p inbox.CreateParams) *inbox.Source {
	t.Helper()
	s, err := inbox.CreateSource(context.Background(), b.pool, p)
	if err != nil {
		t.Fatalf("create source %s: %v", p.Name, err)
	}
	return s
}

// request is a signed (or deliberately unsigned) inbound webhook.
type request struct {
	header http.Header
	body   []byte
}

type answer struct {
	status int
	body   map[string]any
}

func (a answer) errMessage() string {
	e, _ := a.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func (b *bundle) post(t *testing.T, source string, r request) answer {
	t.Helper()
	req, err := http.NewRequest("POST", b.srv.URL+"/in/"+source, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return a
}

func (b *bundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (b *bundle) inboxRows(t *testing.T) int {
	return b.count(t, `SELECT count(*) FROM hookd.inbox`)
}

func hookdSigned(t *testing.T, id string, ts time.Time, body string, secret string) request {
	t.Helper()
	h := http.Header{}
	if err := signing.Sign(h, id, ts, []byte(body), []string{secret}); err != nil {
		t.Fatal(err)
	}
	// Keep only hookd's own family, so the test shows that scheme alone.
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		h.Del(k)
	}
	return request{h, []byte(body)}
}

// standardSigned signs with the Standard Webhooks library.
func standardSigned(t *testing.T, id string, ts time.Time, body, secret string) request {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(id, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	h.Set("Content-Type", "application/json")
	return request{h, []byte(body)}
}

// stripeSigned follows Stripe's documented scheme: Stripe-Signature
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>"; the id is in the body.
func stripeSigned(ts time.Time, body, secret string) request {
	t := strconv.FormatInt(ts.Unix(), 10)
	h := http.Header{}
	h.Set("Stripe-Signature", "t="+t+",v1="+hmacHex(secret, t+"."+body))
	return request{h, []byte(body)}
}

// githubSigned follows GitHub's scheme: X-Hub-Signature-256 "sha256=<hex
// HMAC-SHA256(secret, body)>", X-GitHub-Delivery, X-GitHub-Event.
func githubSigned(delivery, event, body, secret string) request {
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, body))
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-GitHub-Event", event)
	return request{h, []byte(body)}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
