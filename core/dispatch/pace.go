package dispatch

import (
	"sync"
	"time"
)

// pace keeps the requests this process makes to a rate-limited endpoint
// at least the limit's interval apart, each planned from the start of the
// one before when it is ready. The claim books each a slot
// (delivery.Job.StartIn), and no request leaves before its slot; but a
// worker that wakes late (a process descheduled past several slots) would
// otherwise send every overdue slot at once, and the next claim's first
// slots right behind them.
type pace struct {
	mu      sync.Mutex
	last    time.Time // when the latest request taken was to start
	holders int       // jobs given the pace that have not taken their turn
}

// take returns when a request ready at now may start, interval after the
// one before, and counts it as started then; unless that is after latest,
// when it reports false and counts nothing. prev is the start it follows,
// for giveBack.
func (p *pace) take(now time.Time, interval time.Duration, latest time.Time) (at, prev time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, prev = now, p.last
	if next := p.last.Add(interval); !p.last.IsZero() && next.After(at) {
		at = next
	}
	if at.After(latest) {
		return at, prev, false
	}
	p.last = at
	return at, prev, true
}

// giveBack undoes a turn taken at at that was not used (the job slept past
// its latest start and is handed back), unless a later turn followed it.
func (p *pace) giveBack(at, prev time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.Equal(at) {
		p.last = prev
	}
}

// letGo ends a job's hold on the pace.
func (p *pace) letGo() {
	p.mu.Lock()
	p.holders--
	p.mu.Unlock()
}

// forgettable reports whether no job holds the pace and its latest
// request started before t.
func (p *pace) forgettable(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holders == 0 && p.last.Before(t)
}

// paces holds the pace of each rate-limited endpoint this process sent to
// lately. Only the engine's goroutine uses it; workers use the paces.
type paces map[string]*pace

// hold returns endpointID's pace, made on first use, held for one job
// until it lets go.
func (ps paces) hold(endpointID string) *pace {
	p := ps[endpointID]
	if p == nil {
		p = &pace{}
		ps[endpointID] = p
	}
	p.mu.Lock()
	p.holders++
	p.mu.Unlock()
	return p
}

// prune forgets the paces no job holds whose latest request started
// before t: at the limits allowed (at least one request a second) they
// hold nothing back.
func (ps paces) prune(t time.Time) {
	for id, p := range ps {
		if p.forgettable(t) {
			delete(ps, id)
		}
	}
}
