package delivery

import (
	"math"
	"time"
)

// This file holds the claim's decisions: from what ClaimTx read under the
// lanes' locks, how many deliveries each lane may take and when it is to
// be looked at again. No SQL: ClaimTx reads before and writes after.

// lane is one endpoint's claim state as read under its lock.
type lane struct {
	endpointID string
	inFlight   int
	rateNext   *time.Time
	exists     bool
	enabled    bool
	maxInFl    int
	rate       int
	fifo       bool
	open       bool // breaker
	probeAt    *time.Time
	probes     int

	// decided by plan
	capacity int
	want     int
	head     int64 // fifo: the one delivery it may take
	probe    bool
	readyAt  *time.Time // nil: infinity
	slot0    time.Time  // first rate slot
	taken    int
	idle     bool
	deadLane bool
}

// plan decides how many deliveries each lane may take and, for lanes that
// may take none, when to look at them again.
func plan(lanes []*lane, p ClaimParams, now, clock time.Time) {
	room := make([]int, len(lanes))
	for i, l := range lanes {
		switch {
		case !l.exists:
			l.deadLane = true
			continue
		case !l.enabled:
			// Disabling held its work; what is in flight finishes.
			l.idle = true
			continue
		}
		capacity := l.maxInFl
		if capacity <= 0 {
			capacity = p.DefaultMaxInFlight
		}
		if capacity <= 0 {
			capacity = math.MaxInt32
		}
		l.capacity = capacity
		r := capacity - l.inFlight
		if l.open {
			switch {
			case l.inFlight > 0:
				r = 0 // the probe is under way; its result decides
			case l.probeAt != nil && l.probeAt.After(now):
				r = 0
				t := *l.probeAt
				l.readyAt = &t
			default:
				r, l.probe = 1, true
			}
		}
		if l.fifo {
			switch {
			case l.inFlight > 0 || l.head < 0:
				r = 0 // one at a time; or the head waits (readyAt set)
			case l.head == 0:
				r = 0
				l.idle = true // nothing pending
			default:
				r = min(r, 1)
			}
		}
		if l.rate > 0 && r > 0 {
			l.slot0 = clock
			if l.rateNext != nil && l.rateNext.After(clock) {
				l.slot0 = *l.rateNext
			}
			interval := time.Second / time.Duration(l.rate)
			fit := 0 // slots slot0 + k*interval before the horizon
			if horizon := clock.Add(p.RateHorizon); l.slot0.Before(horizon) {
				fit = int((horizon.Sub(l.slot0) + interval - 1) / interval)
			}
			if fit == 0 {
				t := l.slot0.Add(-p.RateHorizon)
				l.readyAt = &t
			}
			r = min(r, fit)
		}
		room[i] = max(r, 0)
	}
	// Share the claim: every lane gets an equal part of it (at most its
	// room); what some could not use goes to the others, in lane order.
	left := p.Limit
	for left > 0 {
		open := 0
		for i, l := range lanes {
			if room[i] > l.want {
				open++
			}
		}
		if open == 0 {
			break
		}
		share := max(left/open, 1)
		for i, l := range lanes {
			if left == 0 {
				break
			}
			if n := min(room[i]-l.want, share, left); n > 0 {
				l.want += n
				left -= n
			}
		}
	}
}

// awaitsResult reports whether, after this claim, the lane is looked at
// again only when a result frees it (see settleLanes).
func (l *lane) awaitsResult() bool {
	return l.probe || l.fifo || l.inFlight+l.taken >= l.capacity
}
