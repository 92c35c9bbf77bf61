package inbox_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/hookd/hookd/core/inbox"
	"github.com/hookd/hookd/core/signing"
)

// The ed25519 pair the fuzz target's v1a source verifies with.
const (
	fuzzSigningKey = "whsk_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw="
	fuzzPublicKey  = "whpk_dVxMuSVsp83ErP3Gz+7ahJAX5bn5UU6ZGRvWfgsNQnY="
)

// FuzzIntake sends fuzzed signature headers, ids and bodies to
// /in/<source> for a source of every scheme (standard twice: with a whsec_
// secret and with a whpk_ public key). A sig of "sign" signs the fuzzed
// id and body correctly, now, for every scheme, so that authentic but odd
// requests (a NUL in the id, a body that is not JSON) reach the store.
// Whatever arrives is answered 200, 400, 401 or 413 in JSON, never a 500.
// The seed corpus is in testdata/fuzz/FuzzIntake; `go test -fuzz
// FuzzIntake` explores further.
func FuzzIntake(f *testing.F) {
	b := setup(f, inbox.HandlerOptions{MaxBodyBytes: 4096})
	for name, p := range map[string]inbox.CreateParams{
		"f-hookd":    {Scheme: "hookd", Secrets: []string{secretA}},
		"f-standard": {Scheme: "standard", Secrets: []string{secretA}},
		"f-v1a":      {Scheme: "standard", Secrets: []string{fuzzPublicKey}},
		"f-stripe":   {Scheme: "stripe", Secrets: []string{secretA}},
		"f-github":   {Scheme: "github", Secrets: []string{secretA}},
	} {
		p.Name = name
		b.source(f, p)
	}
	sources := []string{"f-hookd", "f-standard", "f-v1a", "f-stripe", "f-github"}
	f.Fuzz(func(t *testing.T, source int, sig, stdSig, ts, id string, body []byte) {
		name := sources[uint(source)%uint(len(sources))]
		h := http.Header{}
		if sig == "sign" {
			h = signedForEveryScheme(t, id, body)
			if h == nil {
				return // an id Sign refuses: no sender can make it
			}
		} else {
			for k, v := range map[string]string{
				"X-Webhook-Signature": sig, "X-Webhook-Timestamp": ts, "X-Webhook-ID": id,
				"webhook-signature": stdSig, "webhook-timestamp": ts, "webhook-id": id,
				"Stripe-Signature": sig, "X-Hub-Signature-256": sig, "X-GitHub-Delivery": id,
			} {
				if v != "" && httpguts.ValidHeaderFieldValue(v) {
					h.Set(k, v)
				}
			}
		}
		a := b.post(t, name, request{h, body})
		switch a.status {
		case http.StatusOK, http.StatusUnauthorized, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s: %d %v", name, a.status, a.body)
		}
	})
}

// signedForEveryScheme signs id and body, now, the way each scheme's
// sender would; nil when id cannot travel in a header.
func signedForEveryScheme(t *testing.T, id string, body []byte) http.Header {
	now := time.Now()
	h := http.Header{}
	if err := signing.SignWith(h, id, now, body, signing.Keys{Secrets: []string{secretA}, SigningKey: fuzzSigningKey,
		Versions: signing.VersionsBoth}); err != nil {
		return nil
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set("Stripe-Signature", "t="+ts+",v1="+hmacHex(secretA, ts+"."+string(body)))
	h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secretA, string(body)))
	h.Set("X-GitHub-Delivery", id)
	return h
}
