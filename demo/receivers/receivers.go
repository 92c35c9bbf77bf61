// Package receivers runs webhook receivers on 127.0.0.1 that behave like
// the ones hookd meets in production: one healthy, and one for each common
// way a receiver fails. `hookd demo` registers them as endpoints so that
// retries, dead letters and disabled endpoints show up within a minute.
//
// # Behaviours
//
//   - [Healthy] verifies every request's signature (Standard Webhooks
//     headers, with core/signing), answers 401 to a bad one, and dedupes by
//     event id: a repeated id is acknowledged with 200 but counted once.
//   - [Slow] answers 200 after a delay drawn from [Options.SlowMin,
//     Options.SlowMax], so some attempts outlast a short delivery timeout.
//   - [Flaky] answers 500 to a share of requests, never answers another
//     share (a timeout on hookd's side), and 200 to the rest.
//   - [Down] refuses connections: its port was listened on, then closed.
//   - [Gone] answers 410 Gone, which makes hookd disable the endpoint.
//   - [RateLimited] answers 429 with Retry-After beyond a small rate.
//   - [Redirecting] answers 302, which hookd counts as a failure.
//
// Every receiver listens on a random loopback port. Stop ends requests
// still waiting (slow and hanging ones) so that it returns promptly.
package receivers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/signing"
)

// Behaviour names how a receiver answers.
type Behaviour string

// The behaviours a Receiver can have.
const (
	Healthy     Behaviour = "healthy"
	Slow        Behaviour = "slow"
	Flaky       Behaviour = "flaky"
	Down        Behaviour = "down"
	Gone        Behaviour = "gone"
	RateLimited Behaviour = "rate-limited"
	Redirecting Behaviour = "redirecting"
)

// Behaviours lists every behaviour, in the order the demo registers them.
var Behaviours = []Behaviour{Healthy, Slow, Flaky, Down, Gone, RateLimited, Redirecting}

// Defaults of Options.
const (
	DefaultSlowMin        = 1 * time.Second
	DefaultSlowMax        = 4 * time.Second
	DefaultFlakyFailShare = 0.3
	DefaultFlakyHangShare = 0.1
	DefaultRetryAfter     = 2 * time.Second
	DefaultRate           = 2 // requests per second before 429
	maxBodyBytes          = 1 << 20
)

// Options tune a receiver; zero values take the defaults above.
type Options struct {
	// Secret verifies signatures (Healthy only); required for Healthy.
	Secret string
	// SlowMin and SlowMax bound Slow's delay. Default 1s and 4s.
	SlowMin, SlowMax time.Duration
	// FlakyFailShare of Flaky's answers are 500s. Defaults to 0.3.
	FlakyFailShare float64
	// FlakyHangShare of Flaky's requests are never answered. Defaults to 0.1.
	FlakyHangShare float64
	// RetryAfter is RateLimited's Retry-After. Defaults to 2s.
	RetryAfter time.Duration
	// Rate is how many requests per second RateLimited accepts. Defaults to 2.
	Rate int
	// Logger receives start and stop messages. Defaults to discarding them.
	Logger *slog.Logger
}

// Stats counts what a receiver answered.
type Stats struct {
	// Requests is every request received.
	Requests int64
	// OK is 2xx answers to first deliveries of an event id.
	OK int64
	// Duplicates is 2xx answers to an id already seen (Healthy only).
	Duplicates int64
	// Rejected is 401 answers to bad signatures (Healthy only).
	Rejected int64
	// Failed is every other non-2xx answer, and requests left unanswered.
	Failed int64
}

// Receiver is one demo receiver. Create it with New, then Start it.
type Receiver struct {
	behaviour Behaviour
	opts      Options
	log       *slog.Logger

	url  string
	srv  *http.Server
	quit chan struct{}
	done chan struct{}

	requests, ok, duplicates, rejected, failed atomic.Int64

	mu       sync.Mutex
	seen     map[string]bool // Healthy: event ids acknowledged
	window   time.Time       // RateLimited: start of the current second
	inWindow int

	startOnce, stopOnce sync.Once
}

