package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/outbox"
)

// repeatShare of published events reuse an earlier id, as a producer
// retrying its publish would; hookd stores them once.
const repeatShare = 0.08

// eventKinds are the stream's event types with their relative weights.
var eventKinds = []struct {
	typ    string
	weight int
	data   func() map[string]any
}{
	{"payment.succeeded", 30, payment},
	{"payment.failed", 5, payment},
	{"payment.refunded", 4, payment},
	{"invoice.created", 10, invoice},
	{"invoice.paid", 15, invoice},
	{"customer.created", 12, customer},
	{"customer.updated", 8, customer},
	{"subscription.renewed", 6, renewal},
}

// stream publishes a steady flow of events through the outbox.
type stream struct {
	pub      *outbox.Publisher
	interval time.Duration
	log      *slog.Logger

	published, repeats, errors atomic.Int64
	recent                     []outbox.Event // only touched by the loop

	startOnce, stopOnce sync.Once
	cancel              context.CancelFunc
	done                chan struct{}
}

func newStream(pub *outbox.Publisher, perSecond float64, log *slog.Logger) *stream {
	return &stream{
		pub: pub, interval: time.Duration(float64(time.Second) / perSecond), log: log,
		done: make(chan struct{}),
	}
}

// Start publishes one event per interval until Stop or ctx ends.
func (s *stream) Start(ctx context.Context) error {
	err := errors.New("scenario: stream already started")
	s.startOnce.Do(func() {
		err = nil
		ctx, s.cancel = context.WithCancel(ctx)
		go s.run(ctx)
	})
	return err
}

// Stop ends the loop and waits for it. Safe to call twice and before Start.
func (s *stream) Stop() {
	s.stopOnce.Do(func() {
		if s.cancel == nil {
			return
		}
		s.cancel()
		<-s.done
	})
}

func (s *stream) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.publishOne(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *stream) publishOne(ctx context.Context) {
	ev := s.next()
	res, err := s.pub.Publish(ctx, ev)
	switch {
	case err != nil && ctx.Err() == nil:
		s.errors.Add(1)
		s.log.Error("demo: publish", slog.String("type", ev.Type), slog.String("error", err.Error()))
	case err != nil:
	case res.Duplicate:
		s.repeats.Add(1)
	default:
		s.published.Add(1)
		if len(s.recent) >= 32 {
			s.recent = s.recent[1:]
		}
		s.recent = append(s.recent, ev)
	}
}

// next returns a new event, or now and then one already published.
func (s *stream) next() outbox.Event {
	if len(s.recent) > 0 && rand.Float64() < repeatShare {
		return s.recent[rand.IntN(len(s.recent))]
	}
	total := 0
	for _, k := range eventKinds {
		total += k.weight
	}
	n := rand.IntN(total)
	for _, k := range eventKinds {
		if n -= k.weight; n < 0 {
			data, _ := json.Marshal(k.data())
			return outbox.Event{ID: ids.New("evt"), Type: k.typ, Data: data}
		}
	}
	panic("unreachable")
}

func customerID() string { return fmt.Sprintf("cus_%05d", rand.IntN(5000)) }

func payment() map[string]any {
	currencies := []string{"eur", "usd", "gbp"}
	return map[string]any{
		"payment_id": ids.New("pay"), "customer": customerID(),
		"amount": 100 * (5 + rand.IntN(400)), "currency": currencies[rand.IntN(len(currencies))],
	}
}

func invoice() map[string]any {
	return map[string]any{
		"invoice_id": ids.New("in"), "customer": customerID(),
		"total": 100 * (10 + rand.IntN(900)), "currency": "eur", "lines": 1 + rand.IntN(5),
	}
}

func customer() map[string]any {
	names := []string{"Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra"}
	name := names[rand.IntN(len(names))]
	return map[string]any{"customer": customerID(), "name": name, "country": "DE"}
}

func renewal() map[string]any {
	plans := []string{"starter", "team", "enterprise"}
	return map[string]any{
		"subscription_id": ids.New("sub"), "customer": customerID(),
		"plan": plans[rand.IntN(len(plans))], "period_end": time.Now().AddDate(0, 1, 0).UTC().Format(time.RFC3339),
	}
}
