package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/testkit"
)

// TestPublishOutOfRangeCreatedKeepsTheFeedWorking: a "created" time that
// lands outside years 0000-9999 once stored (9999-12-31T23:59:59-01:00 is
// year 10000 in UTC) is refused naming the field, nothing is stored, and
// the feed and the event lookups keep answering for everyone.
func TestPublishOutOfRangeCreatedKeepsTheFeedWorking(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.endpoint(t)
	b.do(t, "POST", "/v1/events", `{"id":"evt_ok","type":"a.b"}`).want(t, http.StatusAccepted, nil)

	b.do(t, "POST", "/v1/events", `{"id":"evt_far","type":"a.b","created":"9999-12-31T23:59:59-01:00"}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "created")
	// The zero time is no default to fall back on: it is out of range too.
	b.do(t, "POST", "/v1/events", `{"id":"evt_far","type":"a.b","created":"0001-01-01T00:00:00Z"}`).
		wantError(t, http.StatusBadRequest, "invalid_input", "created")
	if n := b.countEvents(t, "evt_far"); n != 0 {
		t.Fatalf("the refused event was stored (%d rows)", n)
	}

	// The feed shows an event once every older transaction on the server
	// has ended (other tests share it), so poll.
	testkit.Eventually(t, "the feed to show evt_ok", func() bool {
		var page feedAnswer
		b.do(t, "GET", "/v1/events", nil).want(t, http.StatusOK, &page)
		if len(page.Events) > 1 || (len(page.Events) == 1 && page.Events[0].ID != "evt_ok") {
			t.Fatalf("feed %+v", page)
		}
		return len(page.Events) == 1
	})
	b.do(t, "GET", "/v1/events/evt_ok", nil).want(t, http.StatusOK, nil)
}

// TestBadTextIsRefusedNamingTheField: NUL and other bytes PostgreSQL
// cannot store, and numbers its columns cannot hold, are input errors
// (400 naming the field), not 500s, and nothing is written.
func TestBadTextIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	for _, c := range []struct{ name, method, path, body, field string }{
		{"NUL in description", "POST", "/v1/endpoints", `{"url":"https://example.com/a","description":"a\u0000b"}`, "description"},
		{"NUL in a header value", "POST", "/v1/endpoints", `{"url":"https://example.com/a","headers":{"X-Key":"a\u0000b"}}`, "headers.X-Key: must not contain control characters"},
		{"control in a header value", "POST", "/v1/endpoints", `{"url":"https://example.com/a","headers":{"X-Key":"a\u0007b"}}`, "headers.X-Key: must not contain control characters such as NUL or line breaks (found U+0007)"},
		{"a header twice in other case", "POST", "/v1/endpoints", `{"url":"https://example.com/a","headers":{"X-A":"1","x-a":"2"}}`, `headers: "X-A" and "x-a" are the same header`},
		{"a connection header", "POST", "/v1/endpoints", `{"url":"https://example.com/a","headers":{"Transfer-Encoding":"chunked"}}`, `headers: "Transfer-Encoding" is about the connection`},
		{"rate_limit over int32", "POST", "/v1/endpoints", `{"url":"https://example.com/a","rate_limit":2147483648}`, "rate_limit"},
		{"max_in_flight over int32", "POST", "/v1/endpoints", `{"url":"https://example.com/a","max_in_flight":2147483648}`, "max_in_flight"},
		{"NUL in a patched description", "PATCH", "/v1/endpoints/" + ep.ID, `{"description":"\u0000"}`, "description"},
		{"NUL in patched headers", "PATCH", "/v1/endpoints/" + ep.ID, `{"headers":{"X-A":"1","X-Key":"\u0000"}}`, "headers.X-Key: must not contain control characters"},
		{"patched rate_limit over int32", "PATCH", "/v1/endpoints/" + ep.ID, `{"rate_limit":9999999999}`, "rate_limit"},
		{"patched max_in_flight over int32", "PATCH", "/v1/endpoints/" + ep.ID, `{"max_in_flight":2147483648}`, "max_in_flight"},
		{"NUL in a disable reason", "POST", "/v1/endpoints/" + ep.ID + "/disable", `{"reason":"x\u0000"}`, "reason"},
		{"NUL in an event type", "POST", "/v1/events", `{"type":"a.b\u0000"}`, "type"},
		{"invalid UTF-8 in event data", "POST", "/v1/events", "{\"type\":\"a.b\",\"data\":{\"k\":\"\xff\xfe\"}}", "data"},
		{"null event data", "POST", "/v1/events", `{"type":"a.b","data":null}`, "data: is null"},
		{"a timeout not a duration", "POST", "/v1/endpoints", `{"url":"https://example.com/a","timeout":5}`, `timeout: must be a duration such as "15s" or "500ms", not 5`},
		{"a patched timeout not a duration", "PATCH", "/v1/endpoints/" + ep.ID, `{"timeout":"abc"}`, `timeout: must be a duration such as "15s" or "500ms", not "abc"`},
		{"a timeout under a millisecond", "PATCH", "/v1/endpoints/" + ep.ID, `{"timeout":"999us"}`, "timeout: 999µs is not a whole number of milliseconds"},
		{"a timeout of part of a millisecond", "POST", "/v1/endpoints", `{"url":"https://example.com/a","timeout":"1.0001s"}`, "timeout:"},
		// A value of the wrong kind is named down to the element.
		{"a header value not a string", "POST", "/v1/endpoints", `{"url":"http://127.0.0.1:1/x","headers":{"X-A":"1","X-B":2}}`, "headers.X-B: must be a string, not a number"},
		{"a patched header value not a string", "PATCH", "/v1/endpoints/" + ep.ID, `{"headers":{"X-B":{}}}`, "headers.X-B: must be a string, not an object"},
		{"an event type not a string", "POST", "/v1/endpoints", `{"url":"https://example.com/a","event_types":["a",1]}`, "event_types[1]: must be a string, not a number"},
		{"a header value too long", "POST", "/v1/endpoints", `{"url":"https://example.com/a","headers":{"X-Big":"` + strings.Repeat("v", 4097) + `"}}`, "headers.X-Big: is 4097 bytes, over the limit of 4096"},
		{"a patched event type not a string", "PATCH", "/v1/endpoints/" + ep.ID, `{"event_types":["a","b",true]}`, "event_types[2]: must be a string, not a bool"},
		{"a batch event's type not a string", "POST", "/v1/events/batch", `{"events":[{"type":"a.b"},{"type":["a"]}]}`, "events[1].type: must be a string, not an array"},
		// No field takes null: read as left out, it made a real replay of
		// {"dry_run":null} and a PUT of {"metadata":null} that did nothing.
		{"a null dry_run", "POST", "/v1/replay", `{"dry_run":null}`, "dry_run: must not be null"},
		{"a null tenant name", "PUT", "/v1/tenants/cus_null", `{"name":null}`, "name: must not be null"},
		{"a null tenant metadata", "PUT", "/v1/tenants/cus_null", `{"metadata":null}`, "metadata: must not be null"},
		{"a null token expiry", "POST", "/v1/tenants/cus_null/tokens", `{"expires_in":null}`, "expires_in: must not be null"},
		{"a null event id", "POST", "/v1/events", `{"type":"a.b","id":null}`, "id: must not be null"},
		{"a null event in a batch", "POST", "/v1/events/batch", `{"events":[{"type":"a.b"},null]}`, "events[1]: must not be null"},
		{"a null field of a batch event", "POST", "/v1/events/batch", `{"events":[{"type":"a.b","tenant":null}]}`, "events[0].tenant: must not be null"},
		{"a null secret", "POST", "/v1/endpoints/" + ep.ID + "/rotate-secret", `{"secret":null}`, "secret: must not be null"},
		{"a rotation overlap not a duration", "POST", "/v1/endpoints/" + ep.ID + "/rotate-secret", `{"overlap":"99999999999h"}`, "overlap: must be a duration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b.do(t, c.method, c.path, c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.field)
		})
	}
	var list struct{ Endpoints []endpoint.Endpoint }
	b.do(t, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, &list)
	if len(list.Endpoints) != 1 || list.Endpoints[0].Description != "" || !list.Endpoints[0].Enabled ||
		list.Endpoints[0].RateLimit != 0 || list.Endpoints[0].MaxInFlight != 0 || len(list.Endpoints[0].Headers) != 0 {
		t.Fatalf("a refused request wrote: %+v", list.Endpoints)
	}
	var events int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.events`).Scan(&events); err != nil || events != 0 {
		t.Fatalf("events stored: %d (%v)", events, err)
	}
}

