package common_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
)

// A fifo head blocked behind an open breaker waits for the breaker's
// probe, not for its own next try, which read "overdue" for ever.
func TestBlockedHeadBehindAnOpenBreaker(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	opened, probe := now.Add(-5*time.Minute), now.Add(time.Minute)
	h := &delivery.Health{Blocked: &delivery.BlockedHead{DeliveryID: 7970, Since: now.Add(-4 * time.Minute), NextAttemptAt: now.Add(-2 * time.Minute)}}
	r := data.EndpointRow{Endpoint: &endpoint.Endpoint{ID: "ep_1", Enabled: true}, Health: h}
	if got := common.Problem(r, now); !strings.Contains(got, "next try overdue 2m") {
		t.Fatalf("a blocked head with the breaker closed: %q", got)
	}
	h.Breaker = delivery.Breaker{State: delivery.BreakerOpen, OpenedAt: &opened, NextProbeAt: &probe}
	if got := common.Problem(r, now); strings.Contains(got, "overdue") || !strings.Contains(got, "waits for the breaker's probe") {
		t.Fatalf("a blocked head behind an open breaker: %q", got)
	}
}
