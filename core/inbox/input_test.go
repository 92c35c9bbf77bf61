package inbox_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
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
		// encoding/json would store U+FFFD in place of the byte: a secret
		// that never verifies.
		{"POST", "/v1/sources", "{\"name\":\"a\",\"scheme\":\"stripe\",\"secrets\":[\"aaaaaaaaaaaaaaa\xff\"]}", "secrets[0]"},
		{"POST", "/v1/sources", `{"name":"a","scheme":"hookd","secrets":["` + long + `"]}`, "secrets"},
		{"POST", "/v1/sources", `{"name":"a","scheme":"hookd","secrets":["0123456789abcdef"],"tolerance":"100000h"}`, "tolerance"},
		{"GET", "/v1/sources/%00", "", "name"},
		{"GET", "/v1/sources/%ff", "", "name"},
		{"GET", "/v1/sources/%C0%80", "", "name"},
		{"PATCH", "/v1/sources/%00", `{"tolerance":"1m"}`, "name"},
		{"DELETE", "/v1/sources/%ff", "", "name"},
		{"GET", "/v1/sources/a?show_secrets=yes", "", "show_secrets"},
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

// TestForwardTargetsOfAPISourcesGoThroughTheGuard: a source made through
// the API forwards through the address guard, so a forward_to aimed at a
// refused address is refused when it is set, naming
// delivery.allowed_networks; an allowed network is accepted.
func TestForwardTargetsOfAPISourcesGoThroughTheGuard(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	srv := apiServer(t, b, inbox.APIDeps{AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	const secret = `"secrets":["0123456789abcdef"]`
	var e struct {
		Error struct{ Code, Message string }
	}
	for _, to := range []string{"http://10.0.0.1/in", "http://169.254.169.254/", "http://[::1]/"} {
		if s := apiCall(t, srv, "POST", "/v1/sources", `{"name":"a","scheme":"hookd",`+secret+`,"forward_to":"`+to+`"}`, &e); s != 400 ||
			!strings.HasPrefix(e.Error.Message, "forward_to:") || !strings.Contains(e.Error.Message, "delivery.allowed_networks") {
			t.Errorf("forward_to %s: %d %+v", to, s, e)
		}
	}
	if s := apiCall(t, srv, "POST", "/v1/sources", `{"name":"a","scheme":"hookd",`+secret+`,"forward_to":"http://127.0.0.1:9/in"}`, nil); s != 201 {
		t.Fatalf("allowed forward_to: %d", s)
	}
	if s := apiCall(t, srv, "PATCH", "/v1/sources/a", `{"forward_to":"http://192.168.1.1/in"}`, &e); s != 400 ||
		!strings.Contains(e.Error.Message, "delivery.allowed_networks") {
		t.Errorf("patched forward_to: %d %+v", s, e)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.endpoints WHERE url = 'http://127.0.0.1:9/in' AND NOT trusted`); n != 1 {
		t.Fatalf("forward endpoints: %d, want the one allowed, untrusted", n)
	}
}
