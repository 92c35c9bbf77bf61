package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/tenant"
)

// TestTenantAdmin: tenants are made with PUT (201, then 200), listed in
// pages with their counts, shown, and erased with everything of them in
// one call that answers the counts; unknown tenants are 404s naming how
// to make them; tenants are never made implicitly.
func TestTenantAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	var tn tenant.Tenant
	r := b.do(t, "PUT", "/v1/tenants/cus_42", map[string]any{"name": "Acme", "metadata": map[string]any{"plan": "pro"}}).
		want(t, http.StatusCreated, &tn)
	if tn.ID != "cus_42" || tn.Name != "Acme" || string(tn.Metadata) != `{"plan":"pro"}` || r.header.Get("Location") != "/v1/tenants/cus_42" {
		t.Fatalf("created %+v (%s)", tn, tn.Metadata)
	}
	b.do(t, "PUT", "/v1/tenants/cus_42", map[string]any{"name": "Acme Inc"}).want(t, http.StatusOK, &tn)
	if tn.Name != "Acme Inc" || string(tn.Metadata) != `{"plan":"pro"}` {
		t.Fatalf("updated %+v", tn)
	}
	// A put that changes nothing writes nothing: no newer updated_at, no
	// audit entry.
	var audits int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM hookd.audit_log`).Scan(&audits); err != nil {
		t.Fatal(err)
	}
	for _, body := range []any{nil, map[string]any{}, map[string]any{"name": "Acme Inc"}} {
		var same tenant.Tenant
		b.do(t, "PUT", "/v1/tenants/cus_42", body).want(t, http.StatusOK, &same)
		if !same.UpdatedAt.Equal(tn.UpdatedAt) || same.Name != "Acme Inc" {
			t.Errorf("PUT %v: %+v, want it unchanged (updated_at %s)", body, same, tn.UpdatedAt)
		}
	}
	// null is no field left out: the schema takes none.
	b.do(t, "PUT", "/v1/tenants/cus_42", map[string]any{"name": nil}).wantError(t, http.StatusBadRequest, "invalid_input", "name: must not be null")
	var auditsAfter int
	if err := b.pool.QueryRow(t.Context(), `SELECT count(*) FROM hookd.audit_log`).Scan(&auditsAfter); err != nil || auditsAfter != audits {
		t.Errorf("audit entries %d after puts changing nothing, %d before (%v)", auditsAfter, audits, err)
	}
	// The audit entry names what changed, not every field given.
	b.do(t, "PUT", "/v1/tenants/cus_42", map[string]any{"name": "Acme Inc", "metadata": map[string]any{"plan": "team"}}).
		want(t, http.StatusOK, nil)
	var detail string
	if err := b.pool.QueryRow(t.Context(), `SELECT detail FROM hookd.audit_log WHERE target = 'tenant cus_42' ORDER BY id DESC LIMIT 1`).
		Scan(&detail); err != nil || detail != "changed metadata" {
		t.Errorf("audit detail of a put changing metadata alone = %q, %v", detail, err)
	}
	b.do(t, "PUT", "/v1/tenants/cus_43", nil).want(t, http.StatusCreated, nil)
	// A number no float holds is still a JSON number, which jsonb keeps.
	var big tenant.Tenant
	b.do(t, "PUT", "/v1/tenants/cus_43", `{"metadata":{"n":1e400}}`).want(t, http.StatusOK, &big)
	if !strings.Contains(string(big.Metadata), "1") || !strings.Contains(string(big.Metadata), `"n"`) {
		t.Errorf("metadata kept as %s", big.Metadata)
	}
	for _, c := range []struct{ path, body, field string }{
		{"/v1/tenants/has%20space", `{}`, "id"},
		{"/v1/tenants/" + strings.Repeat("x", 129), `{}`, "id"},
		{"/v1/tenants/cus_9", `{"metadata":[1]}`, "metadata"},
		{"/v1/tenants/%2E%2E", `{}`, "id"},
		{"/v1/tenants/cus_9", `{"name":"a\u0000b"}`, "name"},
		{"/v1/tenants/cus_9", `{"nme":"x"}`, "nme"},
		// Metadata is stored as jsonb, which holds no \u0000; text that
		// would not be kept as sent is refused, as is a key given twice.
		{"/v1/tenants/cus_9", `{"metadata":{"a":"\u0000"}}`, `metadata.a: holds \u0000`},
		{"/v1/tenants/cus_9", `{"metadata":{"a":"x","b":[1,{"c":"y\u0000"}]}}`, `metadata.b[1].c: holds \u0000`},
		{"/v1/tenants/cus_9", `{"metadata":{"\u0000":1}}`, `metadata: has a key that holds \u0000`},
		{"/v1/tenants/cus_9", `{"metadata":{"a":{"b\"\u0000":1}}}`, `metadata.a: has a key that holds \u0000`},
		{"/v1/tenants/cus_9", `{"metadata":{"a":"\ud800"}}`, "metadata.a"},
		{"/v1/tenants/cus_9", "{\"metadata\":{\"k\":\"v\xff\"}}", "metadata.k"},
		{"/v1/tenants/cus_9", "{\"name\":\"ab\xffcd\"}", "name"},
		{"/v1/tenants/cus_9", `{"name":"a","name":"b"}`, "name: is given twice"},
		{"/v1/tenants/cus_9", `{"metadata":{"a":"` + strings.Repeat("x", 17000) + `"}}`, "metadata: is 17008 bytes"},
	} {
		b.do(t, "PUT", c.path, c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.field)
	}
	b.do(t, "GET", "/v1/tenants/cus_9", nil).wantError(t, http.StatusNotFound, "not_found", "cus_9")
	// An id no tenant can have is a 400, on every route, as other path ids are.
	b.do(t, "GET", "/v1/tenants/a%20b", nil).wantError(t, http.StatusBadRequest, "invalid_input", "id:")
	b.do(t, "DELETE", "/v1/tenants/%00", nil).wantError(t, http.StatusBadRequest, "invalid_input", "id:")
	b.do(t, "GET", "/v1/tenants/a%20b/tokens", nil).wantError(t, http.StatusBadRequest, "invalid_input", "id:")

	// Unknown tenants: 404 naming the tenant and how to make it.
	b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://x.example/", "tenant": "cus_none"}).
		wantError(t, http.StatusNotFound, "not_found", `"cus_none"`, "PUT /v1/tenants/cus_none")
	b.do(t, "POST", "/v1/events", map[string]any{"type": "a.b", "tenant": "cus_none"}).
		wantError(t, http.StatusNotFound, "not_found", `"cus_none"`, "PUT /v1/tenants/cus_none")
	b.do(t, "POST", "/v1/events", map[string]any{"type": "a.b", "tenant": "cus_42", "broadcast": true}).
		wantError(t, http.StatusBadRequest, "invalid_input", "broadcast")
	b.do(t, "POST", "/v1/tenants/cus_none/tokens", nil).wantError(t, http.StatusNotFound, "not_found", "cus_none")
	b.do(t, "GET", "/v1/tenants/cus_none/tokens", nil).wantError(t, http.StatusNotFound, "not_found", "cus_none")
	b.do(t, "POST", "/v1/tenants/cus_42/tokens", map[string]any{"expires_in": "soon"}).wantError(t, http.StatusBadRequest, "invalid_input", "expires_in")
	b.do(t, "POST", "/v1/tenants/cus_42/tokens", map[string]any{"expires_in": "-1h"}).wantError(t, http.StatusBadRequest, "invalid_input", "expires_in")
	// Too short and too long are told alike, with the range.
	for _, d := range []string{"0s", "87601h", "-1h", "soon"} {
		b.do(t, "POST", "/v1/tenants/cus_42/tokens", map[string]any{"expires_in": d}).wantError(t, http.StatusBadRequest, "invalid_input",
			`expires_in: "`+d+`" is not a positive duration up to 87600h (10 years), such as 720h; leave it out for a token that never expires`)
	}
	b.do(t, "POST", "/v1/tenants/cus_43/tokens", map[string]any{"expires_in": "87600h"}).want(t, http.StatusCreated, nil)
	var events int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.events`).Scan(&events); err != nil || events != 0 {
		t.Fatalf("refused requests wrote %d events (%v)", events, err)
	}
	var tenants int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.tenants`).Scan(&tenants); err != nil || tenants != 2 {
		t.Fatalf("%d tenants (%v), want the two made explicitly", tenants, err)
	}

	// Counts, and pages.
	b.do(t, "POST", "/v1/endpoints", map[string]any{"url": "https://x.example/", "tenant": "cus_42"}).want(t, http.StatusCreated, nil)
	b.do(t, "POST", "/v1/events", map[string]any{"type": "a.b", "tenant": "cus_42"}).want(t, http.StatusAccepted, nil)
	b.kill(t)
	type listed struct {
		Tenants []tenant.Summary `json:"tenants"`
		Next    string           `json:"next"`
	}
	var page listed
	b.do(t, "GET", "/v1/tenants?limit=1", nil).want(t, http.StatusOK, &page)
	if len(page.Tenants) != 1 || page.Tenants[0].ID != "cus_42" || page.Tenants[0].Endpoints != 1 || page.Tenants[0].DeadLetters != 1 || page.Next != "cus_42" {
		t.Fatalf("first page %+v", page)
	}
	var one tenant.Summary
	b.do(t, "GET", "/v1/tenants/cus_42", nil).want(t, http.StatusOK, &one)
	if one.ID != "cus_42" || one.Name != "Acme Inc" || one.Endpoints != 1 || one.DeadLetters != 1 {
		t.Fatalf("GET /v1/tenants/cus_42 = %+v, want its endpoint and its dead letter counted", one)
	}
	after := page.Next
	page = listed{}
	b.do(t, "GET", "/v1/tenants?limit=1&after="+after, nil).want(t, http.StatusOK, &page)
	if len(page.Tenants) != 1 || page.Tenants[0].ID != "cus_43" || page.Next != "" {
		t.Fatalf("second page %+v", page)
	}
	b.do(t, "GET", "/v1/tenants?limit=0", nil).wantError(t, http.StatusBadRequest, "invalid_input", "limit")
	b.do(t, "GET", "/v1/tenants?after=%00", nil).wantError(t, http.StatusBadRequest, "invalid_input", "after")

	// Erasure answers the counts; nothing of the tenant is left.
	b.token(t, "cus_42")
	var erased tenant.Erased
	// A body is refused, and nothing is erased: DELETE takes none.
	b.do(t, "DELETE", "/v1/tenants/cus_42", `{"dry_run":true}`).wantError(t, http.StatusBadRequest, "invalid_input", "dry_run")
	if n := b.count(t, `SELECT count(*) FROM hookd.tenants WHERE id = 'cus_42'`); n != 1 {
		t.Fatal("a refused erase erased the tenant")
	}
	b.do(t, "DELETE", "/v1/tenants/cus_42", nil).want(t, http.StatusOK, &erased)
	if erased.Tenant != "cus_42" || erased.Endpoints != 1 || erased.Events != 1 || erased.Deliveries != 1 || erased.Attempts != 1 || erased.Tokens != 1 {
		t.Fatalf("erased %+v", erased)
	}
	b.do(t, "GET", "/v1/tenants/cus_42", nil).wantError(t, http.StatusNotFound, "not_found")
	b.do(t, "DELETE", "/v1/tenants/cus_42", nil).wantError(t, http.StatusNotFound, "not_found", "cus_42")
	var left int
	if err := b.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM hookd.endpoints WHERE tenant_id = 'cus_42')
		+ (SELECT count(*) FROM hookd.events WHERE tenant_id = 'cus_42') + (SELECT count(*) FROM hookd.deliveries WHERE tenant_id = 'cus_42')
		+ (SELECT count(*) FROM hookd.tenant_tokens WHERE tenant_id = 'cus_42')`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows of the erased tenant left (%v)", left, err)
	}
	var audited int
	if err := b.pool.QueryRow(context.Background(), `SELECT rows FROM hookd.audit_log WHERE action = 'erase' AND target = 'tenant cus_42'`).Scan(&audited); err != nil || audited != 5 {
		t.Fatalf("erasure audited with %d rows (%v)", audited, err)
	}
}
