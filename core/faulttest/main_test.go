package faulttest

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/app"
	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/secrets/secretstest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// dbURL is a fresh database on the tests' shared server.
func dbURL(t *testing.T) string { return dbtest.NewDB(t) }

// faultConfig is `hookd serve`'s configuration on dbURL with loopback
// allowed, short timeouts, a short lease and millisecond retries, so that
// faults resolve within a test.
func faultConfig(dbURL string) *config.Config {
	cfg := config.Default()
	cfg.Database.URL = dbURL
	cfg.Database.MaxConns = 10
	cfg.Secrets.Key = secretstest.Key
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Delivery.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.Delivery.RetrySchedule = []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond,
		200 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second}
	cfg.Delivery.Timeout = 500 * time.Millisecond
	cfg.Delivery.Lease = 2 * time.Second
	cfg.Delivery.PollInterval = 50 * time.Millisecond
	cfg.Delivery.MaxInFlightPerEndpoint = 32
	cfg.Delivery.BreakerFailures = 0 // faults here are the receiver's by design
	cfg.Delivery.ShutdownTimeout = 5 * time.Second
	return cfg
}

// serve runs hookd's server on cfg until the test ends.
func serve(t *testing.T, cfg *config.Config) (*app.Server, *app.Database) {
	t.Helper()
	ctx := context.Background()
	d, err := app.OpenDatabase(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	srv, err := app.NewServer(cfg, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, d
}

// receiver is a loopback webhook receiver that answers with behave for
// each request and counts requests and 2xx answers per event id.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tries  map[string]int // requests per event id
	served map[string]int // 2xx answers per event id
}

// behave handles the n-th request (from 1) for an event and reports
// whether it answered 2xx.
type behave func(w http.ResponseWriter, r *http.Request, n int) bool

func newReceiver(t *testing.T, b behave) *receiver {
	rc := &receiver{tries: map[string]int{}, served: map[string]int{}}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body as receivers do; the server notices a client
		// that went away only once it has.
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		rc.tries[id]++
		n := rc.tries[id]
		rc.mu.Unlock()
		if b(w, r, n) {
			rc.mu.Lock()
			rc.served[id]++
			rc.mu.Unlock()
		}
	}))
	// The receivers' broken connections are the point; keep the
	// server's own log of them out of the test output.
	rc.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) servedCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.served)
}

func ok(w http.ResponseWriter, _ *http.Request, _ int) bool {
	w.WriteHeader(http.StatusOK)
	return true
}
