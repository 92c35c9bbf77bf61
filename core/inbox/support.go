package inbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hookd/hookd/core/db"
)

// This file holds the Handler's helpers: the source cache, the batched
// rejection counter and the log limiter, and the flusher service.

// maxCacheEntries bounds the source cache; past it the cache starts over,
// so a flood of made-up names cannot grow memory.
const maxCacheEntries = 1024

type cacheEntry struct {
	src *Source
	err error // nil or db.ErrNotFound
	at  time.Time
}

type sourceCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]cacheEntry
}

// get returns the source, from the cache while fresh. Only a found source
// or db.ErrNotFound is cached; other errors are returned and retried.
func (c *sourceCache) get(ctx context.Context, ex db.Executor, name string, now time.Time) (*Source, error) {
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && now.Sub(e.at) >= 0 {
		return e.src, e.err
	}
	src, err := GetSource(ctx, ex, name)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCacheEntries {
		clear(c.entries)
	}
	c.entries[name] = cacheEntry{src: src, err: err, at: now}
	c.mu.Unlock()
	return src, err
}

func (c *sourceCache) drop(name string) {
	c.mu.Lock()
	delete(c.entries, name)
	c.mu.Unlock()
}

// rejectCounter holds rejections not yet written to hookd.intake_minutes.
type rejectCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

func (r *rejectCounter) add(source string) {
	r.mu.Lock()
	r.counts[source]++
	r.mu.Unlock()
}

func (r *rejectCounter) take() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.counts) == 0 {
		return nil
	}
	out := r.counts
	r.counts = map[string]int64{}
	return out
}

// putBack returns counts a failed flush could not write.
func (r *rejectCounter) putBack(counts map[string]int64) {
	r.mu.Lock()
	for k, n := range counts {
		r.counts[k] += n
	}
	r.mu.Unlock()
}

// logLimiter lets one line through per interval and counts the rest.
type logLimiter struct {
	interval   time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval && now.Sub(l.last) >= 0 {
		l.suppressed++
		return false, 0
	}
	suppressed, l.last, l.suppressed = l.suppressed, now, 0
	return true, suppressed
}

// Flush writes the rejection counts gathered so far to
// hookd.intake_minutes. Counts it could not write are kept for the next
// try.
func (h *Handler) Flush(ctx context.Context) error {
	counts := h.rejects.take()
	for source, n := range counts {
		if _, err := h.pool.Exec(ctx, countSQL, source, 0, 0, n); err != nil {
			h.rejects.putBack(counts)
			return err
		}
		delete(counts, source)
	}
	return nil
}

func (h *Handler) isStarted() bool { return h.runner.Running() }

// Start runs the flusher that writes rejection counts every FlushInterval.
// Without it every rejected request writes its count at once.
func (h *Handler) Start(ctx context.Context) error {
	return h.runner.Start(ctx, "inbox: handler", h.flushLoop)
}

func (h *Handler) flushLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := h.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
				h.logger.Warn("intake: write rejection counts", slog.String("error", err.Error()))
			}
		}
	}
}

// Stop ends the flusher and writes the remaining counts, within ctx (and
// 5s at most). It is safe to call twice, and before Start.
func (h *Handler) Stop(ctx context.Context) error {
	if !h.runner.Stop() {
		return nil // not started, or another Stop flushes
	}
	ctx, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	if err := h.Flush(ctx); err != nil {
		h.logger.Warn("intake: write rejection counts at stop", slog.String("error", err.Error()))
		return err
	}
	return nil
}
