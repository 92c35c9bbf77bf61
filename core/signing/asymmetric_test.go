package signing_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookd/hookd/core/signing"
)

// specVerifyV1a is a verifier written from the Standard Webhooks spec,
// independently of the package: the public key is "whpk_" and the
// base64 of a 32-byte ed25519 key; webhook-signature is a space-separated
// list of "<version>,<base64>"; a v1a entry is an ed25519 signature of
// "<webhook-id>.<webhook-timestamp>.<body>".
func specVerifyV1a(h http.Header, body []byte, publicKey string) bool {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(publicKey, "whpk_"))
	if err != nil || len(raw) != ed25519.PublicKeySize || !strings.HasPrefix(publicKey, "whpk_") {
		return false
	}
	content := []byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body))
	for _, entry := range strings.Split(h.Get("webhook-signature"), " ") {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1a" {
			continue
		}
		s, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && ed25519.Verify(ed25519.PublicKey(raw), content, s) {
			return true
		}
	}
	return false
}

func newSigningKey(t *testing.T) (string, string) {
	t.Helper()
	sk, pk, err := signing.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sk, "whsk_") || !strings.HasPrefix(pk, "whpk_") {
		t.Fatalf("keys %q %q", sk, pk)
	}
	if got, err := signing.PublicKey(sk); err != nil || got != pk {
		t.Fatalf("PublicKey = %q, %v; want %q", got, err, pk)
	}
	return sk, pk
}

func TestSignWithV1aVerifiesBySpec(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	sk, pk := newSigningKey(t)
	_, otherPK := newSigningKey(t)
	ts := time.Unix(1_750_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"a.b","created":"2025-01-01T00:00:00Z","data":{}}`)

	for _, c := range []struct {
		versions     string
		v1, v1a      bool
		signatureSet int
	}{
		{signing.VersionsHMAC, true, false, 1},
		{signing.VersionsBoth, true, true, 2},
		{signing.VersionsEd25519, false, true, 1},
	} {
		h := http.Header{}
		if err := signing.SignWith(h, "evt_1", ts, body, signing.Keys{Secrets: []string{secret}, SigningKey: sk, Versions: c.versions}); err != nil {
			t.Fatal(err)
		}
		sig := h.Get("webhook-signature")
		if n := len(strings.Fields(sig)); n != c.signatureSet || strings.Contains(sig, "v1,") != c.v1 || strings.Contains(sig, "v1a,") != c.v1a {
			t.Fatalf("%s: webhook-signature %q", c.versions, sig)
		}
		if got := specVerifyV1a(h, body, pk); got != c.v1a {
			t.Fatalf("%s: the spec's v1a verifier says %v", c.versions, got)
		}
		if specVerifyV1a(h, body, otherPK) {
			t.Fatalf("%s: verified with another endpoint's public key", c.versions)
		}
		if c.v1a && specVerifyV1a(h, append([]byte{' '}, body...), pk) {
			t.Fatalf("%s: a changed body verified", c.versions)
		}
		if c.v1 {
			wh, _ := standardwebhooks.NewWebhook(secret)
			if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
				t.Fatalf("%s: the Standard Webhooks library refuses v1: %v", c.versions, err)
			}
		}
		// hookd's own family is signed in every case.
		if !stripeStyleVerify(h.Get("X-Webhook-Signature"), body, secret) {
			t.Fatalf("%s: X-Webhook-Signature does not verify", c.versions)
		}
	}
	if err := signing.SignWith(http.Header{}, "evt_1", ts, body, signing.Keys{Secrets: []string{secret}, Versions: signing.VersionsBoth}); err == nil {
		t.Fatal("v1a without a signing key was signed")
	}
}

// TestVerifyStandardV1aWithAPublicKey: a standard source whose secret is
// a whpk_ public key accepts requests signed v1a by its key, and refuses
// a changed body, another id, or another key.
func TestVerifyStandardV1aWithAPublicKey(t *testing.T) {
	t.Parallel()
	sk, pk := newSigningKey(t)
	otherSK, _ := newSigningKey(t)
	now := time.Unix(1_750_000_000, 0)
	body := []byte(`{"type":"a.b"}`)
	sign := func(key, id string) http.Header {
		h := http.Header{}
		if err := signing.SignWith(h, id, now, body, signing.Keys{Secrets: []string{newSecret(t)}, SigningKey: key, Versions: signing.VersionsEd25519}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	res, err := signing.Verify(signing.SchemeStandard, sign(sk, "msg_1"), body, []string{newSecret(t), pk}, time.Minute, now)
	if err != nil || res.EventID != "msg_1" || res.SecretIndex != 1 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	moved := sign(sk, "msg_1")
	moved.Set("webhook-id", "msg_2")
	for name, c := range map[string]struct {
		h    http.Header
		body []byte
	}{
		"changed body": {sign(sk, "msg_1"), []byte(`{"type":"a.c"}`)},
		"another id":   {moved, body},
		"another key":  {sign(otherSK, "msg_1"), body},
	} {
		var ve *signing.VerifyError
		if _, err := signing.Verify(signing.SchemeStandard, c.h, c.body, []string{pk}, time.Minute, now); !errors.As(err, &ve) {
			t.Errorf("%s: Verify = %v, want a rejection", name, err)
		}
	}
	if _, err := signing.Verify(signing.SchemeStandard, sign(sk, "m"), body, []string{"whpk_short"}, time.Minute, now); err == nil || errors.As(err, new(*signing.VerifyError)) {
		t.Fatalf("a malformed public key: %v, want a configuration error", err)
	}
}
