package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/testkit"
)

// TestOpenAPIDocument: the document is OpenAPI 3.1 and valid (kin-openapi
// loads and validates it), is served without a key exactly as embedded,
// and its JSON says what its YAML says.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	s := spec(t)
	if s.doc.OpenAPI != "3.1.0" || !s.doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1.0", s.doc.OpenAPI)
	}
	b := setup(t, setupOpts{})
	r := b.do(t, "GET", api.OpenAPIPath, nil, "Authorization", "").want(t, http.StatusOK, nil)
	if !bytes.Equal(r.body, api.OpenAPIJSON) || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("served %d bytes of %s, want the embedded document", len(r.body), r.header.Get("Content-Type"))
	}
	var fromYAML, fromJSON any
	if err := yaml.Unmarshal(api.OpenAPIYAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(j, &fromYAML)
	if err := json.Unmarshal(api.OpenAPIJSON, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Fatal("the served JSON differs from openapi.yaml")
	}
}

// servedRoutes lists "METHOD /path" of every route hookd serves: the
// API's own (api.Routes), the intake management routes (read from the
// patterns core/inbox registers) and the intake itself.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range api.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	src, err := os.ReadFile("../inbox/api.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`mux\.HandleFunc\("([A-Z]+ /v1/[^"]+)"`).FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	if len(out) < len(api.Routes())+5 {
		t.Fatalf("found only %d routes: the scan of core/inbox is broken", len(out))
	}
	return append(out, "POST /in/{source}")
}

// TestOpenAPIDescribesEveryRoute: every route served has an operation in
// the document, every operation is served, and the security of each says
// who may call it: tenant routes list the tenant token, public ones none.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	s := spec(t)
	served := servedRoutes(t)
	ops := s.operations()
	for _, r := range served {
		if !slices.Contains(ops, r) {
			t.Errorf("%s is served but not in openapi.yaml", r)
		}
	}
	for _, op := range ops {
		if !slices.Contains(served, op) {
			t.Errorf("openapi.yaml describes %s, which is not served", op)
		}
	}
	for _, r := range api.Routes() {
		op := s.doc.Paths.Find(r.Path).GetOperation(r.Method)
		if op == nil {
			continue
		}
		var schemes []string
		sec := s.doc.Security
		if op.Security != nil {
			sec = *op.Security
		}
		for _, req := range sec {
			for name := range req {
				schemes = append(schemes, name)
			}
		}
		slices.Sort(schemes)
		want := []string{"apiKey"}
		switch {
		case r.Public:
			want = nil
		case r.Tenant:
			want = []string{"apiKey", "tenantToken"}
		}
		if !slices.Equal(schemes, want) {
			t.Errorf("%s %s: security %v, want %v", r.Method, r.Path, schemes, want)
		}
	}
}

