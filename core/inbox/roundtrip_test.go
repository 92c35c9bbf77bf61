package inbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/dispatch"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

func startDispatcher(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	d := dispatch.New(pool, dispatch.Options{
		Delivery: config.Delivery{
			RetrySchedule:          []time.Duration{0, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
			Timeout:                5 * time.Second,
			AllowedNetworks:        []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Workers:                8,
			MaxInFlightPerEndpoint: 4,
			ClaimBatch:             50,
			Lease:                  15 * time.Second,
			PollInterval:           50 * time.Millisecond,
			MaxResponseBodyBytes:   1024,
			ShutdownTimeout:        2 * time.Second,
		},
		Logger:  slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelError})),
		Metrics: metrics.New(),
		Version: "test",
	})
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
}

// counter counts requests per event id.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[id]++
	return c.n[id]
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// TestRoundTrip: one hookd delivers to another hookd's intake (two
// databases), the first acknowledgement of every event is lost on the way
// back so the sender retries, and the intake's forward target still
// receives each event exactly once, signed with the forward secret.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	const n = 20
	ctx := context.Background()
	b := setup(t, inbox.HandlerOptions{}) // the receiving hookd

	// The internal service behind the receiving hookd.
	var fwdSecret string
	got := &counter{n: map[string]int{}}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := signing.Verify(signing.SchemeHookd, r.Header, body, []string{fwdSecret}, 0, time.Now()); err != nil {
			t.Errorf("forwarded request does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("forwarded body %s: %v", body, err)
		}
		got.add(ev.Data.ID)
	}))
	t.Cleanup(target.Close)

	src := b.source(t, inbox.CreateParams{Name: "upstream", Scheme: "hookd", Secrets: []string{secretA}, ForwardTo: target.URL})
	fwdSecret = src.ForwardSecret

	// Between the two: the intake's first answer for each event is lost.
	sent := &counter{n: map[string]int{}}
	var answersMu sync.Mutex
	answers := map[string][]string{} // what the intake answered each send, for a failure's message
	lossy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest("POST", b.srv.URL+"/in/upstream", bytes.NewReader(body))
		req.Header = r.Header.Clone()
		start := time.Now()
		resp, err := b.srv.Client().Do(req)
		answersMu.Lock()
		if err != nil {
			answers[r.Header.Get(signing.HeaderID)] = append(answers[r.Header.Get(signing.HeaderID)], err.Error())
		} else {
			answers[r.Header.Get(signing.HeaderID)] = append(answers[r.Header.Get(signing.HeaderID)],
				fmt.Sprintf("%d after %s", resp.StatusCode, time.Since(start).Round(time.Millisecond)))
		}
		answersMu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		if sent.add(r.Header.Get(signing.HeaderID)) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
	}))
	t.Cleanup(lossy.Close)

	// The sending hookd, on a database of its own.
	sender := dbtest.NewPool(t)
	if _, err := endpoint.Create(ctx, sender, endpoint.CreateParams{URL: lossy.URL, Secret: secretA}); err != nil {
		t.Fatal(err)
	}
	pub := outbox.NewPublisher(sender, outbox.Options{})
	for i := range n {
		if _, err := pub.Publish(ctx, outbox.Event{ID: fmt.Sprintf("evt_%d", i), Type: "order.placed",
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	startDispatcher(t, sender)
	startDispatcher(t, b.pool)

	succeeded := func(pool *pgxpool.Pool) int {
		var k int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries WHERE state = 'succeeded'`).Scan(&k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	testkit.Eventually(t, "every delivery of both hookds succeeded", func() bool {
		return succeeded(sender) == n && succeeded(b.pool) == n
	})
	received := got.snapshot()
	if len(received) != n {
		t.Fatalf("target received %d distinct events, want %d", len(received), n)
	}
	for id, k := range received {
		if k != 1 {
			t.Fatalf("target received %s %d times", id, k)
		}
	}
	for id, k := range sent.snapshot() {
		if k != 2 {
			answersMu.Lock()
			defer answersMu.Unlock()
			t.Fatalf("sender sent %s %d times, want 2 (lost ack, retry); the intake answered %v", id, k, answers[id])
		}
	}
	if k := b.count(t, `SELECT count(*) FROM hookd.inbox WHERE duplicates = 1 AND state = 'forwarded'`); k != n {
		t.Fatalf("%d inbox rows forwarded with one duplicate, want %d", k, n)
	}
}
