package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/validate"
)

// fuzzRoutes are the API's routes that read what a client sends: a body,
// a path id or a query. {id} is the fuzzed path segment.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/endpoints"},
	{"PATCH", "/v1/endpoints/{id}"},
	{"POST", "/v1/events"},
	{"GET", "/v1/events"},
	{"GET", "/v1/deliveries"},
	{"POST", "/v1/replay"},
	{"GET", "/v1/endpoints/{id}"},
	{"GET", "/v1/events/{id}"},
	{"POST", "/v1/endpoints/{id}/disable"},
	{"POST", "/v1/endpoints/{id}/rotate-secret"},
	{"GET", "/v1/deliveries/{id}"},
	{"POST", "/v1/deliveries/{id}/replay"},
	{"POST", "/v1/events/batch"},
	{"PUT", "/v1/tenants/{id}"},
	{"GET", "/v1/tenants"},
	{"POST", "/v1/tenants/{id}/tokens"},
	{"POST", "/v1/deliveries/{id}/skip"},
	{"DELETE", "/v1/tenants/{id}"},
	{"GET", "/v1/endpoints"},
}

// FuzzAPIRequests sends fuzzed bodies, path ids and queries to the real
// API on a real database: whatever a client sends, the answer is never a
// 500 (a client's input is answered 4xx naming the field), and always
// JSON. The seed corpus is in testdata/fuzz/FuzzAPIRequests; `go test
// -fuzz FuzzAPIRequests` explores further.
func FuzzAPIRequests(f *testing.F) {
	b := setup(f, setupOpts{})
	var ep struct{ ID string }
	req, _ := http.NewRequest("POST", b.srv.URL+"/v1/endpoints", bytes.NewReader([]byte(`{"url":"https://example.com/f"}`)))
	req.Header.Set("Authorization", "Bearer "+b.key)
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		f.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&ep)
	resp.Body.Close()
	if _, err := b.pub.Publish(f.Context(), outbox.Event{ID: "evt_fuzz", Type: "a.b"}); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, route int, id, query string, body []byte) {
		r := fuzzRoutes[uint(route)%uint(len(fuzzRoutes))]
		if id == "known" {
			id = ep.ID
		}
		path := r.path
		if i := bytes.Index([]byte(path), []byte("{id}")); i >= 0 {
			path = path[:i] + url.PathEscape(id) + path[i+4:]
		}
		target := b.srv.URL + path
		if query != "" {
			target += "?" + requestTarget(query)
		}
		req, err := http.NewRequest(r.method, target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Authorization", "Bearer "+b.key)
		if r.path == "/v1/events" && r.method == "POST" && id != "" && id != ep.ID && httpguts.ValidHeaderFieldValue(id) {
			req.Header.Set("Idempotency-Key", id)
		}
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, target, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", r.method, target, body, resp.StatusCode, out)
		}
		if resp.StatusCode != http.StatusNoContent && !json.Valid(out) {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", r.method, target, resp.StatusCode, out)
		}
	})
}

// requestTarget percent-encodes the bytes a request line cannot carry
// (spaces, controls, non-ASCII), keeping the rest of the query as the
// client wrote it, invalid escapes included.
func requestTarget(q string) string {
	var b []byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c <= 0x20 || c >= 0x7f || c == '#' {
			b = append(b, '%', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15])
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// FuzzCursor feeds after= values to the feed's cursor parser: it never
// panics, refuses with an input error naming "after", and what it accepts
// writes back to the same cursor. The seed corpus is in
// testdata/fuzz/FuzzCursor.
func FuzzCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		c, err := outbox.ParseCursor(s)
		if err != nil {
			var v *validate.Error
			if !errors.As(err, &v) || v.Field != "after" {
				t.Fatalf("%q: %v is not an input error on after", s, err)
			}
			return
		}
		again, err := outbox.ParseCursor(c.String())
		if err != nil || again != c {
			t.Fatalf("%q: %+v written as %q reads back as %+v, %v", s, c, c.String(), again, err)
		}
	})
}