// TestOpenAPIEveryRoute sends a valid request to every operation of the
// document (admin and tenant routes, the intake and its management, the
// public ones), with the errors a client meets most, and checks each
// request and answer against it; every operation must have been answered.
func TestOpenAPIEveryRoute(t *testing.T) {
	t.Parallel()
	var intake *inbox.Handler
	b := setup(t, setupOpts{tune: func(o *api.Options) {
		intake = inbox.NewHandler(o.Pool, inbox.HandlerOptions{Publisher: o.Publisher})
		mux := http.NewServeMux()
		mux.Handle("POST /in/{source}", intake)
		o.Intake = mux
	}})
	b.strict = true
	ctx := context.Background()

	// Tenants and tokens.
	b.do(t, "PUT", "/v1/tenants/cus_A", map[string]any{"name": "A", "metadata": map[string]any{"plan": "pro"}}).want(t, http.StatusCreated, nil)
	b.do(t, "PUT", "/v1/tenants/cus_A", map[string]any{"name": "A Inc"}).want(t, http.StatusOK, nil)
	b.do(t, "PUT", "/v1/tenants/cus_B", nil).want(t, http.StatusCreated, nil)
	b.do(t, "GET", "/v1/tenants?limit=1", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/tenants/cus_A", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/tenants/cus_Z", nil).want(t, http.StatusNotFound, nil)
	tok := b.token(t, "cus_A")
	var spare tenantToken
	b.do(t, "POST", "/v1/tenants/cus_A/tokens", map[string]any{"name": "spare", "expires_in": "720h"}).want(t, http.StatusCreated, &spare)
	b.do(t, "GET", "/v1/tenants/cus_A/tokens", nil).want(t, http.StatusOK, nil)
	b.do(t, "DELETE", "/v1/tenants/cus_A/tokens/"+spare.ID, nil).want(t, http.StatusNoContent, nil)

	// Endpoints, with an API key and with the token.
	var fifo endpoint.Endpoint
	b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://a.example/fifo", "tenant": "cus_A", "ordering": "fifo",
		"event_types": []string{"pay.*"}, "headers": map[string]string{"X-Team": "a"}, "signatures": "v1,v1a", "timeout": "5s"}).
		want(t, http.StatusCreated, &fifo)
	var mine endpoint.Endpoint
	b.as(t, tok, "POST", "/v1/endpoints", map[string]any{"url": "https://a.example/mine", "event_types": []string{"pay.*"}}).
		want(t, http.StatusCreated, &mine)
	b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://a.example/", "tenant": "cus_none"}).want(t, http.StatusNotFound, nil)
	b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1/"}).want(t, http.StatusBadRequest, nil)
	plain := b.endpoint(t, "pay.*")
	b.do(t, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/endpoints?tenant=cus_A", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "PATCH", "/v1/endpoints/"+mine.ID, map[string]any{"description": "mine", "rate_limit": 5}).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/endpoints/"+mine.ID+"/rotate-secret", map[string]any{"overlap": "1h"}).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/endpoints/"+mine.ID+"/disable", map[string]any{"reason": "maintenance"}).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/endpoints/"+mine.ID+"/enable", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "GET", "/v1/endpoints/"+plain.ID, nil).want(t, http.StatusNotFound, nil)

	// Events, one at a time and in a batch.
	b.do(t, "POST", "/v1/events", map[string]any{"id": "e1", "type": "pay.ok", "tenant": "cus_A", "data": map[string]int{"n": 1}}).
		want(t, http.StatusAccepted, nil)
	b.do(t, "POST", "/v1/events", map[string]any{"id": "e1", "type": "pay.ok", "tenant": "cus_A"}).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/events", map[string]any{"id": "e1", "type": "pay.ok"}).want(t, http.StatusConflict, nil)
	b.do(t, "POST", "/v1/events", map[string]any{"type": "pay.notice", "broadcast": true}, "Idempotency-Key", "notice-1").
		want(t, http.StatusAccepted, nil)
	b.do(t, "POST", "/v1/events", map[string]any{"type": "pay.ok", "tenant": "cus_none"}).want(t, http.StatusNotFound, nil)
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{
		{"id": "e2", "type": "pay.ok", "tenant": "cus_A"}, {"id": "e3", "type": "pay.ok"}, {"id": "e1", "type": "pay.ok", "tenant": "cus_A"}}}).
		want(t, http.StatusAccepted, nil)
	b.do(t, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{{"id": "e3", "type": "pay.ok"}}}).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/events/batch", map[string]any{"events": []map[string]any{{"type": "pay.ok"}}}).want(t, http.StatusForbidden, nil)
	testkit.Eventually(t, "the events in the feed", func() bool {
		var page feedAnswer
		b.as(t, tok, "GET", "/v1/events?limit=10&type=pay.*", nil).want(t, http.StatusOK, &page)
		return len(page.Events) == 3
	})
	b.do(t, "GET", "/v1/events?tenant=cus_A&after=", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "GET", "/v1/events/e1", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/events/e3", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "GET", "/v1/events/e3", nil).want(t, http.StatusNotFound, nil)

	// Deliveries: a failing fifo head blocks its line and opens the
	// breaker; the others die.
	b.failAll(t, delivery.Policy{BreakerFailures: 1, BreakerProbeInterval: time.Hour, BreakerProbeMax: time.Hour})
	var shown endpointWithHealth
	b.as(t, tok, "GET", "/v1/endpoints/"+fifo.ID, nil).want(t, http.StatusOK, &shown)
	if shown.Health == nil || shown.Health.Blocked == nil || shown.Health.Breaker.State != delivery.BreakerOpen {
		t.Fatalf("fifo endpoint's health: %+v", shown.Health)
	}
	var page deliveryPage
	b.as(t, tok, "GET", "/v1/deliveries?state=dead&limit=10", nil).want(t, http.StatusOK, &page)
	b.do(t, "GET", "/v1/deliveries?tenant=cus_A&event_type=pay.*&since=2020-01-01T00:00:00Z", nil).want(t, http.StatusOK, nil)
	if len(page.Deliveries) == 0 {
		t.Fatal("no dead delivery of A's")
	}
	dead := strconv.FormatInt(page.Deliveries[0].ID, 10)
	head := strconv.FormatInt(shown.Health.Blocked.DeliveryID, 10)
	b.as(t, tok, "GET", "/v1/deliveries/"+dead, nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/deliveries/"+dead+"/replay", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/deliveries/"+dead+"/replay", nil).want(t, http.StatusOK, nil) // pending: due now again
	b.as(t, tok, "POST", "/v1/deliveries/"+head+"/skip", nil).want(t, http.StatusOK, nil)
	b.as(t, tok, "POST", "/v1/deliveries/"+head+"/skip", nil).want(t, http.StatusConflict, nil)
	b.as(t, tok, "POST", "/v1/replay", map[string]any{"dry_run": true}).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/replay", map[string]any{"tenant": "cus_A", "state": "dead", "since": "2020-01-01T00:00:00Z"}).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/deliveries/999999", nil).want(t, http.StatusNotFound, nil)

	// Intake: a source, a signed webhook, the inbox.
	secret, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, "POST", "/v1/sources", map[string]any{"name": "shop", "scheme": "standard", "secrets": []string{secret}}).want(t, http.StatusCreated, nil)
	b.do(t, "GET", "/v1/sources", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/sources/shop?show_secrets=true", nil).want(t, http.StatusOK, nil)
	b.do(t, "PATCH", "/v1/sources/shop", map[string]any{"tolerance": "10m"}).want(t, http.StatusOK, nil)
	body := []byte(`{"type":"order.paid","data":{}}`)
	h := http.Header{}
	if err := signing.Sign(h, "in_1", time.Now(), body, []string{secret}); err != nil {
		t.Fatal(err)
	}
	hdr := []string{"Authorization", ""}
	for k, v := range h {
		hdr = append(hdr, k, v[0])
	}
	b.do(t, "POST", "/in/shop", string(body), hdr...).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/in/nobody", string(body), hdr...).want(t, http.StatusNotFound, nil)
	var inboxPage struct {
		Events []struct{ ID int64 }
	}
	b.do(t, "GET", "/v1/inbox?source=shop&limit=5", nil).want(t, http.StatusOK, &inboxPage)
	if len(inboxPage.Events) != 1 {
		t.Fatalf("inbox %+v", inboxPage)
	}
	in := fmt.Sprint(inboxPage.Events[0].ID)
	b.do(t, "GET", "/v1/inbox/"+in, nil).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/inbox/"+in+"/replay", nil).want(t, http.StatusBadRequest, nil) // not dead
	if _, err := b.pool.Exec(ctx, `UPDATE hookd.inbox SET state = 'dead' WHERE id = $1`, inboxPage.Events[0].ID); err != nil {
		t.Fatal(err)
	}
	b.do(t, "POST", "/v1/inbox/"+in+"/replay", nil).want(t, http.StatusOK, nil)
	b.do(t, "POST", "/v1/inbox/replay", map[string]any{"source": "shop", "dry_run": true}).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/intake/stats?since=1h", nil).want(t, http.StatusOK, nil)
	b.do(t, "DELETE", "/v1/sources/shop", nil).want(t, http.StatusNoContent, nil)
	b.do(t, "GET", "/v1/sources/shop", nil).want(t, http.StatusNotFound, nil)

	// The routes outside a token's slice, and credentials refused.
	b.as(t, tok, "GET", "/v1/tenants", nil).want(t, http.StatusForbidden, nil)
	b.as(t, tok, "POST", "/v1/events", map[string]any{"type": "pay.ok"}).want(t, http.StatusForbidden, nil)
	b.as(t, tok, "GET", "/v1/sources", nil).want(t, http.StatusForbidden, nil)
	b.do(t, "GET", "/v1/endpoints", nil, "Authorization", "Bearer wrong-key-0123456789").want(t, http.StatusUnauthorized, nil)

	// Deletion and erasure.
	b.as(t, tok, "DELETE", "/v1/endpoints/"+mine.ID, nil).want(t, http.StatusNoContent, nil)
	b.do(t, "DELETE", "/v1/tenants/cus_A", nil).want(t, http.StatusOK, nil)
	b.do(t, "DELETE", "/v1/tenants/cus_A", nil).want(t, http.StatusNotFound, nil)

	// Public routes.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", api.OpenAPIPath} {
		b.do(t, "GET", p, nil, "Authorization", "").want(t, http.StatusOK, nil)
	}

	for _, op := range spec(t).operations() {
		if _, ok := b.covered.Load(op); !ok {
			t.Errorf("%s was not answered in a way that matched openapi.yaml", op)
		}
	}
}

