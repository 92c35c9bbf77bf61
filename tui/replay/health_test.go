package replay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/replay"
)

// A failing endpoint's health names its last HTTP status, or says it gave
// none, never "last -".
func TestHealthSaysWhatFailed(t *testing.T) {
	t.Parallel()
	s503 := 503
	for _, c := range []struct {
		h    delivery.Health
		want string
	}{
		{delivery.Health{ConsecutiveFailures: 17}, "STILL FAILING (17 in a row, no HTTP answer)"},
		{delivery.Health{ConsecutiveFailures: 3, LastStatus: &s503}, "STILL FAILING (3 in a row, last HTTP 503)"},
	} {
		if got := replay.Health(data.Group{Health: &c.h}); !strings.HasPrefix(got, c.want) {
			t.Errorf("health %+v reads %q; want %q…", c.h, got, c.want)
		}
	}
}

// The question about a blocked head counts its failures, and says so
// when a replay has reset them: it read "has failed 0 times over 4m".
func TestHeadQuestionAfterAReplay(t *testing.T) {
	t.Parallel()
	c := commontest.NewCommon(datafake.New(), false)
	m := replay.New(c)
	since := c.Now().Add(-4 * time.Minute)
	r := data.EndpointRow{Endpoint: &endpoint.Endpoint{ID: "ep_1", Description: "Ledger", Ordering: endpoint.OrderingFIFO},
		Health: &delivery.Health{Blocked: &delivery.BlockedHead{DeliveryID: 7, EventID: "evt_7", Attempts: 2, Since: since, LastError: "HTTP 500"}}}
	m.Head(r, false)
	if p := m.Dialog.Prompt(); !strings.Contains(p, "has failed 2 times over 4m: HTTP 500") {
		t.Fatalf("the question: %q", p)
	}
	r.Health.Blocked.Attempts = 0
	m = replay.New(c)
	m.Head(r, false)
	if p := m.Dialog.Prompt(); strings.Contains(p, "0 times") || !strings.Contains(p, "not been tried since its replay") {
		t.Fatalf("the question after a replay: %q", p)
	}
}
