package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/testkit"
)

// tenantToken is the answer of POST /v1/tenants/{id}/tokens.
type tenantToken struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Token  string `json:"token"`
}

// putTenant creates a tenant through the API.
func (b *bundle) putTenant(t *testing.T, id string) {
	t.Helper()
	b.do(t, "PUT", "/v1/tenants/"+id, map[string]any{"name": "Tenant " + id}).want(t, http.StatusCreated, nil)
}

// token makes a token for tenant id through the API.
func (b *bundle) token(t *testing.T, id string) tenantToken {
	t.Helper()
	var tok tenantToken
	b.do(t, "POST", "/v1/tenants/"+id+"/tokens", map[string]any{"name": "test"}).want(t, http.StatusCreated, &tok)
	if !strings.HasPrefix(tok.Token, "hkt_") || tok.Tenant != id {
		t.Fatalf("token %+v", tok)
	}
	return tok
}

// as sends a request with a tenant token instead of the API key.
func (b *bundle) as(t *testing.T, tok tenantToken, method, path string, body any) *response {
	t.Helper()
	return b.do(t, method, path, body, "Authorization", "Bearer "+tok.Token)
}

// tenantWorld is two tenants, each with a token, an endpoint made with
// that token, one dead delivery and one still pending, plus a tenant-less
// endpoint; a broadcast event reaches all three.
type tenantWorld struct {
	b            *bundle
	tokA, tokB   tenantToken
	epA, epB     endpoint.Endpoint
	plain        endpoint.Endpoint
	evA, evB     string
	deadA, deadB int64 // a dead delivery of each
	waitB        int64 // a pending delivery of B
	broadcast    string
}

func newTenantWorld(t *testing.T) *tenantWorld {
	t.Helper()
	w := &tenantWorld{b: setup(t, setupOpts{})}
	b := w.b
	b.putTenant(t, "cus_A")
	b.putTenant(t, "cus_B")
	w.tokA, w.tokB = b.token(t, "cus_A"), b.token(t, "cus_B")
	b.as(t, w.tokA, "POST", "/v1/endpoints", map[string]any{"url": "https://a.example/h", "event_types": []string{"pay.*"}}).
		want(t, http.StatusCreated, &w.epA)
	// A token may name its own tenant.
	b.as(t, w.tokB, "POST", "/v1/endpoints", map[string]any{"url": "https://b.example/h", "event_types": []string{"pay.*"}, "tenant": "cus_B"}).
		want(t, http.StatusCreated, &w.epB)
	w.plain = b.endpoint(t, "pay.*")
	if w.epA.Tenant != "cus_A" || w.epB.Tenant != "cus_B" || w.plain.Tenant != "" {
		t.Fatalf("endpoint tenants %q %q %q", w.epA.Tenant, w.epB.Tenant, w.plain.Tenant)
	}

	w.evA, w.evB = "evt_a1", "evt_b1"
	b.do(t, "POST", "/v1/events", map[string]any{"id": w.evA, "type": "pay.ok", "tenant": "cus_A"}).want(t, http.StatusAccepted, nil)
	b.do(t, "POST", "/v1/events", map[string]any{"id": w.evB, "type": "pay.ok", "tenant": "cus_B"}).want(t, http.StatusAccepted, nil)
	if n := b.kill(t); n != 2 {
		t.Fatalf("killed %d, want the two tenants' deliveries", n)
	}
	w.deadA, w.deadB = w.deliveryOf(t, w.evA, w.epA.ID), w.deliveryOf(t, w.evB, w.epB.ID)
	b.do(t, "POST", "/v1/events", map[string]any{"id": "evt_b2", "type": "pay.ok", "tenant": "cus_B"}).want(t, http.StatusAccepted, nil)
	w.waitB = w.deliveryOf(t, "evt_b2", w.epB.ID)
	w.broadcast = "evt_all"
	var pub publishAnswer
	b.do(t, "POST", "/v1/events", map[string]any{"id": w.broadcast, "type": "pay.notice", "broadcast": true}).
		want(t, http.StatusAccepted, &pub)
	if pub.Deliveries != 3 {
		t.Fatalf("broadcast made %d deliveries, want 3", pub.Deliveries)
	}
	return w
}

