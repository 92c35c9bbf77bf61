package dispatch

import (
	"sync"
	"time"
)

// pace keeps the requests this process makes to a rate-limited endpoint
// at least the limit's interval apart as they actually start. The claim
// books each a slot (delivery.Job.StartIn), and no request leaves before
// its slot; but a worker that wakes late (a process descheduled past
// several slots) would otherwise send every overdue slot at once, and the
// next claim's first slots right behind them.
type pace struct {
	mu   sync.Mutex
	last time.Time // when the latest request taken was to start
}

// take returns when a request ready at now may start, interval after the
// one before, and counts it as started then.
func (p *pace) take(now time.Time, interval time.Duration) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if next := p.last.Add(interval); !p.last.IsZero() && next.After(at) {
		at = next
	}
	p.last = at
	return at
}

// idleBefore reports whether the latest request started before t.
func (p *pace) idleBefore(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last.Before(t)
}

// paces holds the pace of each rate-limited endpoint this process sent to
// lately. Only the engine's goroutine uses it; workers use the paces.
type paces map[string]*pace

// of returns endpointID's pace, made on first use.
func (ps paces) of(endpointID string) *pace {
	p := ps[endpointID]
	if p == nil {
		p = &pace{}
		ps[endpointID] = p
	}
	return p
}

// prune forgets the paces whose latest request started before t: at the
// limits allowed (at least one request a second) they hold nothing back.
func (ps paces) prune(t time.Time) {
	for id, p := range ps {
		if p.idleBefore(t) {
			delete(ps, id)
		}
	}
}
