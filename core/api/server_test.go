package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/testkit"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, auth := range []string{"", "Bearer wrong-key-0123456789abcdef", "Basic " + testKey, "Bearer"} {
		for _, path := range []string{"/v1/endpoints", "/v1/events", "/v1/deliveries", "/v1/nowhere"} {
			r := b.do(t, "GET", path, nil, "Authorization", auth)
			r.wantError(t, http.StatusUnauthorized, "unauthorized")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		}
	}
	// Either configured key works.
	b.do(t, "GET", "/v1/endpoints", nil, "Authorization", "Bearer other-key-0123456789abcdef").want(t, http.StatusOK, nil)
	// No key needed here.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		b.do(t, "GET", path, nil, "Authorization", "").want(t, http.StatusOK, nil)
	}
}

func TestLockedWithoutKeys(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, setupOpts{keys: []string{}, tune: func(o *api.Options) { o.Logger = logger }})
	if n := strings.Count(logs.String(), "API is locked"); n != 1 {
		t.Fatalf("logged the lock %d times: %s", n, logs.String())
	}
	b.do(t, "GET", "/v1/endpoints", nil).wantError(t, http.StatusUnauthorized, "unauthorized", "api.keys")
	b.do(t, "GET", "/healthz", nil).want(t, http.StatusOK, nil)
	if n := strings.Count(logs.String(), "API is locked"); n != 1 {
		t.Fatalf("logged the lock %d times", n)
	}
}

func TestRequestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, setupOpts{tune: func(o *api.Options) { o.Logger = logger }})
	var ep struct{ ID, Secret string }
	b.do(t, "POST", "/v1/endpoints", map[string]string{"url": "https://example.com/x"}).want(t, http.StatusCreated, &ep)
	b.do(t, "POST", "/v1/endpoints/"+ep.ID+"/rotate-secret", nil).want(t, http.StatusOK, nil)
	out := logs.String()
	if !strings.Contains(out, "path=/v1/endpoints") || !strings.Contains(out, "status=201") {
		t.Fatalf("no request log: %s", out)
	}
	if strings.Contains(out, testKey) || strings.Contains(out, ep.Secret) || strings.Contains(out, "whsec_") {
		t.Fatalf("logs hold a key or secret: %s", out)
	}
}

// TestRequestLogNamesTheClient: behind a trusted proxy the request log
// names the forwarded client; otherwise the peer, whatever the headers say.
func TestRequestLogNamesTheClient(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted loopback proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, "remote=2001:db8::9"},
		{"untrusted peer", nil, "remote=127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.SyncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			b := setup(t, setupOpts{tune: func(o *api.Options) { o.Logger, o.TrustedProxies = logger, c.trusted }})
			b.do(t, "GET", "/healthz", nil, "X-Forwarded-For", "2001:db8::9").want(t, http.StatusOK, nil)
			if out := logs.String(); !strings.Contains(out, "path=/healthz") || !strings.Contains(out, c.want+"\n") {
				t.Fatalf("request log lacks %q:\n%s", c.want, out)
			}
		})
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.do(t, "GET", "/v1/nowhere", nil).wantError(t, http.StatusNotFound, "not_found", "/v1/nowhere")
	b.do(t, "GET", "/nowhere", nil).wantError(t, http.StatusNotFound, "not_found")
	b.do(t, "GET", "/", nil).wantError(t, http.StatusNotFound, "not_found")
	// Not redirected (with an HTML body) to the clean path: named.
	b.do(t, "GET", "//v1//endpoints", nil).wantError(t, http.StatusNotFound, "not_found", "write the path as /v1/endpoints")
	b.do(t, "POST", "/v1/./events", map[string]any{"type": "a.b", "data": map[string]any{}}).
		wantError(t, http.StatusNotFound, "not_found", "write the path as /v1/events")
	r := b.do(t, "PUT", "/v1/endpoints", nil)
	r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed", "PUT")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
	b.do(t, "DELETE", "/v1/events/evt_1", nil).wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
	b.do(t, "POST", "/healthz", nil).wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	var h map[string]string
	b.do(t, "GET", "/healthz", nil).want(t, http.StatusOK, &h)
	if h["status"] != "ok" || h["version"] != "test" {
		t.Fatalf("healthz %v", h)
	}
	b.do(t, "GET", "/readyz", nil).want(t, http.StatusOK, &h)
	if h["status"] != "ready" {
		t.Fatalf("readyz %v", h)
	}

	// A schema behind the binary's migrations is not ready.
	ctx := context.Background()
	if _, err := b.pool.Exec(ctx, `UPDATE hookd.schema_version SET version = version - 1`); err != nil {
		t.Fatal(err)
	}
	b.do(t, "GET", "/readyz", nil).wantError(t, http.StatusServiceUnavailable, "unavailable", "schema", "hookd migrate")
	b.do(t, "GET", "/healthz", nil).want(t, http.StatusOK, nil)

	// An unreachable database is not ready; the process is still alive.
	b.pool.Close()
	b.do(t, "GET", "/readyz", nil).wantError(t, http.StatusServiceUnavailable, "unavailable", "database")
	b.do(t, "GET", "/healthz", nil).want(t, http.StatusOK, nil)
}

var publishedRE = regexp.MustCompile(`(?m)^hookd_events_published_total (\d+)`)

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	scrape := func() int {
		t.Helper()
		r := b.do(t, "GET", "/metrics", nil, "Authorization", "").want(t, http.StatusOK, nil)
		m := publishedRE.FindSubmatch(r.body)
		if m == nil {
			t.Fatalf("no hookd_events_published_total in %s", r.body)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	if n := scrape(); n != 0 {
		t.Fatalf("published %d before publishing", n)
	}
	b.do(t, "POST", "/v1/events", `{"id": "m1", "type": "a.b"}`).want(t, http.StatusAccepted, nil)
	b.do(t, "POST", "/v1/events", `{"id": "m2", "type": "a.b"}`).want(t, http.StatusAccepted, nil)
	b.do(t, "POST", "/v1/events", `{"id": "m1", "type": "a.b"}`).want(t, http.StatusOK, nil) // a duplicate is not counted
	if n := scrape(); n != 2 {
		t.Fatalf("published %d, want 2", n)
	}
}

func TestIntakeAndExtraRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noSpec: true, tune: func(o *api.Options) {
		o.Intake = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"path": r.URL.Path})
		})
		o.Extra = func(mux *http.ServeMux) {
			mux.HandleFunc("GET /v1/sources", func(w http.ResponseWriter, r *http.Request) {
				httpx.WriteJSON(w, http.StatusOK, map[string]any{"sources": []string{}})
			})
		}
	}})
	var got map[string]string
	b.do(t, "POST", "/in/stripe", `{}`, "Authorization", "").want(t, http.StatusAccepted, &got)
	if got["path"] != "/in/stripe" {
		t.Fatalf("intake saw %v", got)
	}
	b.do(t, "GET", "/v1/sources", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/sources", nil, "Authorization", "").wantError(t, http.StatusUnauthorized, "unauthorized")
	b.do(t, "DELETE", "/v1/sources", nil).wantError(t, http.StatusMethodNotAllowed, "method_not_allowed")
}
