package signing_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/core/signing"
)

func newSecret(t *testing.T) string {
	t.Helper()
	s, err := signing.GenerateSecret()
	if err != nil {
		t.Fatalf("GenerateSecret: %v", err)
	}
	return s
}

// stripeStyleVerify is an independent verifier written from Stripe's
// documented scheme: split the header on ",", take t and every v1, and
// compare HMAC-SHA256(secret, "<t>.<body>") in hex.
func stripeStyleVerify(header string, body []byte, secret string) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		kv := strings.SplitN(part, "=", 2)
		if len(kv) != 2 {
			return false
		}
		switch kv[0] {
		case "t":
			ts = kv[1]
		case "v1":
			sigs = append(sigs, kv[1])
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

func TestSignHeaders(t *testing.T) {
	t.Parallel()

	secret := newSecret(t)
	ts := time.Unix(1_700_000_000, 0)
	h := http.Header{}
	if err := signing.Sign(h, "evt_1", ts, []byte(`{"id":"evt_1"}`), []string{secret}); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	for name, want := range map[string]string{
		"X-Webhook-ID": "evt_1", "X-Webhook-Timestamp": "1700000000",
		"webhook-id": "evt_1", "webhook-timestamp": "1700000000",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := h.Get("X-Webhook-Signature"); !strings.HasPrefix(got, "t=1700000000,v1=") || strings.Count(got, "v1=") != 1 {
		t.Errorf("X-Webhook-Signature = %q, want t=1700000000,v1=<hex>", got)
	}
	if got := h.Get("webhook-signature"); !strings.HasPrefix(got, "v1,") || strings.Contains(got, " ") {
		t.Errorf("webhook-signature = %q, want one v1,<base64>", got)
	}
}

func TestSignVerifiesWithStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()

	oldSecret, newSec := newSecret(t), newSecret(t)
	body := []byte(`{"id":"evt_2","type":"order.paid","data":{"n":1}}`)
	for _, tc := range []struct {
		name    string
		secrets []string
	}{
		{"one secret", []string{newSec}},
		{"rotation", []string{newSec, oldSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if err := signing.Sign(h, "evt_2", time.Now(), body, tc.secrets); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if n := len(strings.Fields(h.Get("webhook-signature"))); n != len(tc.secrets) {
				t.Fatalf("webhook-signature has %d signatures, want %d", n, len(tc.secrets))
			}
			for i, secret := range tc.secrets {
				wh, err := standardwebhooks.NewWebhook(secret)
				if err != nil {
					t.Fatalf("NewWebhook: %v", err)
				}
				if err := wh.Verify(body, h); err != nil {
					t.Errorf("secret %d: library Verify = %v", i, err)
				}
				if err := wh.Verify(append([]byte(nil), append(body, ' ')...), h); err == nil {
					t.Errorf("secret %d: library accepted a tampered body", i)
				}
			}
			wh, _ := standardwebhooks.NewWebhook(newSecret(t))
			if err := wh.Verify(body, h); err == nil {
				t.Error("library accepted a signature under an unrelated secret")
			}
		})
	}
}

func TestSignVerifiesWithStripeScheme(t *testing.T) {
	t.Parallel()

	oldSecret, newSec := newSecret(t), newSecret(t)
	body := []byte(`{"id":"evt_3"}`)
	ts := time.Unix(1_700_000_123, 0)
	h := http.Header{}
	if err := signing.Sign(h, "evt_3", ts, body, []string{newSec, oldSecret}); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	header := h.Get("X-Webhook-Signature")
	if !strings.HasPrefix(header, "t="+strconv.FormatInt(ts.Unix(), 10)+",") || strings.Count(header, ",v1=") != 2 {
		t.Fatalf("X-Webhook-Signature = %q, want t=<unix>,v1=<a>,v1=<b>", header)
	}
	for i, secret := range []string{newSec, oldSecret} {
		if !stripeStyleVerify(header, body, secret) {
			t.Errorf("secret %d: independent Stripe-scheme verifier rejected %q", i, header)
		}
	}
	if stripeStyleVerify(header, []byte(`{"id":"evt_4"}`), newSec) {
		t.Error("independent verifier accepted a tampered body")
	}
	if stripeStyleVerify(header, body, newSecret(t)) {
		t.Error("independent verifier accepted an unrelated secret")
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	t.Parallel()

	good := newSecret(t)
	now := time.Now()
	tests := []struct {
		name    string
		h       http.Header
		id      string
		secrets []string
		wantErr string
	}{
		{"nil header", nil, "evt", []string{good}, "header map is nil"},
		{"empty id", http.Header{}, "", []string{good}, "event id is empty"},
		{"id with newline", http.Header{}, "evt\r\nX-Evil: 1", []string{good}, "printable ASCII"},
		{"no secrets", http.Header{}, "evt", nil, "no secrets"},
		{"bad second secret", http.Header{}, "evt", []string{good, "hunter2"}, "secret 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := signing.Sign(tt.h, tt.id, now, []byte("{}"), tt.secrets)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Sign = %v, want error containing %q", err, tt.wantErr)
			}
			if tt.h != nil && len(tt.h) != 0 {
				t.Fatalf("Sign set headers despite failing: %v", tt.h)
			}
		})
	}
}
