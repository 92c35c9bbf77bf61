package endpoint_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/signing"
	"github.com/hookd/hookd/core/validate"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	ep, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://example.com/hooks", EventTypes: []string{"payment.*, invoice.paid"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.ID, "ep_") || !ep.Enabled || ep.Kind != endpoint.KindWebhook {
		t.Fatalf("endpoint = %+v", ep)
	}
	if err := signing.ValidateSecret(ep.Secret); err != nil {
		t.Fatalf("generated secret %q: %v", ep.Secret, err)
	}
	if got := strings.Join(ep.EventTypes, ","); got != "payment.*,invoice.paid" {
		t.Fatalf("event types = %q", got)
	}
	got, err := endpoint.Get(ctx, pool, ep.ID)
	if err != nil || got.URL != ep.URL || got.Secret != ep.Secret {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	cases := []struct {
		name  string
		p     endpoint.CreateParams
		field string
		msg   string
	}{
		{"missing url", endpoint.CreateParams{}, "url", "required"},
		{"relative", endpoint.CreateParams{URL: "/hooks"}, "url", "absolute"},
		{"ftp", endpoint.CreateParams{URL: "ftp://example.com/x"}, "url", "absolute"},
		{"no host", endpoint.CreateParams{URL: "https:///x"}, "url", "no host"},
		{"userinfo", endpoint.CreateParams{URL: "https://u:p@example.com/"}, "url", "user info"},
		{"fragment", endpoint.CreateParams{URL: "https://example.com/#frag"}, "url", "fragment"},
		{"port too big", endpoint.CreateParams{URL: "https://example.com:99999/"}, "url", "from 1 to 65535"},
		{"port 65536", endpoint.CreateParams{URL: "https://example.com:65536/"}, "url", "from 1 to 65535"},
		{"port zero", endpoint.CreateParams{URL: "https://example.com:0/"}, "url", "from 1 to 65535"},
		{"blank filter", endpoint.CreateParams{URL: "https://example.com/", EventTypes: []string{""}}, "event_types", "only empty entries"},
		{"bad filter", endpoint.CreateParams{URL: "https://example.com/", EventTypes: []string{"pay ment"}}, "event_types", "not an event type"},
		{"bad prefix", endpoint.CreateParams{URL: "https://example.com/", EventTypes: []string{"payment*"}}, "event_types", "not an event type"},
		{"bad secret", endpoint.CreateParams{URL: "https://example.com/", Secret: "hunter2"}, "secret", ""},
		{"reserved header", endpoint.CreateParams{URL: "https://example.com/", Headers: map[string]string{"webhook-signature": "x"}}, "headers", "set by hookd"},
		{"header newline", endpoint.CreateParams{URL: "https://example.com/", Headers: map[string]string{"X-A": "a\nb"}}, "headers.X-A", "line breaks"},
		{"negative rate", endpoint.CreateParams{URL: "https://example.com/", RateLimit: -1}, "rate_limit", ""},
	}
	for _, tc := range cases {
		_, err := endpoint.Create(ctx, pool, tc.p)
		var v *validate.Error
		if !errors.As(err, &v) || v.Field != tc.field || !strings.Contains(v.Message, tc.msg) {
			t.Errorf("%s: %v, want a validation error on %s mentioning %q", tc.name, err, tc.field, tc.msg)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM hookd.endpoints`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("endpoints after bad input = %d, %v; want 0", n, err)
	}
}

func TestUpdateListDelete(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	a, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://a.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://b.example/"}); err != nil {
		t.Fatal(err)
	}
	url, desc, types := "https://a2.example/in", "billing", []string{"invoice.*"}
	up, err := endpoint.Update(ctx, pool, a.ID, endpoint.UpdateParams{URL: &url, Description: &desc, EventTypes: &types})
	if err != nil {
		t.Fatal(err)
	}
	if up.URL != url || up.Description != desc || up.EventTypes[0] != "invoice.*" || up.Secret != a.Secret {
		t.Fatalf("updated = %+v", up)
	}
	bad := "nope"
	if _, err := endpoint.Update(ctx, pool, a.ID, endpoint.UpdateParams{URL: &bad}); !validate.Is(err) {
		t.Fatalf("bad update: %v", err)
	}
	if _, err := endpoint.Update(ctx, pool, "ep_missing", endpoint.UpdateParams{URL: &url}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	list, err := endpoint.List(ctx, pool, endpoint.ListParams{})
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %d, %v", len(list), err)
	}
	if err := endpoint.Delete(ctx, pool, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := endpoint.Delete(ctx, pool, a.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestDisableHoldsAndEnableResumes(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	ep, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://a.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data, fanned_out) VALUES ('e1', 'a.b', '{}', true);
		INSERT INTO hookd.queue (event_id, event_stored_at, endpoint_id, event_type, state)
		SELECT 'e1', stored_at, '`+ep.ID+`', 'a.b', 'pending' FROM hookd.events WHERE id = 'e1'`); err != nil {
		t.Fatal(err)
	}
	changed, err := endpoint.DisableIfEnabled(ctx, pool, ep.ID, "410 Gone")
	if err != nil || !changed {
		t.Fatalf("disable: %v, %v", changed, err)
	}
	if changed, _ := endpoint.DisableIfEnabled(ctx, pool, ep.ID, "again"); changed {
		t.Fatal("disabling a disabled endpoint reported a change")
	}
	got, _ := endpoint.Get(ctx, pool, ep.ID)
	if got.Enabled || got.DisabledReason != "410 Gone" || got.DisabledAt == nil {
		t.Fatalf("disabled endpoint = %+v (the first reason must stay)", got)
	}
	var state string
	if err := pool.QueryRow(ctx, `SELECT state FROM hookd.deliveries`).Scan(&state); err != nil || state != "held" {
		t.Fatalf("delivery state = %q, %v; want held", state, err)
	}
	if _, err := endpoint.Enable(ctx, pool, ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT state FROM hookd.deliveries`).Scan(&state); err != nil || state != "pending" {
		t.Fatalf("delivery state = %q, %v; want pending", state, err)
	}
}

func TestRotateSecretKeepsPreviousForOverlap(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	ep, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: "https://a.example/"})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := endpoint.RotateSecret(ctx, pool, ep.ID, "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	secrets := rot.Secrets(now)
	if len(secrets) != 2 || secrets[0] == ep.Secret || secrets[1] != ep.Secret {
		t.Fatalf("secrets during overlap = %v, want [new, old=%s]", secrets, ep.Secret)
	}
	if s := rot.Secrets(now.Add(2 * time.Hour)); len(s) != 1 || s[0] != rot.Secret {
		t.Fatalf("secrets after overlap = %v", s)
	}
	if _, err := endpoint.RotateSecret(ctx, pool, "ep_missing", "", 0); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("rotate unknown: %v", err)
	}
}

// MatchTypes (Go) and the SQL fan-out uses (an endpoint's match_types
// overlapping hookd.type_patterns of the type) agree.
func TestMatchTypesAgreesWithSQL(t *testing.T) {
	t.Parallel()
	ctx, pool := t.Context(), dbtest.NewPool(t)
	filters := [][]string{nil, {"*"}, {"payment.*"}, {"payment.succeeded"}, {"invoice.paid", "payment.*"}, {"pay.*"}}
	types := []string{"payment.succeeded", "payment.card.failed", "payment", "invoice.paid", "paymentx.y", "pay.x"}
	for _, f := range filters {
		for _, typ := range types {
			var sql bool
			arr := f
			if arr == nil {
				arr = []string{}
			}
			if err := pool.QueryRow(ctx, `SELECT (CASE WHEN cardinality($1::text[]) = 0 THEN ARRAY['*'] ELSE $1::text[] END)
				&& hookd.type_patterns($2)`, arr, typ).Scan(&sql); err != nil {
				t.Fatal(err)
			}
			if got := endpoint.MatchTypes(f, typ); got != sql {
				t.Errorf("filter %v type %q: Go %v, SQL %v", f, typ, got, sql)
			}
		}
	}
}
