package dispatch

import (
	"sync"
	"time"
)

// capacity counts running attempts globally and per endpoint.
type capacity struct {
	mu         sync.Mutex
	workers    int
	defaultCap int
	total      int
	running    map[string]int // endpoint -> running attempts
	caps       map[string]int // endpoint -> its cap, as last claimed
	short      bool           // the last claim was limited by capacity
	wakeAt     int            // free slots worth a claim
}

func newCapacity(workers, defaultCap, batch int) capacity {
	return capacity{workers: workers, defaultCap: defaultCap, wakeAt: max(1, min(workers, batch)/4),
		running: map[string]int{}, caps: map[string]int{}}
}

// free returns how many more attempts may start, the endpoints that are
// at their cap, and the free slots of the endpoints that are running but
// not full, so that a claim takes no more than can start.
func (c *capacity) free() (int, []string, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var full []string
	remaining := map[string]int{}
	for ep, n := range c.running {
		if left := c.capOf(ep) - n; left <= 0 {
			full = append(full, ep)
		} else {
			remaining[ep] = left
		}
	}
	return c.workers - c.total, full, remaining
}

func (c *capacity) capOf(ep string) int {
	if n := c.caps[ep]; n > 0 {
		return n
	}
	return c.defaultCap
}

// take reserves a slot for an attempt to ep, whose own cap is epCap (0 for
// the default); it reports false when ep or the whole dispatcher is full.
func (c *capacity) take(ep string, epCap int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := epCap
	if limit <= 0 {
		limit = c.defaultCap
	}
	if c.total >= c.workers || c.running[ep] >= limit {
		c.short = true
		return false
	}
	c.caps[ep] = epCap
	c.total++
	c.running[ep]++
	return true
}

// markShort records that claiming stopped for lack of capacity, so the
// next finished attempt wakes the claimer.
func (c *capacity) markShort() {
	c.mu.Lock()
	c.short = true
	c.mu.Unlock()
}

// put returns ep's slot and reports whether the claimer should look for
// work again: it was short of capacity and enough has been freed, a
// quarter of a claim globally or half of ep's cap. Waking for every single
// slot would spend a database round trip per delivery.
func (c *capacity) put(ep string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	limit := c.capOf(ep)
	c.total--
	c.running[ep]--
	epFree := limit - c.running[ep]
	if c.running[ep] <= 0 {
		delete(c.running, ep)
		delete(c.caps, ep)
	}
	if !c.short {
		return false
	}
	if c.workers-c.total >= c.wakeAt || epFree >= (limit+1)/2 {
		c.short = false
		return true
	}
	return false
}

// rateLimits space requests to endpoints with a rate limit.
type rateLimits struct {
	mu   sync.Mutex
	next map[string]time.Time // endpoint -> earliest start of its next request
}

func newRateLimits() *rateLimits { return &rateLimits{next: map[string]time.Time{}} }

// reserve books the next slot of ep at perSecond requests per second and
// returns how long to wait for it. A zero rate never waits. A slot more
// than max away is not booked: ok is false and wait says when it would be,
// so the caller can hand the work back until then without pushing every
// later slot further out.
func (r *rateLimits) reserve(ep string, perSecond int, now time.Time, max time.Duration) (wait time.Duration, ok bool) {
	if perSecond <= 0 {
		return 0, true
	}
	interval := time.Second / time.Duration(perSecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	slot := r.next[ep]
	if slot.Before(now) {
		slot = now
	}
	if wait = slot.Sub(now); wait > max {
		return wait, false
	}
	r.next[ep] = slot.Add(interval)
	// Forget endpoints idle for a while so the map does not grow.
	if len(r.next) > 1024 {
		for k, t := range r.next {
			if t.Before(now.Add(-time.Minute)) {
				delete(r.next, k)
			}
		}
	}
	return wait, true
}
