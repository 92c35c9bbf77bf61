package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/api"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/httpx"
	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/outbox"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const testKey = "test-key-0123456789abcdef"

type bundle struct {
	pool    *pgxpool.Pool
	pub     *outbox.Publisher
	metrics *metrics.Metrics
	srv     *httptest.Server
	key     string
	// strict: every request this bundle sends must match the OpenAPI
	// document (answers always must).
	strict bool
	// noSpec leaves the answers unchecked, for a test that mounts handlers
	// of its own in place of hookd's.
	noSpec bool
	// covered records the operations whose answers matched the document.
	covered sync.Map
}

type setupOpts struct {
	maxBody    int64
	maxPayload int64
	keys       []string
	tune       func(*api.Options)
	// noSpec: see bundle.noSpec.
	noSpec bool
}

// setup gives a test its own migrated database, a pool large enough for
// tests that hold several transactions open, and the API on a loopback
// server.
func setup(t testing.TB, o setupOpts) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, dbtest.NewDB(t), db.Options{MaxConns: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := &bundle{
		pool:    pool,
		pub:     outbox.NewPublisher(pool, outbox.Options{MaxPayloadBytes: o.maxPayload}),
		metrics: metrics.New(),
		key:     testKey,
		noSpec:  o.noSpec,
	}
	keys := o.keys
	if keys == nil {
		keys = []string{"other-key-0123456789abcdef", testKey}
	}
	opts := api.Options{
		Pool: pool, Publisher: b.pub, APIKeys: keys, MaxBodyBytes: o.maxBody,
		Metrics: b.metrics, Version: "test",
		// The intake's management routes, as hookd serve mounts them.
		Extra: func(mux *http.ServeMux) { inbox.APIRoutes(mux, inbox.APIDeps{Pool: pool, MaxBodyBytes: o.maxBody}) },
	}
	if o.tune != nil {
		o.tune(&opts)
	}
	b.srv = httptest.NewServer(api.New(opts))
	t.Cleanup(b.srv.Close)
	return b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the bundle's key. body is sent as is when it is
// a string, JSON-encoded otherwise, and not at all when nil. hdr holds
// header name/value pairs; "Authorization" there replaces the key, and a
// name given again adds a value (the header is sent that many times).
func (b *bundle) do(t *testing.T, method, path string, body any, hdr ...string) *response {
	t.Helper()
	var rd io.Reader
	var sent []byte
	switch v := body.(type) {
	case nil:
	case string:
		sent = []byte(v)
		rd = bytes.NewReader(sent)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		sent = j
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+b.key)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	given := map[string]bool{}
	for i := 0; i+1 < len(hdr); i += 2 {
		switch name := http.CanonicalHeaderKey(hdr[i]); {
		case given[name]:
			req.Header.Add(name, hdr[i+1])
		case hdr[i+1] == "":
			req.Header.Del(name)
		default:
			req.Header.Set(name, hdr[i+1])
		}
		given[http.CanonicalHeaderKey(hdr[i])] = true
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !b.noSpec {
		if op := spec(t).check(t, req, sent, resp.StatusCode, resp.Header, out, b.strict); op != "" {
			b.covered.Store(op, true)
		}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: out}
}

// want fails the test unless the status is status, and decodes the body
// into v when v is not nil.
func (r *response) want(t *testing.T, status int, v any) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
	return r
}

// wantError fails the test unless the answer is an error with status and
// code whose message contains each of parts.
func (r *response) wantError(t *testing.T, status int, code string, parts ...string) {
	t.Helper()
	var e httpx.ErrorBody
	r.want(t, status, &e)
	if e.Error.Code != code {
		t.Fatalf("code %q, want %q; body: %s", e.Error.Code, code, r.body)
	}
	for _, p := range parts {
		if !strings.Contains(e.Error.Message, p) {
			t.Fatalf("message %q does not contain %q", e.Error.Message, p)
		}
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
}
