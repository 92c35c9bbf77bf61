package inbox_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/outbox"
)

const apiKey = "inbox-test-key-0123456789"

// apiCall sends an authorised request and decodes a JSON answer into v.
func apiCall(t *testing.T, srv *httptest.Server, method, path, body string, v any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if v != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s %s: %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// TestAPI drives the intake routes mounted in the API as `hookd serve`
// mounts them: /v1 behind the bearer key, /in/ open.
func TestAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, inbox.HandlerOptions{})
	srv := httptest.NewServer(api.New(api.Options{
		Pool: b.pool, Publisher: outbox.NewPublisher(b.pool, outbox.Options{}), APIKeys: []string{apiKey},
		Intake: b.handler,
		Extra:  func(mux *http.ServeMux) { inbox.APIRoutes(mux, inbox.APIDeps{Pool: b.pool, Handler: b.handler}) },
	}))
	t.Cleanup(srv.Close)

	var created map[string]any
	if s := apiCall(t, srv, "POST", "/v1/sources", `{"name":"std","scheme":"standard","secrets":["`+secretA+`"]}`, &created); s != 201 {
		t.Fatalf("create: %d %v", s, created)
	}
	if created["secrets"] == nil || created["secret_count"] != 1.0 {
		t.Fatalf("creation shows the secrets: %v", created)
	}
	var bad map[string]map[string]string
	if s := apiCall(t, srv, "POST", "/v1/sources", `{"name":"x","scheme":"nope","secrets":["s-0123456789abcdef"]}`, &bad); s != 400 ||
		!strings.Contains(bad["error"]["message"], "scheme") {
		t.Fatalf("bad scheme: %d %v", s, bad)
	}
	// A taken name is a 409 naming the field, not the database's words.
	bad = nil
	if s := apiCall(t, srv, "POST", "/v1/sources", `{"name":"std","scheme":"standard","secrets":["`+secretA+`"]}`, &bad); s != 409 ||
		bad["error"]["message"] != `name: "std" already exists` {
		t.Fatalf("taken name: %d %v", s, bad)
	}
	var list struct{ Sources []map[string]any }
	if s := apiCall(t, srv, "GET", "/v1/sources", "", &list); s != 200 || len(list.Sources) != 1 || list.Sources[0]["secrets"] != nil {
		t.Fatalf("list: %d %+v", s, list)
	}
	var shown map[string]any
	apiCall(t, srv, "GET", "/v1/sources/std?show_secrets=true", "", &shown)
	if shown["secrets"] == nil {
		t.Fatalf("show_secrets: %v", shown)
	}
	if s := apiCall(t, srv, "PATCH", "/v1/sources/std", `{}`, &shown); s != 200 || shown["name"] != "std" {
		t.Fatalf("a PATCH of nothing: %d %v, want the source as it is", s, shown)
	}
	if s := apiCall(t, srv, "PATCH", "/v1/sources/std", `{"tolerance":"1m"}`, &shown); s != 200 || shown["tolerance"] != "1m0s" {
		t.Fatalf("patch: %d %v", s, shown)
	}

	// An event through /in/, then seen through /v1/inbox.
	if a := b.post(t, "std", standardSigned(t, "m1", time.Now(), `{"type":"a.b"}`, secretA)); a.status != 200 {
		t.Fatalf("intake: %v", a)
	}
	// The same handler mounted by the API at /in/ (no path pattern).
	viaAPI := standardSigned(t, "m1", time.Now(), `{"type":"a.b"}`, secretA)
	req, _ := http.NewRequest("POST", srv.URL+"/in/std", strings.NewReader(string(viaAPI.body)))
	req.Header = viaAPI.header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("intake through the API server: %d", resp.StatusCode)
	}
	var page struct {
		Events []map[string]any
	}
	if s := apiCall(t, srv, "GET", "/v1/inbox?source=std&state=pending", "", &page); s != 200 || len(page.Events) != 1 {
		t.Fatalf("inbox list: %d %+v", s, page)
	}
	id := int64(page.Events[0]["id"].(float64))
	var ev map[string]any
	if s := apiCall(t, srv, "GET", fmt.Sprintf("/v1/inbox/%d", id), "", &ev); s != 200 || ev["body"] != `{"type":"a.b"}` || ev["headers"] == nil {
		t.Fatalf("inbox get: %d %v", s, ev)
	}
	if s := apiCall(t, srv, "POST", fmt.Sprintf("/v1/inbox/%d/replay", id), "", &bad); s != 400 || !strings.Contains(bad["error"]["message"], "only dead") {
		t.Fatalf("replay of a pending event: %d %v", s, bad)
	}
	if _, err := b.pool.Exec(t.Context(), `UPDATE hookd.inbox SET state = 'dead', attempts = 10`); err != nil {
		t.Fatal(err)
	}
	// The id in one spelling only, and a body with fields refused: the
	// replay runs for neither.
	for _, odd := range []string{"0", "+"} {
		if s := apiCall(t, srv, "POST", fmt.Sprintf("/v1/inbox/%s%d/replay", odd, id), "", &bad); s != 404 {
			t.Fatalf("replay of inbox event %s%d: %d %v, want 404", odd, id, s, bad)
		}
	}
	if s := apiCall(t, srv, "POST", fmt.Sprintf("/v1/inbox/%d/replay", id), `{"dry_run":true}`, &bad); s != 400 || !strings.Contains(bad["error"]["message"], "dry_run") {
		t.Fatalf("replay with a field: %d %v, want a 400 naming it", s, bad)
	}
	if n := b.count(t, `SELECT count(*) FROM hookd.inbox WHERE state = 'dead'`); n != 1 {
		t.Fatalf("a refused replay changed the event")
	}
	var replayed map[string]any
	if s := apiCall(t, srv, "POST", "/v1/inbox/replay", `{"source":"std"}`, &replayed); s != 200 || replayed["replayed"] != 1.0 {
		t.Fatalf("replay matching: %d %v", s, replayed)
	}
	if s := apiCall(t, srv, "GET", "/v1/inbox/999", "", &bad); s != 404 {
		t.Fatalf("unknown inbox id: %d", s)
	}
	var stats struct{ Sources []inbox.SourceStats }
	if s := apiCall(t, srv, "GET", "/v1/intake/stats?since=1h", "", &stats); s != 200 || len(stats.Sources) != 1 || stats.Sources[0].Accepted != 1 {
		t.Fatalf("stats: %d %+v", s, stats)
	}
	if s := apiCall(t, srv, "DELETE", "/v1/sources/std", "", nil); s != 204 {
		t.Fatalf("delete: %d", s)
	}
	// The handler forgot its cached copy: the source is gone at once.
	if a := b.post(t, "std", standardSigned(t, "m2", time.Now(), `{}`, secretA)); a.status != 404 {
		t.Fatalf("intake after delete: %v", a)
	}
	if s := apiCall(t, srv, "GET", "/v1/sources/std", "", &bad); s != 404 {
		t.Fatalf("get after delete: %d", s)
	}
}