// failAll claims every due delivery and fails each: a fifo head waits an
// hour for its next attempt (blocking its line), the others die.
func (b *bundle) failAll(t *testing.T, policy delivery.Policy) {
	t.Helper()
	ctx := context.Background()
	c, err := delivery.Claim(ctx, b.pool, delivery.ClaimParams{Policy: policy, Limit: 1000, Lease: time.Minute, Worker: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var results []delivery.Result
	for _, j := range c.Jobs {
		r := delivery.ResultOf(j, "test")
		r.StartedAt, r.Duration = time.Now(), time.Millisecond
		r.RequestHeaders, r.ResponseStatus, r.ResponseBody = http.Header{"Webhook-Id": {j.EventID}}, 500, "down"
		r.ErrorClass, r.Error, r.Next = delivery.ClassHTTPStatus, "HTTP 500", delivery.StateDead
		if strings.Contains(j.URL, "/fifo") {
			r.Next, r.NextAttemptAt = delivery.StateRetrying, time.Now().Add(time.Hour)
		}
		results = append(results, r)
	}
	if _, err := delivery.Complete(ctx, b.pool, policy, results); err != nil {
		t.Fatal(err)
	}
}

// TestReadmeListsEveryRoute: the README's API tables list every route
// served, saying for each /v1 route whether a tenant token may use it.
func TestReadmeListsEveryRoute(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	tenant, public := map[string]bool{}, map[string]bool{}
	for _, r := range api.Routes() {
		tenant[r.Method+" "+r.Path] = r.Tenant
		public[r.Method+" "+r.Path] = r.Public
	}
	for _, route := range servedRoutes(t) {
		method, path, _ := strings.Cut(route, " ")
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(method+" "+path) + "[`?\\[][^|]*\\|( (tenant|key) \\|)?")
		m := row.FindStringSubmatch(readme)
		if m == nil {
			t.Errorf("README.md has no row for %s", route)
			continue
		}
		if !strings.HasPrefix(path, "/v1/") || public[route] {
			continue
		}
		want := "key"
		if tenant[route] {
			want = "tenant"
		}
		if m[2] != want {
			t.Errorf("README.md says %q for %s, want %q", m[2], route, want)
		}
	}
}