// TestBadBytesInPathsAndQueries: %00, %ff and the overlong %C0%80 in a
// path id or a query parameter are 400s naming the parameter.
func TestBadBytesInPathsAndQueries(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, bad := range []string{"%00", "%ff", "%C0%80", "ep%00x"} {
		for _, c := range []struct{ method, path, body, field string }{
			{"GET", "/v1/endpoints/" + bad, "", "id"},
			{"PATCH", "/v1/endpoints/" + bad, `{"description":"x"}`, "id"},
			{"DELETE", "/v1/endpoints/" + bad, "", "id"},
			{"POST", "/v1/endpoints/" + bad + "/rotate-secret", "", "id"},
			{"POST", "/v1/endpoints/" + bad + "/enable", "", "id"},
			{"POST", "/v1/endpoints/" + bad + "/disable", "", "id"},
			{"GET", "/v1/events/" + bad, "", "id"},
			{"GET", "/v1/deliveries?endpoint_id=" + bad, "", "endpoint_id"},
			{"GET", "/v1/deliveries?event_id=" + bad, "", "event_id"},
			{"GET", "/v1/deliveries?event_type=" + bad, "", "event_type"},
			{"GET", "/v1/events?type=" + bad, "", "type"},
			{"GET", "/v1/events?after=" + bad, "", "after"},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			t.Run(c.method+" "+c.path, func(t *testing.T) {
				b.do(t, c.method, c.path, body).wantError(t, http.StatusBadRequest, "invalid_input", c.field)
			})
		}
	}
	for _, c := range []struct{ body, field string }{
		{`{"endpoint_id":"ep\u0000"}`, "endpoint_id"},
		{`{"event_id":"evt\u0000"}`, "event_id"},
		{`{"event_type":"a\u0000"}`, "event_type"},
	} {
		b.do(t, "POST", "/v1/replay", c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.field)
	}
}