func (w *tenantWorld) deliveryOf(t *testing.T, eventID, endpointID string) int64 {
	t.Helper()
	var id int64
	if err := w.b.pool.QueryRow(context.Background(), `SELECT id FROM hookd.deliveries WHERE event_id = $1 AND endpoint_id = $2`,
		eventID, endpointID).Scan(&id); err != nil {
		t.Fatalf("delivery of %s to %s: %v", eventID, endpointID, err)
	}
	return id
}

// snapshot is everything of tenant B a request could change, and the
// audit trail but for A's token's own entries.
func (w *tenantWorld) snapshot(t *testing.T) string {
	t.Helper()
	var s string
	err := w.b.pool.QueryRow(context.Background(), `SELECT concat_ws('|',
		(SELECT string_agg(concat_ws(',', id, url, description, enabled, secret, updated_at), ';' ORDER BY id) FROM hookd.endpoints WHERE tenant_id = 'cus_B'),
		(SELECT string_agg(concat_ws(',', id, state, attempts, replays, next_attempt_at), ';' ORDER BY id) FROM hookd.deliveries WHERE tenant_id = 'cus_B'),
		(SELECT count(*) FROM hookd.events WHERE tenant_id = 'cus_B'),
		(SELECT count(*) FROM hookd.audit_log WHERE NOT (actor_kind = 'tenant' AND actor_name = 'cus_A')),
		(SELECT count(*) FROM hookd.events),
		(SELECT string_agg(id, ',' ORDER BY id) FROM hookd.tenants),
		(SELECT string_agg(id, ',' ORDER BY id) FROM hookd.tenant_tokens))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTenantTokenSeesOnlyItsTenant: every route a tenant token may use,
// tried with A's token on B's objects, answers 404 exactly as for an id
// that does not exist, and changes nothing; lists and bulk replays are
// limited to A, and naming another tenant (or one that does not exist,
// alike) is a 400 naming the field.
func TestTenantTokenSeesOnlyItsTenant(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	b := w.b
	before := w.snapshot(t)
	epB, dB := w.epB.ID, strconv.FormatInt(w.deadB, 10)
	waitB := strconv.FormatInt(w.waitB, 10)
	for _, c := range []struct {
		method, path string
		body         any
		kind, id     string
	}{
		{"GET", "/v1/endpoints/" + epB, nil, "endpoint", epB},
		{"PATCH", "/v1/endpoints/" + epB, map[string]any{"description": "taken over"}, "endpoint", epB},
		{"DELETE", "/v1/endpoints/" + epB, nil, "endpoint", epB},
		{"POST", "/v1/endpoints/" + epB + "/rotate-secret", nil, "endpoint", epB},
		{"POST", "/v1/endpoints/" + epB + "/enable", nil, "endpoint", epB},
		{"POST", "/v1/endpoints/" + epB + "/disable", map[string]any{"reason": "x"}, "endpoint", epB},
		{"GET", "/v1/events/" + w.evB, nil, "event", w.evB},
		{"GET", "/v1/deliveries/" + dB, nil, "delivery", dB},
		{"POST", "/v1/deliveries/" + dB + "/replay", nil, "delivery", dB},
		{"POST", "/v1/deliveries/" + waitB + "/skip", nil, "delivery", waitB},
	} {
		r := b.as(t, w.tokA, c.method, c.path, c.body)
		r.wantError(t, http.StatusNotFound, "not_found")
		var e struct{ Error struct{ Message string } }
		_ = json.Unmarshal(r.body, &e)
		if want := "no " + c.kind + " with id " + strconv.Quote(c.id); e.Error.Message != want {
			t.Errorf("%s %s: message %q, want %q (as for an id that does not exist)", c.method, c.path, e.Error.Message, want)
		}
	}
	// The same routes with an id that exists nowhere answer alike.
	b.as(t, w.tokA, "GET", "/v1/endpoints/ep_nowhere", nil).wantError(t, http.StatusNotFound, "not_found", `no endpoint with id "ep_nowhere"`)
	b.as(t, w.tokA, "GET", "/v1/deliveries/999999", nil).wantError(t, http.StatusNotFound, "not_found", `no delivery with id "999999"`)

	// Lists and bulk replays see A only; naming another tenant is refused,
	// with the same words for a tenant that does not exist.
	for _, other := range []string{"cus_B", "cus_nowhere"} {
		for _, path := range []string{"/v1/endpoints", "/v1/deliveries", "/v1/events", "/v1/deliveries?state=dead"} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			b.as(t, w.tokA, "GET", path+sep+"tenant="+other, nil).wantError(t, http.StatusBadRequest, "invalid_input",
				`tenant: is "`+other+`", but this tenant token acts for tenant "cus_A" only`)
		}
		b.as(t, w.tokA, "POST", "/v1/replay", map[string]any{"tenant": other, "dry_run": true}).
			wantError(t, http.StatusBadRequest, "invalid_input", `tenant: is "`+other+`"`)
		b.as(t, w.tokA, "POST", "/v1/endpoints", map[string]any{"url": "https://a.example/2", "tenant": other}).
			wantError(t, http.StatusBadRequest, "invalid_input", `tenant: is "`+other+`"`)
	}
	var eps struct{ Endpoints []endpoint.Endpoint }
	for _, q := range []string{"", "?tenant=cus_A"} {
		b.as(t, w.tokA, "GET", "/v1/endpoints"+q, nil).want(t, http.StatusOK, &eps)
		if len(eps.Endpoints) != 1 || eps.Endpoints[0].ID != w.epA.ID {
			t.Errorf("endpoints%s with A's token: %+v", q, eps.Endpoints)
		}
	}
	var page deliveryPage
	// Each state in each scope is read by a query of its own shape (see
	// delivery.Filter.newest).
	queries := []string{"", "?tenant=cus_A", "?endpoint_id=" + epB, "?event_id=" + w.evB, "?event_type=order.created"}
	for _, st := range delivery.States {
		queries = append(queries, "?state="+string(st), "?state="+string(st)+"&endpoint_id="+epB,
			"?state="+string(st)+"&tenant=cus_A", "?state="+string(st)+"&event_type=order.created")
	}
	for _, q := range queries {
		b.as(t, w.tokA, "GET", "/v1/deliveries"+q, nil).want(t, http.StatusOK, &page)
		for _, d := range page.Deliveries {
			if d.TenantID != "cus_A" || d.EndpointID != w.epA.ID {
				t.Errorf("deliveries%s with A's token shows %+v", q, d)
			}
		}
	}
	var rr struct{ Matched, Replayed int64 }
	for _, body := range []map[string]any{{"endpoint_id": epB}, {"event_id": w.evB}, {"tenant": "cus_A", "endpoint_id": epB}} {
		b.as(t, w.tokA, "POST", "/v1/replay", body).want(t, http.StatusOK, &rr)
		if rr.Matched != 0 {
			t.Errorf("replay %v with A's token matched %d", body, rr.Matched)
		}
	}
	var feed feedAnswer
	b.as(t, w.tokA, "GET", "/v1/events?tenant=cus_A", nil).want(t, http.StatusOK, &feed)
	for _, ev := range feed.Events {
		if ev.Tenant != "cus_A" && !ev.Broadcast {
			t.Errorf("feed with A's token shows %+v", ev)
		}
	}
	// A broadcast event shows with A's deliveries only.
	var shown struct {
		Deliveries []delivery.Delivery `json:"deliveries"`
	}
	b.as(t, w.tokA, "GET", "/v1/events/"+w.broadcast, nil).want(t, http.StatusOK, &shown)
	if len(shown.Deliveries) != 1 || shown.Deliveries[0].EndpointID != w.epA.ID {
		t.Errorf("broadcast event with A's token shows deliveries %+v", shown.Deliveries)
	}

	if after := w.snapshot(t); after != before {
		t.Fatalf("B's data or the audit trail changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestTenantTokenOwnSlice: A's token lists, shows, changes and replays
// A's objects, and each change is audited with the token as actor.
func TestTenantTokenOwnSlice(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	b := w.b
	epA, dA := w.epA.ID, strconv.FormatInt(w.deadA, 10)
	b.as(t, w.tokA, "GET", "/v1/endpoints/"+epA, nil).want(t, http.StatusOK, nil)
	b.as(t, w.tokA, "PATCH", "/v1/endpoints/"+epA, map[string]any{"description": "mine"}).want(t, http.StatusOK, nil)
	b.as(t, w.tokA, "POST", "/v1/endpoints/"+epA+"/disable", nil).want(t, http.StatusOK, nil)
	b.as(t, w.tokA, "POST", "/v1/endpoints/"+epA+"/enable", nil).want(t, http.StatusOK, nil)
	var rot endpoint.Endpoint
	b.as(t, w.tokA, "POST", "/v1/endpoints/"+epA+"/rotate-secret", nil).want(t, http.StatusOK, &rot)
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == w.epA.Secret {
		t.Errorf("rotated secret %q", rot.Secret)
	}
	var ev struct {
		Event      struct{ ID, Tenant string }
		Deliveries []delivery.Delivery
	}
	b.as(t, w.tokA, "GET", "/v1/events/"+w.evA, nil).want(t, http.StatusOK, &ev)
	if ev.Event.Tenant != "cus_A" || len(ev.Deliveries) != 1 {
		t.Errorf("own event %+v", ev)
	}
	var det deliveryDetail
	b.as(t, w.tokA, "GET", "/v1/deliveries/"+dA, nil).want(t, http.StatusOK, &det)
	if len(det.Attempts) != 1 {
		t.Errorf("own delivery's attempts: %+v", det.Attempts)
	}
	var replayed delivery.Delivery
	b.as(t, w.tokA, "POST", "/v1/deliveries/"+dA+"/replay", nil).want(t, http.StatusOK, &replayed)
	if replayed.State != delivery.StatePending || replayed.Replays != 1 {
		t.Errorf("replayed %+v", replayed)
	}
	b.kill(t) // both dead again (B's pending one too)
	var rr struct{ Matched, Replayed int64 }
	b.as(t, w.tokA, "POST", "/v1/replay", map[string]any{}).want(t, http.StatusOK, &rr)
	if rr.Replayed != 2 { // A's event and the broadcast one, both dead to A's endpoint
		t.Errorf("bulk replay with A's token re-queued %d, want A's 2", rr.Replayed)
	}
	b.as(t, w.tokA, "POST", "/v1/deliveries/"+dA+"/skip", nil).want(t, http.StatusOK, &replayed)
	if replayed.State != delivery.StateSkipped {
		t.Errorf("skipped %+v", replayed)
	}
	b.as(t, w.tokA, "DELETE", "/v1/endpoints/"+epA, nil).want(t, http.StatusNoContent, nil)

	var trail []struct{ ActorKind, ActorID, ActorName, Action, Target string }
	rows, err := b.pool.Query(context.Background(), `SELECT actor_kind, actor_id, actor_name, action, target FROM hookd.audit_log
		WHERE actor_kind = 'tenant' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e struct{ ActorKind, ActorID, ActorName, Action, Target string }
		if err := rows.Scan(&e.ActorKind, &e.ActorID, &e.ActorName, &e.Action, &e.Target); err != nil {
			t.Fatal(err)
		}
		if e.ActorName == "cus_A" {
			trail = append(trail, e)
		}
	}
	var actions []string
	for _, e := range trail {
		if e.ActorID != w.tokA.ID {
			t.Errorf("audit entry %+v names another actor than A's token %s", e, w.tokA.ID)
		}
		actions = append(actions, e.Action)
	}
	want := "create,edit,disable,enable,rotate_secret,replay,replay,skip,delete"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audited %s, want %s", got, want)
	}
}

