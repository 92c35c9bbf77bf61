package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/hookd/hookd/core/testkit"
)

// v1aValid is a receiver's check written from the Standard Webhooks spec:
// some "v1a,<base64>" entry of webhook-signature is an ed25519 signature,
// under the whpk_ public key, of "<webhook-id>.<webhook-timestamp>.<body>".
func v1aValid(h http.Header, body []byte, whpk string) bool {
	pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(whpk, "whpk_"))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	msg := []byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body))
	for _, entry := range strings.Fields(h.Get("webhook-signature")) {
		if sig, ok := strings.CutPrefix(entry, "v1a,"); ok {
			if raw, err := base64.StdEncoding.DecodeString(sig); err == nil && ed25519.Verify(pub, msg, raw) {
				return true
			}
		}
	}
	return false
}

type captured struct {
	h    http.Header
	body []byte
}

// TestAsymmetricSignaturesEndToEnd: an endpoint opted in to v1a through
// the API gets a whpk_ public key; the deliveries `hookd serve` makes to
// it carry a v1a signature a spec-written verifier accepts with that key
// (next to v1 while both are on, alone after), and its whsk_ key is stored
// sealed, never shown.
func TestAsymmetricSignaturesEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var mu sync.Mutex
	var got []captured
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.Header.Clone(), b})
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	cfg := testConfig(t)
	cfg.API.Keys = []string{slowKey}
	cfg.Delivery.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s, d := startServer(t, cfg)
	call := func(method, path, body string, v any) int {
		req, _ := http.NewRequest(method, "http://"+s.Addr()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+slowKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if v != nil {
			_ = json.Unmarshal(raw, v)
		}
		if bytes.Contains(raw, []byte("whsk_")) {
			t.Fatalf("%s %s shows a signing key: %s", method, path, raw)
		}
		return resp.StatusCode
	}
	var ep struct {
		ID, Signatures string
		PublicKey      string `json:"public_key"`
	}
	if st := call("POST", "/v1/endpoints", `{"url":"`+rcv.URL+`/h","signatures":"v1,v1a"}`, &ep); st != 201 ||
		!strings.HasPrefix(ep.PublicKey, "whpk_") || ep.Signatures != "v1,v1a" {
		t.Fatalf("create: %d %+v", st, ep)
	}
	deliver := func(id string) captured {
		t.Helper()
		if st := call("POST", "/v1/events", `{"id":"`+id+`","type":"a.b","data":{"n":1}}`, nil); st != 202 {
			t.Fatalf("publish %s: %d", id, st)
		}
		var c captured
		testkit.Eventually(t, "the delivery of "+id, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, g := range got {
				if g.h.Get("webhook-id") == id {
					c = g
					return true
				}
			}
			return false
		})
		return c
	}
	both := deliver("evt_both")
	if !v1aValid(both.h, both.body, ep.PublicKey) || !strings.Contains(both.h.Get("webhook-signature"), "v1,") {
		t.Fatalf("during the migration: webhook-signature %q, want v1 and a valid v1a", both.h.Get("webhook-signature"))
	}
	var patched struct {
		PublicKey string `json:"public_key"`
	}
	if st := call("PATCH", "/v1/endpoints/"+ep.ID, `{"signatures":"v1a"}`, &patched); st != 200 || patched.PublicKey != ep.PublicKey {
		t.Fatalf("patch to v1a: %d, public key %q (want it kept: %q)", st, patched.PublicKey, ep.PublicKey)
	}
	only := deliver("evt_only")
	if sig := only.h.Get("webhook-signature"); !v1aValid(only.h, only.body, ep.PublicKey) || strings.Contains(sig, "v1,") {
		t.Fatalf("v1a only: webhook-signature %q", sig)
	}
	var stored string
	if err := d.Pool.QueryRow(ctx, `SELECT signing_key FROM hookd.endpoints WHERE id = $1`, ep.ID).Scan(&stored); err != nil ||
		!strings.HasPrefix(stored, "hks1:") {
		t.Fatalf("stored signing key %.12s... (%v), want it sealed", stored, err)
	}
}