// TestClientGoneMidBodyIsQuiet: a client that announces a body and
// disconnects halfway is not a server error: nothing is logged at ERROR
// and nothing is written.
func TestClientGoneMidBodyIsQuiet(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, setupOpts{tune: func(o *api.Options) { o.Logger = logger }})
	for _, path := range []string{"/v1/endpoints", "/v1/events"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(b.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"url\":\"https://exa", path, testKey)
		conn.Close()
		testkit.Eventually(t, "the request to be logged", func() bool {
			return strings.Contains(logs.String(), "path="+path+" ")
		})
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") {
		t.Fatalf("a client going away was logged as an error:\n%s", out)
	}
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM hookd.endpoints) + (SELECT count(*) FROM hookd.events)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows written: %d (%v)", n, err)
	}
}

// TestClientHalfClosedIsNoServerError: a client that sends its whole
// request and then closes its side of the connection (HTTP/1.0 clients,
// nc -N) has its request cancelled by the server; the answer it can
// still read is a 4xx saying so, not a 500 pointing at a log line that
// was never written, and a publish so cut writes nothing.
func TestClientHalfClosedIsNoServerError(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := setup(t, setupOpts{tune: func(o *api.Options) { o.Logger = logger }})
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/endpoints", ""},
		{"POST", "/v1/events", `{"type":"half.closed"}`},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(b.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s %s HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			c.method, c.path, testKey, len(c.body), c.body)
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s half-closed: %d %s, want no server error", c.method, c.path, resp.StatusCode, body)
		}
		if c.method == "POST" && resp.StatusCode >= 400 {
			var n int
			if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM hookd.events`).Scan(&n); err != nil || n != 0 {
				t.Errorf("the refused publish stored %d events (%v)", n, err)
			}
		}
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") {
		t.Fatalf("a client closing its side was logged as an error:\n%s", out)
	}
}

// TestDocumentedLimits: input past the documented limits is refused with
// a 400 naming the field, and nothing is written.
func TestDocumentedLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	manyTypes := make([]string, endpoint.MaxEventTypes+1)
	for i := range manyTypes {
		manyTypes[i] = fmt.Sprintf("t%d.x", i)
	}
	manyHeaders := map[string]string{}
	for i := range endpoint.MaxHeaders + 1 {
		manyHeaders[fmt.Sprintf("X-H%d", i)] = "v"
	}
	long := "https://example.com/" + strings.Repeat("a", endpoint.MaxURLBytes)
	for _, c := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"long url", "POST", "/v1/endpoints", map[string]any{"url": long}, "url"},
		{"long patched url", "PATCH", "/v1/endpoints/" + ep.ID, map[string]any{"url": long}, "url"},
		{"too many types", "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/a", "event_types": manyTypes}, "event_types"},
		{"long type", "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/a", "event_types": []string{strings.Repeat("a", 300)}}, "event_types"},
		{"too many headers", "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/a", "headers": manyHeaders}, "headers"},
		{"long header value", "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/a", "headers": map[string]string{"X-A": strings.Repeat("v", 5000)}}, "headers.X-A"},
		{"long description", "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/a", "description": strings.Repeat("d", 2000)}, "description"},
		{"rate_limit past the limit", "POST", "/v1/endpoints", map[string]any{"url": "https://example.com/a", "rate_limit": endpoint.MaxRateLimit + 1}, "rate_limit"},
		{"overlap to the year 2319", "POST", "/v1/endpoints/" + ep.ID + "/rotate-secret", map[string]any{"overlap": "2500000h"}, "overlap"},
		{"long reason", "POST", "/v1/endpoints/" + ep.ID + "/disable", map[string]any{"reason": strings.Repeat("r", 2000)}, "reason"},
		{"too many type filters in the feed", "GET", "/v1/events?type=" + strings.Join(manyTypes, ","), nil, "type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b.do(t, c.method, c.path, c.body).wantError(t, http.StatusBadRequest, "invalid_input", c.field+":")
		})
	}
	got, err := endpoint.Get(t.Context(), b.pool, ep.ID)
	if err != nil || got.URL != ep.URL || got.Secret != ep.Secret || !got.Enabled {
		t.Fatalf("a refused request changed the endpoint: %+v %v", got, err)
	}
}

// TestEndpointURLsTheGuardRefusesAreRefusedAtCreation: a URL aimed at a
// loopback, private or metadata address is refused when the endpoint is
// made or changed (naming delivery.allowed_networks), not only at every
// attempt; an allowed network is accepted.
func TestEndpointURLsTheGuardRefusesAreRefusedAtCreation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	for _, u := range []string{
		"http://127.0.0.1:9/x", "http://[::1]/x", "http://localhost/x", "http://2130706433/x", "http://0x7f.1/x",
		"http://[::ffff:127.0.0.1]/x", "http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/",
		"http://10.1.2.3/", "http://192.168.0.1/", "http://[fd00:ec2::254]/", "http://[64:ff9b::a9fe:a9fe]/",
	} {
		b.do(t, "POST", "/v1/endpoints", map[string]string{"url": u}).
			wantError(t, http.StatusBadRequest, "invalid_input", "url:", "delivery.allowed_networks")
		b.do(t, "PATCH", "/v1/endpoints/"+ep.ID, map[string]string{"url": u}).
			wantError(t, http.StatusBadRequest, "invalid_input", "url:", "delivery.allowed_networks")
	}
	var list struct{ Endpoints []endpoint.Endpoint }
	b.do(t, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, &list)
	if len(list.Endpoints) != 1 || list.Endpoints[0].URL != ep.URL {
		t.Fatalf("endpoints after refusals: %+v", list.Endpoints)
	}

	allowed := setup(t, setupOpts{tune: func(o *api.Options) {
		o.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}})
	allowed.do(t, "POST", "/v1/endpoints", map[string]string{"url": "http://127.0.0.1:9/x"}).want(t, http.StatusCreated, nil)
	allowed.do(t, "POST", "/v1/endpoints", map[string]string{"url": "http://10.0.0.1/x"}).
		wantError(t, http.StatusBadRequest, "invalid_input", "delivery.allowed_networks")

	// An address the guard lets through, spelled other than in dotted
	// decimal, is refused too: the dialer looks 0x7f000001 up as a name,
	// and every attempt failed with a DNS error.
	allowedEp := allowed.endpoint(t)
	for u, ip := range map[string]string{
		"http://0x7f000001/": "127.0.0.1", "http://0177.0.0.1/": "127.0.0.1", "http://127.1:9/x": "127.0.0.1",
		"https://0x08080808/": "8.8.8.8", "https://134744072/": "8.8.8.8",
	} {
		want := "write the address in dotted decimal (" + ip + ")"
		allowed.do(t, "POST", "/v1/endpoints", map[string]string{"url": u}).
			wantError(t, http.StatusBadRequest, "invalid_input", "url: ", want)
		allowed.do(t, "PATCH", "/v1/endpoints/"+allowedEp.ID, map[string]string{"url": u}).
			wantError(t, http.StatusBadRequest, "invalid_input", "url: ", want)
	}
	b.do(t, "POST", "/v1/endpoints", map[string]string{"url": "https://0x08080808/"}).
		wantError(t, http.StatusBadRequest, "invalid_input", "url: ", "dotted decimal (8.8.8.8)")
	var after struct{ Endpoints []endpoint.Endpoint }
	allowed.do(t, "GET", "/v1/endpoints", nil).want(t, http.StatusOK, &after)
	if len(after.Endpoints) != 2 {
		t.Fatalf("endpoints after refusals: %+v", after.Endpoints)
	}
}

// A query parameter a route does not take, or one given twice that is not
// a list, is a 400 naming it: a typo (?status= for ?state=) would
// otherwise look like a real, unfiltered answer. The parameters each route
// takes are those the OpenAPI document gives it.
func TestUnknownAndRepeatedQueryParameters(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	ep := b.endpoint(t)
	for _, c := range []struct{ path, want string }{
		{"/v1/deliveries?status=dead", "status: is not a query parameter of GET /v1/deliveries (it takes state, endpoint_id,"},
		{"/v1/deliveries?endpoint=" + ep.ID, "endpoint: is not a query parameter"},
		{"/v1/deliveries?state=dead&state=zzz", "state: is given 2 times; give it once"},
		{"/v1/deliveries?limit=5&limit=abc", "limit: is given 2 times"},
		{"/v1/endpoints/" + ep.ID + "?x=1", "x: is not a query parameter of GET /v1/endpoints/{id}, which takes none"},
		{"/v1/events?after=&cursor=1", "cursor: is not a query parameter of GET /v1/events"},
		// A query that does not parse would have lost its pairs silently
		// (url.Values drops them): an unfiltered answer again.
		{"/v1/deliveries?limit=5;state=dead", `query: "limit=5;state=dead" cannot be read: separate parameters with &, not ;`},
		{"/v1/deliveries?endpoint_id=" + ep.ID + "&%zz", `query: "%zz" cannot be read: invalid URL escape "%zz"`},
		{"/v1/deliveries?=1", `query: "=1" has no parameter name`},
	} {
		b.do(t, "GET", c.path, nil).wantError(t, http.StatusBadRequest, "invalid_input", c.want)
	}
	// A list may repeat; documented parameters pass.
	b.do(t, "GET", "/v1/events?type=a.b&type=c.*&limit=10", nil).want(t, http.StatusOK, nil)
	b.do(t, "GET", "/v1/deliveries?state=dead&endpoint_id="+ep.ID+"&limit=5", nil).want(t, http.StatusOK, nil)
	// Credentials come first: no key is still a 401.
	if r := b.do(t, "GET", "/v1/deliveries?status=dead", nil, "Authorization", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no key with an unknown parameter: %d, want 401", r.status)
	}
}

// With an API key, a tenant filter naming no tenant is a 404 naming it,
// as publishing for it is, rather than an empty answer hiding the typo.
func TestFilterByUnknownTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	for _, path := range []string{"/v1/endpoints?tenant=cus_typo", "/v1/deliveries?tenant=cus_typo", "/v1/events?tenant=cus_typo",
		"/v1/deliveries?state=dead&tenant=cus_typo"} {
		b.do(t, "GET", path, nil).wantError(t, http.StatusNotFound, "not_found", `tenant: tenant "cus_typo" does not exist`)
	}
	b.do(t, "POST", "/v1/replay", map[string]any{"tenant": "cus_typo", "dry_run": true}).
		wantError(t, http.StatusNotFound, "not_found", `tenant: tenant "cus_typo" does not exist`)
	b.putTenant(t, "cus_real")
	b.do(t, "GET", "/v1/deliveries?tenant=cus_real", nil).want(t, http.StatusOK, nil)
}
