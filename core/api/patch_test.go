package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/hookd/hookd/core/endpoint"
)

// TestConcurrentPatchesKeepEveryChange: PATCHes of different fields sent
// at the same moment both stick; none is undone by the other's write of
// the whole row.
func TestConcurrentPatchesKeepEveryChange(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	for round := range 30 {
		desc := fmt.Sprintf("round %d", round)
		url := fmt.Sprintf("https://example.com/r%d", round)
		rate := round + 1
		bodies := []string{
			fmt.Sprintf(`{"description":%q}`, desc),
			fmt.Sprintf(`{"rate_limit":%d}`, rate),
			fmt.Sprintf(`{"url":%q}`, url),
			fmt.Sprintf(`{"max_in_flight":%d}`, rate),
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, body := range bodies {
			wg.Go(func() {
				<-start
				b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, body).want(t, http.StatusOK, nil)
			})
		}
		close(start)
		wg.Wait()
		var got endpoint.Endpoint
		b.do(t, "GET", "/v1/endpoints/"+ep.ID, nil).want(t, http.StatusOK, &got)
		if got.Description != desc || got.RateLimit != rate || got.URL != url || got.MaxInFlight != rate {
			t.Fatalf("round %d lost an update: description %q rate_limit %d url %q max_in_flight %d",
				round, got.Description, got.RateLimit, got.URL, got.MaxInFlight)
		}
	}
}

// A PATCH that names no field to change answers the endpoint as it is and
// writes nothing: it bumped updated_at and was audited as an edit. A
// field given as null is no field left out: the schema takes no null, and
// answering 200 for {"url":null} said it had been done.
func TestPatchOfNothingChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	var got endpoint.Endpoint
	b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{}`).want(t, http.StatusOK, &got)
	if got.ID != ep.ID || got.URL != ep.URL || !got.UpdatedAt.Equal(ep.UpdatedAt) {
		t.Errorf("PATCH {} answered %+v, want the endpoint unchanged", got)
	}
	for body, want := range map[string]string{
		`{"url":null}`:                           "url: must not be null",
		`{"enabled":null}`:                       "enabled: must not be null",
		`{"headers":null}`:                       "headers: must not be null",
		`{"timeout":null}`:                       "timeout: must not be null",
		`{"rate_limit":null}`:                    "rate_limit: must not be null",
		`{"event_types":null,"enabled":null}`:    "event_types: must not be null",
		`{"description":"x","event_types":null}`: "event_types: must not be null",
		`{"headers":{"X-A":"1","X-B":null}}`:     "headers.X-B: must not be null",
		`{"event_types":["a",null]}`:             "event_types[1]: must not be null",
		`{"url":""}`:                             "url: is empty; it must be an absolute http:// or https:// URL",
		`null`:                                   "body: must be a JSON object, not null",
	} {
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, body).wantError(t, http.StatusBadRequest, "invalid_input", want)
	}
	b.do(t, "PATCH", "/v1/endpoints/ep_none", `{}`).wantError(t, http.StatusNotFound, "not_found")
	b.do(t, "GET", "/v1/endpoints/"+ep.ID, nil).want(t, http.StatusOK, &got)
	if !got.UpdatedAt.Equal(ep.UpdatedAt) {
		t.Errorf("updated_at moved from %s to %s", ep.UpdatedAt, got.UpdatedAt)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.audit_log WHERE action = 'edit'`); n != 0 {
		t.Errorf("%d edits audited for PATCHes that changed nothing", n)
	}
}
