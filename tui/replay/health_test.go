package replay_test

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/data"
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
