package dispatch

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// The shared test server's wait goroutine outlives the tests of the
// process that happened to start it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(dbtest.Wrap(m),
		goleak.IgnoreAnyFunction(dbtest.SharedServerGoroutine))
}

// received is one request as the receiver saw it.
type received struct {
	Header http.Header
	Body   []byte
}

// receiver is a real HTTP server on 127.0.0.1 whose behaviour a test sets.
type receiver struct {
	srv      *httptest.Server
	URL      string
	behave   atomic.Pointer[func(w http.ResponseWriter, r *http.Request, n int64)]
	hits     atomic.Int64
	inflight atomic.Int64
	maxIn    atomic.Int64
	stop     chan struct{} // closed at cleanup to end hanging handlers

	mu   sync.Mutex
	reqs []received
}

func newReceiver(t testing.TB, behave func(w http.ResponseWriter, r *http.Request, n int64)) *receiver {
	t.Helper()
	rc := &receiver{stop: make(chan struct{})}
	rc.set(behave)
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rc.hits.Add(1)
		in := rc.inflight.Add(1)
		defer rc.inflight.Add(-1)
		for {
			m := rc.maxIn.Load()
			if in <= m || rc.maxIn.CompareAndSwap(m, in) {
				break
			}
		}
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{Header: r.Header.Clone(), Body: body})
		rc.mu.Unlock()
		(*rc.behave.Load())(w, r, n)
	}))
	rc.URL = rc.srv.URL
	t.Cleanup(rc.srv.Close)
	t.Cleanup(func() { close(rc.stop) }) // runs first: unblocks hanging handlers
	return rc
}

func (rc *receiver) set(f func(w http.ResponseWriter, r *http.Request, n int64)) { rc.behave.Store(&f) }

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// hang blocks until the client gives up or the test ends.
func (rc *receiver) hang(w http.ResponseWriter, r *http.Request, _ int64) {
	select {
	case <-r.Context().Done():
	case <-rc.stop:
	}
}

func status(code int) func(w http.ResponseWriter, r *http.Request, n int64) {
	return func(w http.ResponseWriter, _ *http.Request, _ int64) { w.WriteHeader(code) }
}

// bundle is what a dispatcher test works with.
type bundle struct {
	pool    *pgxpool.Pool
	pub     *outbox.Publisher
	metrics *metrics.Metrics
}

func setup(t testing.TB) *bundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	return &bundle{pool: pool, pub: outbox.NewPublisher(pool, outbox.Options{}), metrics: metrics.New()}
}

// testOptions are quick: millisecond retries, loopback allowed, no jitter.
func (b *bundle) testOptions(t testing.TB) Options {
	return Options{
		Delivery: config.Delivery{
			RetrySchedule:          []time.Duration{0, 5 * time.Millisecond, 5 * time.Millisecond},
			Timeout:                5 * time.Second,
			AllowedNetworks:        []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Workers:                16,
			MaxInFlightPerEndpoint: 8,
			ClaimBatch:             50,
			Lease:                  15 * time.Second,
			PollInterval:           100 * time.Millisecond,
			MaxResponseBodyBytes:   1024,
			ShutdownTimeout:        2 * time.Second,
		},
		Logger:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Metrics: b.metrics,
		Version: "test",
	}
}

// start runs a dispatcher with testOptions changed by mod, stopped at cleanup.
func (b *bundle) start(t testing.TB, mod func(*Options)) *Dispatcher {
	t.Helper()
	opts := b.testOptions(t)
	if mod != nil {
		mod(&opts)
	}
	d := New(b.pool, opts)
	if err := d.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return d
}

func (b *bundle) endpoint(t testing.TB, url string, mod func(*endpoint.CreateParams)) *endpoint.Endpoint {
	t.Helper()
	p := endpoint.CreateParams{URL: url}
	if mod != nil {
		mod(&p)
	}
	ep, err := endpoint.Create(context.Background(), b.pool, p)
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	return ep
}

func (b *bundle) publish(t testing.TB, typ, data string) outbox.Event {
	t.Helper()
	res, err := b.pub.Publish(context.Background(), outbox.Event{Type: typ, Data: []byte(data)})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return res.Event
}

// only returns the single delivery of an event.
func (b *bundle) only(t testing.TB, eventID string) delivery.Delivery {
	t.Helper()
	ds, err := delivery.ForEvent(context.Background(), b.pool, eventID)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries of %s: %v, %v", eventID, ds, err)
	}
	return ds[0]
}

// waitState waits until the event's single delivery is in state.
func (b *bundle) waitState(t testing.TB, eventID string, state delivery.State) delivery.Delivery {
	t.Helper()
	var d delivery.Delivery
	testkit.Eventually(t, "delivery of "+eventID+" to be "+string(state), func() bool {
		d = b.only(t, eventID)
		return d.State == state
	})
	return d
}

func (b *bundle) attempts(t testing.TB, deliveryID int64) []delivery.Attempt {
	t.Helper()
	as, err := delivery.Attempts(context.Background(), b.pool, deliveryID)
	if err != nil {
		t.Fatalf("attempts: %v", err)
	}
	return as
}

// count runs a count query.
func (b *bundle) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := b.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
