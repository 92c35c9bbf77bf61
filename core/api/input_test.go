package api_test

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd/core/testkit"
)

// TestPublishOutOfRangeCreatedKeepsTheFeedWorking: a "created" time that
// lands outside years 0000-9999 once stored (9999-12-31T23:59:59-01:00 is
// year 10000 in UTC) is refused naming the field, nothing is stored, and
// the feed and the event lookups keep answering for everyone.
func TestPublishOutOfRangeCreatedKeepsTheFeedWorking(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.endpoint(t)
	b.do(t, "POST", "/v1/events", `{"id":"evt_ok","type":"a.b"}`).want(t, http.StatusAccepted, nil)

	b.do(t, "POST", "/v1/events", `{"id":"evt_far","type":"a.b","created":"9999-12-31T23:59:59-01:00"}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "created")
	if n := b.countEvents(t, "evt_far"); n != 0 {
		t.Fatalf("the refused event was stored (%d rows)", n)
	}

	// The feed shows an event once every older transaction on the server
	// has ended (other tests share it), so poll.
	testkit.Eventually(t, "the feed to show evt_ok", func() bool {
		var page feedAnswer
		b.do(t, "GET", "/v1/events", nil).want(t, http.StatusOK, &page)
		if len(page.Events) > 1 || (len(page.Events) == 1 && page.Events[0].ID != "evt_ok") {
			t.Fatalf("feed %+v", page)
		}
		return len(page.Events) == 1
	})
	b.do(t, "GET", "/v1/events/evt_ok", nil).want(t, http.StatusOK, nil)
}
