package inbox_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/outbox"
)

// apiServer mounts the intake routes in the API as `hookd serve` does.
func apiServer(t *testing.T, b *bundle, deps inbox.APIDeps) *httptest.Server {
	t.Helper()
	deps.Pool, deps.Handler = b.pool, b.handler
	srv := httptest.NewServer(api.New(api.Options{
		Pool: b.pool, Publisher: outbox.NewPublisher(b.pool, outbox.Options{}), APIKeys: []string{apiKey},
		Intake: b.handler,
		Extra:  func(mux *http.ServeMux) { inbox.APIRoutes(mux, deps) },
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestIntakeAPIRefusesBadInputNamingTheField: bytes PostgreSQL cannot
// store and values outside the documented limits are 400s naming the
// field, and nothing is written.
func TestIntakeAPIRefusesBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	srv := apiServer(t, b, inbox.APIDeps{})
	long := strings.Repeat("x", 2000)
	for _, c := range []struct{ method, path, body, field string }{
		{"POST", "/v1/sources", `{"name":"a","scheme":"hookd","secrets":["secret-with-a-nul-\u0000-in-it"]}`, "secrets"},
		{"POST", "/v1/sources", `{"name":"a","scheme":"hookd","secrets":["x"]}`, "secrets"},
		{"POST", "/v1/sources", `{"name":"a","scheme":"hookd","secrets":["` + long + `"]}`, "secrets"},
		{"POST", "/v1/sources", `{"name":"a","scheme":"hookd","secrets":["0123456789abcdef"],"tolerance":"100000h"}`, "tolerance"},
		{"GET", "/v1/sources/%00", "", "name"},
		{"GET", "/v1/sources/%ff", "", "name"},
		{"GET", "/v1/sources/%C0%80", "", "name"},
		{"PATCH", "/v1/sources/%00", `{"tolerance":"1m"}`, "name"},
		{"DELETE", "/v1/sources/%ff", "", "name"},
		{"GET", "/v1/inbox?source=%00", "", "source"},
		{"GET", "/v1/inbox?source=%ff", "", "source"},
		{"GET", "/v1/inbox?source=%C0%80", "", "source"},
		{"POST", "/v1/inbox/replay", `{"source":"a\u0000"}`, "source"},
	} {
		var e struct {
			Error struct{ Code, Message string }
		}
		if s := apiCall(t, srv, c.method, c.path, c.body, &e); s != http.StatusBadRequest || e.Error.Code != "invalid_input" ||
			!strings.HasPrefix(e.Error.Message, c.field+":") {
			t.Errorf("%s %s: %d %+v, want 400 naming %s", c.method, c.path, s, e, c.field)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.sources`); n != 0 {
		t.Fatalf("%d sources stored", n)
	}
}
