package receivers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/signing"
)

// Defaults of SenderOptions.
const (
	DefaultSendInterval = 250 * time.Millisecond
	DefaultTamperShare  = 0.15
	DefaultRepeatShare  = 0.15
	repeatMemory        = 64
)

// SenderOptions configure a Sender.
type SenderOptions struct {
	// URL is hookd's intake URL for the source, http://host:port/in/<name>.
	// Required.
	URL string
	// Secret is the source's whsec_ secret. Required. Requests carry both
	// the hookd and the Standard Webhooks headers, so a source with scheme
	// hookd or standard verifies them.
	Secret string
	// Interval is the pause between requests. Defaults to 250ms.
	Interval time.Duration
	// TamperShare of requests have their body changed after signing, so
	// hookd must reject them with 401. Defaults to 0.15.
	TamperShare float64
	// RepeatShare of requests resend an event already sent, freshly
	// signed, as a sender's retry would; hookd must ack it as a duplicate.
	// Defaults to 0.15.
	RepeatShare float64
	// Client sends the requests. Defaults to a client with a 10s timeout.
	Client *http.Client
	// Logger receives errors. Defaults to discarding them.
	Logger *slog.Logger
}

// SenderStats counts a Sender's requests by what hookd answered.
type SenderStats struct {
	// Sent is every request that got an answer or failed; a request cut
	// short by Stop is not counted.
	Sent int64
	// Accepted is 2xx answers to new events.
	Accepted int64
	// Repeats is 2xx answers to resent events (duplicates on hookd's side).
	Repeats int64
	// Rejected is 401 answers (every tampered request should get one).
	Rejected int64
	// Failed is every other answer and every transport error.
	Failed int64
}

// Sender is a second sender feeding hookd's intake: a steady stream of
// signed events, some tampered with, some repeated.
type Sender struct {
	opts SenderOptions
	log  *slog.Logger

	sent, accepted, repeats, rejected, failed atomic.Int64

	mu                   sync.Mutex
	past                 []sentEvent // recently accepted, for repeats
	tamperDue, repeatDue float64     // shares accumulated, spent at 1

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
	started  atomic.Bool
}

type sentEvent struct {
	id   string
	body []byte
}

// NewSender validates opts and returns a Sender.
func NewSender(opts SenderOptions) (*Sender, error) {
	if opts.URL == "" {
		return nil, errors.New("receivers: SenderOptions.URL is required: hookd's intake URL, http://host:port/in/<source>")
	}
	if err := signing.ValidateSecret(opts.Secret); err != nil {
		return nil, fmt.Errorf("receivers: SenderOptions.Secret: %w", err)
	}
	if opts.TamperShare < 0 || opts.RepeatShare < 0 || opts.TamperShare+opts.RepeatShare >= 1 {
		return nil, fmt.Errorf("receivers: TamperShare (%v) and RepeatShare (%v) must be at least 0 and add up to less than 1", opts.TamperShare, opts.RepeatShare)
	}
	opts.Interval = cmpOr(opts.Interval, DefaultSendInterval)
	opts.TamperShare = cmpOr(opts.TamperShare, DefaultTamperShare)
	opts.RepeatShare = cmpOr(opts.RepeatShare, DefaultRepeatShare)
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{opts: opts, log: log, done: make(chan struct{})}, nil
}

// Stats returns a snapshot of the Sender's counters.
func (s *Sender) Stats() SenderStats {
	return SenderStats{
		Sent: s.sent.Load(), Accepted: s.accepted.Load(), Repeats: s.repeats.Load(),
		Rejected: s.rejected.Load(), Failed: s.failed.Load(),
	}
}

// Start sends one request per Interval until Stop or until ctx ends.
func (s *Sender) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("receivers: sender already started")
	}
	ctx, s.cancel = context.WithCancel(ctx)
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.opts.Interval)
		defer t.Stop()
		for {
			s.SendOne(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Stop ends the loop and waits for the request in progress. Safe to call
// twice, and before Start.
func (s *Sender) Stop() {
	s.stopOnce.Do(func() {
		if s.started.Load() {
			s.cancel()
			<-s.done
		}
	})
}

// SendOne sends one request, a new event, a tampered one or a repeat, and
// returns hookd's status (0 on a transport error). Tampered requests and
// repeats are spread evenly at their configured shares: with a share of
// 0.15, exactly 3 in every 20 requests.
func (s *Sender) SendOne(ctx context.Context) int {
	s.mu.Lock()
	s.tamperDue += s.opts.TamperShare
	s.repeatDue += s.opts.RepeatShare
	tamper, repeat := s.tamperDue >= 1, false
	if tamper {
		s.tamperDue--
	} else if s.repeatDue >= 1 && len(s.past) > 0 {
		s.repeatDue--
		repeat = true
	}
	var ev sentEvent
	if repeat {
		ev = s.past[rand.IntN(len(s.past))]
	}
	s.mu.Unlock()
	if !repeat {
		ev = newIntakeEvent()
	}
	return s.send(ctx, ev, tamper, repeat)
}

func (s *Sender) send(ctx context.Context, ev sentEvent, tamper, repeat bool) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, nil)
	if err != nil {
		s.failed.Add(1)
		return 0
	}
	if err := signing.Sign(req.Header, ev.id, time.Now(), ev.body, []string{s.opts.Secret}); err != nil {
		s.failed.Add(1)
		s.log.Error("receivers: sender: sign", slog.String("error", err.Error()))
		return 0
	}
	body := ev.body
	if tamper {
		body = bytes.Replace(body, []byte(`"amount":`), []byte(`"amount":1`), 1)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.opts.Client.Do(req)
	if err != nil && ctx.Err() != nil {
		return 0 // stopping: not counted
	}
	s.sent.Add(1)
	if err != nil {
		s.failed.Add(1)
		s.log.Warn("receivers: sender", slog.String("error", err.Error()))
		return 0
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2 && repeat:
		s.repeats.Add(1)
	case resp.StatusCode/100 == 2:
		s.accepted.Add(1)
		s.remember(ev)
	case resp.StatusCode == http.StatusUnauthorized:
		s.rejected.Add(1)
	default:
		s.failed.Add(1)
	}
	return resp.StatusCode
}

func (s *Sender) remember(ev sentEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.past) >= repeatMemory {
		s.past = s.past[1:]
	}
	s.past = append(s.past, ev)
}

// newIntakeEvent makes a payment-provider style event.
func newIntakeEvent() sentEvent {
	id := ids.New("evt")
	types := []string{"charge.succeeded", "charge.refunded", "payout.paid", "dispute.created"}
	body, _ := json.Marshal(map[string]any{
		"id":      id,
		"type":    types[rand.IntN(len(types))],
		"created": time.Now().UTC().Format(time.RFC3339),
		"data": map[string]any{
			"amount":   100 * (1 + rand.IntN(500)),
			"currency": "eur",
			"customer": fmt.Sprintf("cus_%04d", rand.IntN(200)),
		},
	})
	return sentEvent{id: id, body: body}
}