// New returns a receiver with behaviour b. It rejects an unknown
// behaviour, and Healthy without a secret.
func New(b Behaviour, opts Options) (*Receiver, error) {
	known := false
	for _, k := range Behaviours {
		known = known || k == b
	}
	if !known {
		return nil, fmt.Errorf("receivers: unknown behaviour %q; allowed: %v", b, Behaviours)
	}
	if b == Healthy {
		if err := signing.ValidateSecret(opts.Secret); err != nil {
			return nil, fmt.Errorf("receivers: healthy receiver needs Options.Secret: %w", err)
		}
	}
	opts.SlowMin = cmpOr(opts.SlowMin, DefaultSlowMin)
	opts.SlowMax = max(cmpOr(opts.SlowMax, DefaultSlowMax), opts.SlowMin)
	opts.FlakyFailShare = cmpOr(opts.FlakyFailShare, DefaultFlakyFailShare)
	opts.FlakyHangShare = cmpOr(opts.FlakyHangShare, DefaultFlakyHangShare)
	opts.RetryAfter = cmpOr(opts.RetryAfter, DefaultRetryAfter)
	opts.Rate = cmpOr(opts.Rate, DefaultRate)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{
		behaviour: b, opts: opts, log: log,
		quit: make(chan struct{}), done: make(chan struct{}),
		seen: map[string]bool{},
	}, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Behaviour returns the receiver's behaviour.
func (r *Receiver) Behaviour() Behaviour { return r.behaviour }

// URL returns the receiver's URL; valid after Start.
func (r *Receiver) URL() string { return r.url }

// Stats returns a snapshot of the receiver's counters.
func (r *Receiver) Stats() Stats {
	return Stats{
		Requests: r.requests.Load(), OK: r.ok.Load(), Duplicates: r.duplicates.Load(),
		Rejected: r.rejected.Load(), Failed: r.failed.Load(),
	}
}

// Start listens on a random 127.0.0.1 port and serves until Stop. A Down
// receiver listens and closes at once, so its port refuses connections.
// Starting twice is an error.
func (r *Receiver) Start(ctx context.Context) error {
	err := errors.New("receivers: receiver already started")
	r.startOnce.Do(func() { err = r.start(ctx) })
	return err
}

func (r *Receiver) start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("receivers: %s: listen: %w", r.behaviour, err)
	}
	r.url = "http://" + ln.Addr().String() + "/webhooks"
	if r.behaviour == Down {
		close(r.done)
		return ln.Close()
	}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("receivers: serve", slog.String("receiver", string(r.behaviour)), slog.String("error", err.Error()))
		}
	}()
	r.log.Debug("receivers: started", slog.String("receiver", string(r.behaviour)), slog.String("url", r.url))
	return nil
}

// Stop ends waiting requests, closes the listener and every connection,
// and waits for the server to finish. Safe to call twice, and before Start.
func (r *Receiver) Stop() {
	r.stopOnce.Do(func() {
		close(r.quit)
		if r.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			_ = r.srv.Close()
		}
		<-r.done
	})
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBodyBytes))
	if err != nil {
		r.failed.Add(1)
		return
	}
	switch r.behaviour {
	case Healthy:
		r.healthy(w, req, body)
	case Slow:
		if !r.wait(req.Context(), randBetween(r.opts.SlowMin, r.opts.SlowMax)) {
			r.failed.Add(1) // abandoned: hookd timed out, or the demo stopped
			return
		}
		r.answer(w, http.StatusOK, `{"received":true}`)
	case Flaky:
		r.flaky(w, req)
	case Gone:
		r.answer(w, http.StatusGone, `{"error":"this webhook endpoint was removed"}`)
	case RateLimited:
		r.rateLimited(w)
	case Redirecting:
		w.Header().Set("Location", "/webhooks/v2")
		r.answer(w, http.StatusFound, "")
	}
}

func (r *Receiver) healthy(w http.ResponseWriter, req *http.Request, body []byte) {
	res, err := signing.Verify(signing.SchemeStandard, req.Header, body, []string{r.opts.Secret}, 0, time.Now())
	if err != nil {
		r.rejected.Add(1)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	dup := r.seen[res.EventID]
	r.seen[res.EventID] = true
	r.mu.Unlock()
	if dup {
		r.duplicates.Add(1)
		w.WriteHeader(http.StatusOK)
		return
	}
	r.answer(w, http.StatusOK, `{"received":true}`)
}

func (r *Receiver) flaky(w http.ResponseWriter, req *http.Request) {
	switch p := rand.Float64(); {
	case p < r.opts.FlakyHangShare:
		r.failed.Add(1)
		r.wait(req.Context(), time.Hour) // never answers: a timeout for hookd
	case p < r.opts.FlakyHangShare+r.opts.FlakyFailShare:
		r.answer(w, http.StatusInternalServerError, `{"error":"database is locked"}`)
	default:
		r.answer(w, http.StatusOK, `{"received":true}`)
	}
}

func (r *Receiver) rateLimited(w http.ResponseWriter) {
	now := time.Now()
	r.mu.Lock()
	if now.Sub(r.window) >= time.Second {
		r.window, r.inWindow = now, 0
	}
	r.inWindow++
	allowed := r.inWindow <= r.opts.Rate
	r.mu.Unlock()
	if allowed {
		r.answer(w, http.StatusOK, `{"received":true}`)
		return
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(max(r.opts.RetryAfter.Seconds(), 1))))
	r.answer(w, http.StatusTooManyRequests, `{"error":"rate limit exceeded"}`)
}

// answer writes status and body and counts the outcome.
func (r *Receiver) answer(w http.ResponseWriter, status int, body string) {
	if status/100 == 2 {
		r.ok.Add(1)
	} else {
		r.failed.Add(1)
	}
	if body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// wait blocks for d, until the request ends or the receiver stops; it
// reports whether the whole delay passed.
func (r *Receiver) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-r.quit:
	}
	return false
}

func randBetween(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + rand.N(hi-lo)
}
