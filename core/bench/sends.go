package bench

import (
	"context"
	"sync"
	"time"

	"github.com/hookd/hookd/core/delivery"
)

// sendLog keeps, per event, when the dispatcher's claim of its first
// recorded attempt returned and when that attempt's request started: with
// the publish call's return and the receipt they split hookd's part of
// the latency into waiting to be claimed, starting the request and the
// request itself. The dispatcher reports attempts once their results are
// recorded (dispatch.Options.OnOutcome), so a phase reads the log after
// stopping its dispatcher.
type sendLog struct {
	mu   sync.Mutex
	sent map[string]sendTimes
}

type sendTimes struct{ claimed, started time.Time }

func newSendLog() *sendLog { return &sendLog{sent: map[string]sendTimes{}} }

// record is the dispatcher's OnOutcome.
func (s *sendLog) record(_ context.Context, applied []delivery.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range applied {
		if _, ok := s.sent[r.EventID]; !ok && !r.ClaimedAt.IsZero() {
			s.sent[r.EventID] = sendTimes{r.ClaimedAt, r.StartedAt}
		}
	}
}

func (s *sendLog) of(eventID string) (sendTimes, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.sent[eventID]
	return t, ok
}

func (s *sendLog) reset() {
	s.mu.Lock()
	s.sent = map[string]sendTimes{}
	s.mu.Unlock()
}

// forget starts a measurement afresh: no receipts, no sends.
func (b *bench) forget() {
	b.rcv.reset()
	b.sends.reset()
}
