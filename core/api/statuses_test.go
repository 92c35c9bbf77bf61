package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsTheErrorsOfEveryRoute sends every operation of the
// document the errors every route can answer, whatever its handler: an
// unknown query parameter (400, on every /v1 route) and, to every route
// that is not a GET, a body over http.max_body_bytes (413, whether the
// route takes fields or none). bundle.do holds each answer to the
// document, which must list its status (kin-openapi refuses one it does
// not list), so an operation missing either fails here.
func TestOpenAPIDocumentsTheErrorsOfEveryRoute(t *testing.T) {
	t.Parallel()
	const maxBody = 512
	b := setup(t, setupOpts{maxBody: maxBody})
	b.do(t, "PUT", "/v1/tenants/cus_A", nil).want(t, http.StatusCreated, nil)
	ids := strings.NewReplacer("{id}", "1", "{token_id}", "tok_none", "{name}", "shop", "{source}", "shop")
	big := `{"x":"` + strings.Repeat("a", 2*maxBody) + `"}`
	for _, op := range spec(t).operations() {
		method, tmpl, _ := strings.Cut(op, " ")
		path := ids.Replace(tmpl)
		if strings.HasPrefix(path, "/v1/tenants/1") {
			path = strings.Replace(path, "/v1/tenants/1", "/v1/tenants/cus_A", 1)
		}
		if strings.HasPrefix(path, "/v1/") && path != "/v1/openapi.json" {
			var body any
			if method != "GET" {
				body = "{}"
			}
			b.do(t, method, path+"?no_such_parameter=1", body).
				wantError(t, http.StatusBadRequest, "invalid_input", "no_such_parameter: is not a query parameter of "+op)
		}
		if method != "GET" && !strings.HasPrefix(path, "/in/") {
			b.do(t, method, path, big).wantError(t, http.StatusRequestEntityTooLarge, "too_large", "http.max_body_bytes")
		}
	}

	// A method no operation of the path has: 405 with Allow, as the
	// shared MethodNotAllowed response says (no operation can list it).
	notAllowed := spec(t).doc.Components.Responses["MethodNotAllowed"]
	if notAllowed == nil || notAllowed.Value == nil || notAllowed.Value.Headers["Allow"] == nil {
		t.Fatal("openapi.yaml has no MethodNotAllowed response with Allow")
	}
	schema := notAllowed.Value.Content.Get("application/json").Schema.Value
	for tmpl, item := range spec(t).doc.Paths.Map() {
		if strings.HasPrefix(tmpl, "/in/") {
			continue // the intake is mounted by hookd serve, not here
		}
		method := "PUT"
		for _, m := range []string{"PUT", "PATCH", "DELETE", "POST"} {
			if item.GetOperation(m) == nil {
				method = m
				break
			}
		}
		path := ids.Replace(tmpl)
		r := b.do(t, method, path, nil)
		r.wantError(t, http.StatusMethodNotAllowed, "method_not_allowed", method+" is not allowed on "+path)
		var decoded any
		if err := json.Unmarshal(r.body, &decoded); err != nil || schema.VisitJSON(decoded) != nil {
			t.Errorf("%s %s: the 405 does not match openapi.yaml's MethodNotAllowed: %s", method, path, r.body)
		}
		if r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", method, path)
		}
	}
	if t.Failed() {
		return
	}
	for _, op := range spec(t).operations() {
		if _, ok := b.covered.Load(op); !ok && !strings.HasPrefix(op, "GET /") && !strings.HasPrefix(op, "POST /in/") {
			t.Errorf("%s: no answer matched openapi.yaml", op)
		}
	}
}
