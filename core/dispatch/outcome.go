package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
)

// finish classifies a response status, decides the delivery's next state
// and counts the attempt. retryAfter < 0 means the response had none.
// hookd's own targets (trusted: the alert endpoint, configured forwards)
// are never disabled by a 410: that would silence alerting, so they retry
// on the schedule and their dead letters stay visible.
func (d *Dispatcher) finish(res *delivery.Result, status int, now time.Time, retryAfter time.Duration, job delivery.Job) {
	if status != 0 && res.ErrorClass == "" && (status < 200 || status > 299) {
		res.ErrorClass, res.Error = delivery.ClassHTTPStatus, statusMessage(status, res.ResponseHeaders)
	}
	switch {
	case res.ErrorClass == "":
		res.Next, res.NextAttemptAt = delivery.StateSucceeded, now
	case status == http.StatusGone && !job.Trusted && d.gone(res, now):
		res.Next, res.NextAttemptAt = delivery.StateHeld, now
	default:
		// A fifo line's head retries as any delivery does; the claim
		// holds its line while it waits (see delivery.LineHeadOf).
		res.Next, res.NextAttemptAt = d.retry(res.Attempt, now, retryAfter)
	}

	outcome := "success"
	if res.ErrorClass != "" {
		outcome = "failure"
	}
	d.opts.Metrics.Attempts.WithLabelValues(outcome, res.ErrorClass).Inc()
	d.opts.Metrics.AttemptDuration.Observe(res.Duration.Seconds())
	d.logAttempt(res)
}

// retry schedules the attempt after attempt (1-based), or kills the
// delivery when the schedule is spent. See the package doc.
func (d *Dispatcher) retry(attempt int, now time.Time, retryAfter time.Duration) (delivery.State, time.Time) {
	schedule := d.opts.Delivery.RetrySchedule
	if attempt >= len(schedule) {
		return delivery.StateDead, now
	}
	if retryAfter >= 0 {
		return delivery.StateRetrying, now.Add(min(retryAfter, slices.Max(schedule)))
	}
	return delivery.StateRetrying, now.Add(jitter(schedule[attempt], d.opts.Delivery.Jitter))
}

// jitter spreads delay uniformly by ±fraction.
func jitter(delay time.Duration, fraction float64) time.Duration {
	if fraction <= 0 || delay <= 0 {
		return delay
	}
	f := 1 + fraction*(2*rand.Float64()-1)
	return time.Duration(float64(delay) * f)
}

// gone disables the endpoint after a 410 and reports whether the delivery
// is to be held. When the database refuses, the attempt counts as an
// ordinary failure and the next 410 tries again.
func (d *Dispatcher) gone(res *delivery.Result, now time.Time) bool {
	reason := fmt.Sprintf("410 Gone from %s at %s", res.RequestURL, now.UTC().Format(time.RFC3339))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changed, err := endpoint.DisableIfEnabled(ctx, d.pool, res.EndpointID, reason)
	if err != nil {
		d.logger.Warn("disabling an endpoint after 410 Gone failed; retrying on the schedule",
			slog.String("endpoint", res.EndpointID), slog.String("error", err.Error()))
		return false
	}
	res.Error = "410 Gone: the endpoint was disabled; its deliveries are held until it is enabled"
	if changed {
		d.opts.Metrics.EndpointsDisabled.WithLabelValues("gone").Inc()
		d.logger.Warn("endpoint disabled", slog.String("endpoint", res.EndpointID), slog.String("reason", reason))
		if d.opts.OnEndpointDisabled != nil {
			d.opts.OnEndpointDisabled(ctx, res.EndpointID, reason)
		}
	}
	return true
}

// statusMessage explains a non-2xx status to a person.
func statusMessage(status int, h http.Header) string {
	msg := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	switch {
	case status >= 300 && status < 400:
		msg += ": redirects are not followed; point the endpoint at the final URL"
		if loc := h.Get("Location"); loc != "" {
			msg += " (Location: " + loc + ")"
		}
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		if ra := h.Get("Retry-After"); ra != "" {
			msg += " (Retry-After: " + ra + ")"
		}
	}
	return msg
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