// TestTenantTokenOutsideItsSlice: a tenant token on any route outside its
// slice answers 403 before the body is read, and nothing changes.
func TestTenantTokenOutsideItsSlice(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	b := w.b
	before := w.snapshot(t)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/events", `{"type":"pay.ok","tenant":"cus_A"}`},
		{"POST", "/v1/events/batch", `{"events":[{"type":"pay.ok"}]}`},
		{"PUT", "/v1/tenants/cus_A", `{"name":"mine now"}`},
		{"PUT", "/v1/tenants/cus_C", ``},
		{"GET", "/v1/tenants", ``},
		{"GET", "/v1/tenants/cus_A", ``},
		{"GET", "/v1/tenants/cus_B", ``},
		{"DELETE", "/v1/tenants/cus_A", ``},
		{"DELETE", "/v1/tenants/cus_B", ``},
		{"POST", "/v1/tenants/cus_A/tokens", `{}`},
		{"GET", "/v1/tenants/cus_A/tokens", ``},
		{"DELETE", "/v1/tenants/cus_B/tokens/" + w.tokB.ID, ``},
		{"GET", "/v1/sources", ``},
		{"POST", "/v1/sources", `{"name":"x","scheme":"standard","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}`},
		{"GET", "/v1/inbox", ``},
		{"POST", "/v1/inbox/replay", `{}`},
		{"GET", "/v1/intake/stats", ``},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		b.as(t, w.tokA, c.method, c.path, body).wantError(t, http.StatusForbidden, "forbidden", "tenant token")
	}
	// Before the body: a request announcing one is answered at once, and
	// its connection closed.
	conn, err := net.Dial("tcp", b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(testkit.Timeout))
	if _, err := io.WriteString(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+w.tokA.Token+
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("announced body: %d, want 403", resp.StatusCode)
	}
	if rest, err := io.ReadAll(rd); err != nil || len(rest) != 0 {
		t.Fatalf("after the 403 the connection is still open (read %q: %v)", rest, err)
	}
	if after := w.snapshot(t); after != before {
		t.Fatalf("a refused request changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// TestTenantTokenRevokedOrExpired: a revoked or expired token answers 401
// on every route, even those of its slice; the others keep working.
func TestTenantTokenRevokedOrExpired(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	b := w.b
	spare := b.token(t, "cus_A")
	b.do(t, "DELETE", "/v1/tenants/cus_A/tokens/"+w.tokA.ID, nil).want(t, http.StatusNoContent, nil)
	b.do(t, "DELETE", "/v1/tenants/cus_A/tokens/"+w.tokA.ID, nil).wantError(t, http.StatusNotFound, "not_found", w.tokA.ID)
	// B's token cannot be revoked under A.
	b.do(t, "DELETE", "/v1/tenants/cus_A/tokens/"+w.tokB.ID, nil).wantError(t, http.StatusNotFound, "not_found")
	b.as(t, w.tokB, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, nil)

	var exp tenantToken
	b.do(t, "POST", "/v1/tenants/cus_A/tokens", map[string]any{"expires_in": "1h"}).want(t, http.StatusCreated, &exp)
	b.as(t, exp, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, nil)
	if _, err := b.pool.Exec(context.Background(), `UPDATE hookd.tenant_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, exp.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok  tenantToken
		want string
	}{{w.tokA, "not valid"}, {exp, "expired"}, {tenantToken{Token: "hkt_" + strings.Repeat("x", 43)}, "not valid"}} {
		for _, route := range [][2]string{{"GET", "/v1/endpoints"}, {"GET", "/v1/endpoints/" + w.epA.ID}, {"POST", "/v1/replay"},
			{"GET", "/v1/events"}, {"POST", "/v1/events"}, {"GET", "/v1/tenants"}} {
			r := b.as(t, c.tok, route[0], route[1], nil)
			r.wantError(t, http.StatusUnauthorized, "unauthorized", c.want)
		}
	}
	b.as(t, spare, "GET", "/v1/endpoints/"+w.epA.ID, nil).want(t, http.StatusOK, nil)

	// The token list shows no secret.
	var list struct{ Tokens []map[string]any }
	r := b.do(t, "GET", "/v1/tenants/cus_A/tokens", nil).want(t, http.StatusOK, &list)
	if len(list.Tokens) != 2 || strings.Contains(string(r.body), spare.Token) || strings.Contains(string(r.body), "hkt_") {
		t.Errorf("token list %s", r.body)
	}
}

// TestTenantTokenEndpointsMeetTheAddressGuard: an endpoint made or moved
// with a tenant token to a loopback, private or metadata address is
// refused like any other, naming delivery.allowed_networks.
func TestTenantTokenEndpointsMeetTheAddressGuard(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	b := w.b
	before := w.snapshot(t)
	for _, u := range []string{"http://127.0.0.1:9/x", "http://[::1]/", "http://localhost/", "http://169.254.169.254/latest", "http://10.1.2.3/"} {
		b.as(t, w.tokA, "POST", "/v1/endpoints", map[string]any{"url": u}).
			wantError(t, http.StatusBadRequest, "invalid_input", "url", "delivery.allowed_networks")
		b.as(t, w.tokA, "PATCH", "/v1/endpoints/"+w.epA.ID, map[string]any{"url": u}).
			wantError(t, http.StatusBadRequest, "invalid_input", "url", "delivery.allowed_networks")
	}
	var eps struct{ Endpoints []endpoint.Endpoint }
	b.as(t, w.tokA, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, &eps)
	if len(eps.Endpoints) != 1 || eps.Endpoints[0].URL != "https://a.example/h" {
		t.Fatalf("A's endpoints after refusals: %+v", eps.Endpoints)
	}
	if after := w.snapshot(t); after != before {
		t.Fatalf("refusals changed something:\nbefore %s\nafter  %s", before, after)
	}
}

// TestScopedFeedWhileBothTenantsPublish: polling the feed with A's token
// while A and B publish concurrently returns each of A's events (and the
// broadcasts) exactly once and none of B's.
func TestScopedFeedWhileBothTenantsPublish(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.putTenant(t, "cus_A")
	b.putTenant(t, "cus_B")
	tokA := b.token(t, "cus_A")
	const perTenant, broadcasts = 150, 10
	want := map[string]bool{}
	for i := range perTenant {
		want[fmt.Sprintf("a_%d", i)] = true
	}
	for i := range broadcasts {
		want[fmt.Sprintf("all_%d", i)] = true
	}
	errs := make(chan error, 3)
	publish := func(prefix, tenant string, n int, broadcast bool) {
		for i := 0; i < n; {
			size := min(1+i%5, n-i) // one to five events in one transaction
			evs := make([]outbox.Event, size)
			for k := range evs {
				evs[k] = outbox.Event{ID: fmt.Sprintf("%s_%d", prefix, i+k), Type: "x.y", Tenant: tenant, Broadcast: broadcast}
			}
			if _, err := b.pub.PublishBatch(context.Background(), nil, evs); err != nil {
				errs <- err
				return
			}
			i += size
		}
		errs <- nil
	}
	go publish("a", "cus_A", perTenant, false)
	go publish("b", "cus_B", perTenant, false)
	go publish("all", "", broadcasts, true)

	seen := map[string]int{}
	cursor := ""
	poll := func() int {
		var page feedAnswer
		b.as(t, tokA, "GET", "/v1/events?limit=7&after="+cursor, nil).want(t, http.StatusOK, &page)
		for _, ev := range page.Events {
			seen[ev.ID]++
		}
		cursor = page.NextCursor
		return len(page.Events)
	}
	done := 0
	for done < 3 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
			done++
		default:
			poll()
		}
	}
	// Everything is committed: read to the end (events show once every
	// older transaction on the shared server has ended).
	testkit.Eventually(t, "A's events in its feed", func() bool {
		poll()
		return len(seen) >= len(want)
	})
	for poll() > 0 {
	}
	for id, n := range seen {
		if !want[id] {
			t.Errorf("A's feed shows %s", id)
		} else if n != 1 {
			t.Errorf("A's feed shows %s %d times", id, n)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("A's feed showed %d distinct events, want %d", len(seen), len(want))
	}
}
