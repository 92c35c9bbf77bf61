package dispatch

import (
	"sync"
	"time"

	"github.com/hookd/hookd/core/delivery"
)

// pace keeps the requests one claim made to a rate-limited endpoint at
// least the limit's interval apart as they actually start. The claim
// books each a slot (delivery.Job.StartIn), and no request leaves before
// its slot; but a worker that wakes late (a process descheduled past
// several slots) would otherwise send every overdue slot at once.
type pace struct {
	interval time.Duration
	mu       sync.Mutex
	last     time.Time // when the latest request taken was to start
}

func newPace(rateLimit int) *pace {
	return &pace{interval: time.Second / time.Duration(rateLimit)}
}

// take returns when a request ready at now may start, and counts it as
// started then.
func (p *pace) take(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if !p.last.IsZero() {
		at = later(now, p.last.Add(p.interval))
	}
	p.last = at
	return at
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// paces gives the rate-limited jobs of one claim a pace per endpoint.
func paces(jobs []delivery.Job) map[string]*pace {
	var out map[string]*pace
	for _, j := range jobs {
		if j.RateLimit > 0 && out[j.EndpointID] == nil {
			if out == nil {
				out = map[string]*pace{}
			}
			out[j.EndpointID] = newPace(j.RateLimit)
		}
	}
	return out
}
