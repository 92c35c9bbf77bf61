package common

import (
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/data"
)

// Problem says in a few words what is wrong with an endpoint at now, worst
// first ("" when nothing is): disabled, a blocked fifo line, an open
// breaker, failures. The overview and the endpoints view show it.
func Problem(r data.EndpointRow, now time.Time) string {
	e, h := r.Endpoint, r.Health
	if h == nil {
		h = &delivery.Health{}
	}
	var parts []string
	if !e.Enabled {
		parts = append(parts, fmt.Sprintf("disabled (%d held): %s", h.Held, e.DisabledReason))
	}
	if b := h.Blocked; b != nil {
		next := "next try " + Until(now, b.NextAttemptAt)
		if h.Breaker.State == delivery.BreakerOpen {
			next = "waits for the breaker's probe" // its own next try is not what comes next
		}
		parts = append(parts, fmt.Sprintf("fifo blocked for %s by delivery %d, %s", Dur(now.Sub(b.Since)), b.DeliveryID, next))
	}
	if br := h.Breaker; br.State == delivery.BreakerOpen {
		s := "breaker open"
		if br.OpenedAt != nil {
			s += " for " + Dur(now.Sub(*br.OpenedAt))
		}
		if br.NextProbeAt != nil {
			s += ", probe " + Until(now, *br.NextProbeAt)
		}
		parts = append(parts, s)
	}
	failing := h.Last5m.Attempts > 0 && h.Last5m.SuccessRate < 0.9
	if h.ConsecutiveFailures > 0 || h.Dead > 0 || failing {
		s := Plural(h.ConsecutiveFailures, "failure") + " in a row"
		if h.LastStatus != nil {
			s += fmt.Sprintf(", last %d", *h.LastStatus)
		}
		s += fmt.Sprintf(", %d dead", h.Dead)
		if failing {
			s += fmt.Sprintf(", %.0f%% ok in 5m", h.Last5m.SuccessRate*100)
		}
		parts = append(parts, s)
	}
	return Sanitize(strings.Join(parts, " · "))
}
