package api_test

import (
	"net/http"
	"testing"

	"github.com/hookd/hookd/core/dbtest"
)

// TestDatabaseDownAnswers503: while the database refuses connections and
// has dropped the pool's, every route that needs it answers 503
// unavailable with Retry-After, not 500; once it is back, they work.
func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	restore := dbtest.Outage(t, b.pool.Config().ConnConfig.Database)

	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/endpoints", ""},
		{"GET", "/v1/endpoints/" + ep.ID, ""},
		{"POST", "/v1/endpoints", `{"url":"https://example.com/x"}`},
		{"PATCH", "/v1/endpoints/" + ep.ID, `{"description":"x"}`},
		{"POST", "/v1/events", `{"type":"a.b"}`},
		{"GET", "/v1/events", ""},
		{"GET", "/v1/events/evt_1", ""},
		{"GET", "/v1/deliveries", ""},
		{"GET", "/v1/deliveries/1", ""},
		{"POST", "/v1/replay", `{"dry_run":true}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := b.do(t, c.method, c.path, body)
		r.wantError(t, http.StatusServiceUnavailable, "unavailable", "database")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}

	restore()
	b.do(t, "GET", "/v1/endpoints/"+ep.ID, nil).want(t, http.StatusOK, nil)
}
