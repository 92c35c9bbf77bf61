package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/signing"
)

type endpointWithHealth struct {
	endpoint.Endpoint
	Health *delivery.Health `json:"health"`
}

func TestEndpointsLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{tune: func(o *api.Options) { o.SecretOverlap = time.Hour }})

	var created endpoint.Endpoint
	r := b.do(t, "POST", "/v1/endpoints", map[string]any{
		"url": "https://example.com/hooks", "event_types": []string{"payment.*", "invoice.paid"},
		"description": "billing", "headers": map[string]string{"X-Team": "billing"}, "timeout": "5s",
	}).want(t, http.StatusCreated, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || !strings.HasPrefix(created.ID, "ep_") || !created.Enabled {
		t.Fatalf("created %+v", created)
	}
	if r.header.Get("Location") != "/v1/endpoints/"+created.ID {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}

	var list struct{ Endpoints []map[string]any }
	b.do(t, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, &list)
	if len(list.Endpoints) != 1 || list.Endpoints[0]["id"] != created.ID {
		t.Fatalf("list %+v", list)
	}
	if _, ok := list.Endpoints[0]["secret"]; ok {
		t.Fatal("list shows the secret")
	}

	var got endpointWithHealth
	r = b.do(t, "GET", "/v1/endpoints/"+created.ID, nil).want(t, http.StatusOK, &got)
	if got.Secret != "" || strings.Contains(string(r.body), created.Secret) {
		t.Fatal("show reveals the secret")
	}
	if got.Health == nil || got.Health.EndpointID != created.ID || got.Health.Last5m.SuccessRate != 1 {
		t.Fatalf("health %+v", got.Health)
	}
	if got.URL != created.URL || got.Headers["X-Team"] != endpoint.Redacted || time.Duration(got.Timeout) != 5*time.Second {
		t.Fatalf("show %+v", got)
	}

	var patched endpoint.Endpoint
	b.do(t, "PATCH", "/v1/endpoints/"+created.ID, map[string]any{
		"url": "https://example.org/new", "description": "moved", "enabled": false,
	}).want(t, http.StatusOK, &patched)
	if patched.URL != "https://example.org/new" || patched.Description != "moved" || patched.Enabled || patched.Secret != "" {
		t.Fatalf("patched %+v", patched)
	}

	var ep endpoint.Endpoint
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/enable", nil).want(t, http.StatusOK, &ep)
	if !ep.Enabled || ep.DisabledReason != "" {
		t.Fatalf("enabled %+v", ep)
	}
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/disable", map[string]string{"reason": "maintenance"}).want(t, http.StatusOK, &ep)
	if ep.Enabled || ep.DisabledReason != "maintenance" {
		t.Fatalf("disabled %+v", ep)
	}
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/enable", nil).want(t, http.StatusOK, &ep)
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/disable", nil).want(t, http.StatusOK, &ep)
	if ep.Enabled || ep.DisabledReason == "" {
		t.Fatalf("disabled without a reason %+v", ep)
	}

	// Rotation without a body: a new secret, the old one kept for the
	// configured overlap.
	var rotated endpoint.Endpoint
	before := time.Now()
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/rotate-secret", nil).want(t, http.StatusOK, &rotated)
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated %+v", rotated)
	}
	if exp := *rotated.PreviousSecretExpiresAt; exp.Before(before.Add(59*time.Minute)) || exp.After(before.Add(2*time.Hour)) {
		t.Fatalf("previous secret expires at %v, want about an hour from %v", exp, before)
	}
	// With a given secret and overlap.
	own, err := signing.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/rotate-secret",
		map[string]string{"secret": own, "overlap": "10m"}).want(t, http.StatusOK, &rotated)
	if rotated.Secret != own {
		t.Fatalf("rotated to %q", rotated.Secret)
	}
	b.do(t, "POST", "/v1/endpoints/"+created.ID+"/rotate-secret", map[string]string{"overlap": "soon"}).
		wantError(t, http.StatusBadRequest, "invalid_input", "duration")

	b.do(t, "DELETE", "/v1/endpoints/"+created.ID, nil).want(t, http.StatusNoContent, nil)
	b.do(t, "GET", "/v1/endpoints/"+created.ID, nil).wantError(t, http.StatusNotFound, "not_found", created.ID)
}

func TestEndpointValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	cases := []struct {
		name, body string
		parts      []string
	}{
		{"malformed JSON", `{"url": "https://example.com"`, []string{"body", "not valid JSON"}},
		{"not JSON", `url=https://example.com`, []string{"body", "not valid JSON"}},
		{"unknown field", `{"url": "https://example.com", "colour": "red"}`, []string{"colour", "not a known field"}},
		{"trailing data", `{"url": "https://example.com"} {"url": "x"}`, []string{"after the JSON object"}},
		{"wrong type", `{"url": 42}`, []string{"url", "must be a string"}},
		{"empty body", ``, []string{"body", "empty"}},
		{"no url", `{}`, []string{"url", "required"}},
		{"relative url", `{"url": "/hooks"}`, []string{"url", "absolute http:// or https://"}},
		{"ftp url", `{"url": "ftp://example.com/hooks"}`, []string{"url", "absolute http:// or https://"}},
		{"userinfo", `{"url": "https://user:pw@example.com/hooks"}`, []string{"url", "user info"}},
		{"fragment", `{"url": "https://example.com/hooks#part"}`, []string{"url", "fragment"}},
		{"no host", `{"url": "https:///hooks"}`, []string{"url", "no host"}},
		{"bad filter", `{"url": "https://example.com", "event_types": ["pay ment"]}`, []string{"event_types", "pay ment"}},
		{"bad header", `{"url": "https://example.com", "headers": {"Webhook-Signature": "x"}}`, []string{"headers", "set by hookd"}},
		{"bad timeout", `{"url": "https://example.com", "timeout": "1h"}`, []string{"timeout"}},
		{"weak secret", `{"url": "https://example.com", "secret": "short"}`, []string{"secret"}},
		// null and "" where the schema takes neither, which decoding read
		// as a field left out, an empty header and no tenant.
		{"null url", `{"url": null}`, []string{"url: must not be null"}},
		{"null description", `{"url": "https://example.com", "description": null}`, []string{"description: must not be null"}},
		{"null header", `{"url": "https://example.com", "headers": {"X-A": null}}`, []string{"headers.X-A: must not be null"}},
		{"null event type", `{"url": "https://example.com", "event_types": ["a", null]}`, []string{"event_types[1]: must not be null"}},
		{"empty tenant", `{"url": "https://example.com", "tenant": ""}`, []string{"tenant: is empty"}},
		{"null body", `null`, []string{"body: must be a JSON object, not null"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b.do(t, "POST", "/v1/endpoints", c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.parts...)
		})
	}
	t.Run("patch", func(t *testing.T) {
		t.Parallel()
		var ep endpoint.Endpoint
		b.do(t, "POST", "/v1/endpoints", map[string]string{"url": "https://example.com/p"}).want(t, http.StatusCreated, &ep)
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"url": "ftp://example.com"}`).wantError(t, http.StatusBadRequest, "invalid_input", "url")
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"secret": "x"}`).wantError(t, http.StatusBadRequest, "invalid_input", "secret", "not a known field")
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, `{"enabled": "yes"}`).wantError(t, http.StatusBadRequest, "invalid_input", "enabled", "boolean")
	})
}

func TestEndpointsUnknownID(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/endpoints/ep_missing", ""},
		{"PATCH", "/v1/endpoints/ep_missing", `{"description": "x"}`},
		{"DELETE", "/v1/endpoints/ep_missing", ""},
		{"POST", "/v1/endpoints/ep_missing/rotate-secret", ""},
		{"POST", "/v1/endpoints/ep_missing/enable", ""},
		{"POST", "/v1/endpoints/ep_missing/disable", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		b.do(t, c.method, c.path, body).wantError(t, http.StatusNotFound, "not_found", `"ep_missing"`)
	}
}

// hookd's own endpoints (the alert endpoint, intake forward targets) are
// exempt from the address guard, so the API must not let a caller point
// them elsewhere, rotate their secret or delete them.
func TestEndpointsOwnedByHookdAreNotChangedThroughTheAPI(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	if _, err := endpoint.Create(t.Context(), b.pool, endpoint.CreateParams{ID: "ep_hookd_alerts", Kind: endpoint.KindAlert,
		URL: "https://alerts.example/"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, body string }{
		{"PATCH", "/v1/endpoints/ep_hookd_alerts", `{"url": "http://169.254.169.254/latest/meta-data/"}`},
		{"DELETE", "/v1/endpoints/ep_hookd_alerts", ""},
		{"POST", "/v1/endpoints/ep_hookd_alerts/rotate-secret", ""},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		b.do(t, c.method, c.path, body).wantError(t, http.StatusBadRequest, "invalid_input", "hookd's own alert endpoint")
	}
	e, err := endpoint.Get(t.Context(), b.pool, "ep_hookd_alerts")
	if err != nil || e.URL != "https://alerts.example/" {
		t.Fatalf("alert endpoint after refused changes = %+v, %v", e, err)
	}
	// Disabling it through PATCH is allowed, as through /disable.
	var got endpoint.Endpoint
	b.do(t, "PATCH", "/v1/endpoints/ep_hookd_alerts", `{"enabled": false}`).want(t, http.StatusOK, &got)
	if got.Enabled || got.URL != "https://alerts.example/" {
		t.Fatalf("alert endpoint after PATCH enabled:false = %+v", got)
	}
}
