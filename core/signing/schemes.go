package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// verifyHookd checks X-Webhook-Signature as Sign writes it.
func verifyHookd(h http.Header, body []byte, secrets []string) (Result, error) {
	sig := h.Get(HeaderSignature)
	if sig == "" {
		return Result{}, missing(HeaderSignature)
	}
	id := h.Get(HeaderID)
	if id == "" {
		return Result{}, missing(HeaderID)
	}
	t, ts, candidates, err := parseTV(sig, HeaderSignature)
	if err != nil {
		return Result{}, err
	}
	if hts := h.Get(HeaderTimestamp); hts != "" {
		if other, ok := parseUnix(hts); !ok || !other.Equal(ts) {
			return Result{}, reject(ReasonTimeMismatch)
		}
	}
	i := matchAny(secrets, candidates, func(s string) []byte { return macStripe([]byte(s), t, body) })
	if i < 0 {
		return Result{}, reject(ReasonNoMatch)
	}
	// The signature covers the body but not X-Webhook-ID, and the id is
	// what deduplication keys on: a captured request sent again under a
	// new id must not pass. hookd's envelope {"id","type","created","data"}
	// carries the id in the signed body, so for an envelope the header
	// must agree. A body of another shape (an endpoint with body_format
	// "data") may have no id of its own: then the Standard Webhooks
	// signature hookd sends with it, which covers the id, must verify for
	// that same id, or, without it, the body's top-level "id" must be the
	// header's.
	switch signed, ok := envelopeID(body); {
	case ok && signed != id:
		return Result{}, reject(ReasonIDMismatch)
	case ok:
	case h.Get(HeaderStandardSignature) != "":
		if err := verifyHookdID(h, id, t, body, secrets); err != nil {
			return Result{}, err
		}
	default:
		if own, err := bodyEventID(body); err != nil || own != id {
			return Result{}, reject(ReasonIDUnsigned)
		}
	}
	return Result{EventID: id, Timestamp: ts, SecretIndex: i}, nil
}

// verifyHookdID checks that webhook-signature signs X-Webhook-ID (as
// webhook-id) and the timestamp t of X-Webhook-Signature, under one of
// secrets used as Standard Webhooks keys.
func verifyHookdID(h http.Header, id, t string, body []byte, secrets []string) error {
	if h.Get(HeaderStandardID) != id {
		return reject(ReasonIDMismatch)
	}
	if h.Get(HeaderStandardTimestamp) != t {
		return reject(ReasonTimeMismatch)
	}
	candidates, _, err := parseStandardSignatures(h.Get(HeaderStandardSignature))
	if err != nil {
		return err
	}
	i := matchAny(secrets, candidates, func(s string) []byte {
		key, err := standardKey(s)
		if err != nil {
			return nil // a secret that is no whsec_ key cannot sign this one
		}
		return macStandard(key, id, t, body)
	})
	if i < 0 {
		return reject(ReasonNoMatch)
	}
	return nil
}

// verifyStripe checks Stripe-Signature; the event id is in the body.
func verifyStripe(h http.Header, body []byte, secrets []string) (Result, error) {
	sig := h.Get(HeaderStripeSignature)
	if sig == "" {
		return Result{}, missing(HeaderStripeSignature)
	}
	t, ts, candidates, err := parseTV(sig, HeaderStripeSignature)
	if err != nil {
		return Result{}, err
	}
	i := matchAny(secrets, candidates, func(s string) []byte { return macStripe([]byte(s), t, body) })
	if i < 0 {
		return Result{}, reject(ReasonNoMatch)
	}
	id, err := bodyEventID(body)
	if err != nil {
		return Result{}, err
	}
	return Result{EventID: id, Timestamp: ts, SecretIndex: i}, nil
}

// parseTV reads a Stripe-style "t=<unix>,v1=<hex>,..." header: exactly one
// t, at least one v1; other keys (v0, future versions) are ignored. A v1
// that is not hex can never match and is dropped.
func parseTV(value, header string) (t string, ts time.Time, candidates [][]byte, err error) {
	seenT := false
	seenV1 := false
	for item := range strings.SplitSeq(value, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return "", time.Time{}, nil, malformed(header)
		}
		switch k {
		case "t":
			if seenT {
				return "", time.Time{}, nil, malformed(header)
			}
			seenT = true
			t = v
		case "v1":
			seenV1 = true
			if mac, err := hex.DecodeString(v); err == nil {
				candidates = append(candidates, mac)
			}
		}
	}
	if !seenT || !seenV1 {
		return "", time.Time{}, nil, malformed(header)
	}
	ts, ok := parseUnix(t)
	if !ok {
		return "", time.Time{}, nil, malformed(header)
	}
	return t, ts, candidates, nil
}

// verifyStandard checks the Standard Webhooks headers: v1 signatures
// against whsec_ secrets (HMAC-SHA256), v1a signatures against whpk_
// public keys (ed25519), both over "<id>.<t>.<body>".
func verifyStandard(h http.Header, body []byte, secrets []string) (Result, error) {
	id := h.Get(HeaderStandardID)
	if id == "" {
		return Result{}, missing(HeaderStandardID)
	}
	t := h.Get(HeaderStandardTimestamp)
	if t == "" {
		return Result{}, missing(HeaderStandardTimestamp)
	}
	sig := h.Get(HeaderStandardSignature)
	if sig == "" {
		return Result{}, missing(HeaderStandardSignature)
	}
	ts, ok := parseUnix(t)
	if !ok {
		return Result{}, malformed(HeaderStandardTimestamp)
	}
	v1, v1a, err := parseStandardSignatures(sig)
	if err != nil {
		return Result{}, err
	}
	i := matchAny(secrets, v1, func(s string) []byte {
		if strings.HasPrefix(s, PublicKeyPrefix) {
			return nil // a public key verifies v1a, below
		}
		key, _ := standardKey(s) // checkArgs has checked it decodes
		return macStandard(key, id, t, body)
	})
	if i < 0 {
		i = matchPublicKeys(secrets, v1a, signedContent(id, t, body))
	}
	if i < 0 {
		return Result{}, reject(ReasonNoMatch)
	}
	return Result{EventID: id, Timestamp: ts, SecretIndex: i}, nil
}

// matchPublicKeys returns the index of the first whpk_ key among secrets
// under which one of the v1a candidates is a valid ed25519 signature of
// content, or -1.
func matchPublicKeys(secrets []string, candidates [][]byte, content []byte) int {
	if len(candidates) == 0 {
		return -1
	}
	for i, s := range secrets {
		pub, err := parsePublicKey(s)
		if err != nil {
			continue
		}
		for _, c := range candidates {
			if ed25519.Verify(pub, content, c) {
				return i
			}
		}
	}
	return -1
}

// parseStandardSignatures reads "v1,<b64> v1a,<b64> ...": entries without
// a version are malformed, versions other than v1 and v1a are ignored, and
// a signature that is not base64 can never match and is dropped.
func parseStandardSignatures(value string) (v1, v1a [][]byte, err error) {
	seen := false
	for _, entry := range strings.Fields(value) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok {
			return nil, nil, malformed(HeaderStandardSignature)
		}
		if version != "v1" && version != "v1a" {
			continue
		}
		seen = true
		raw, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		if version == "v1" {
			v1 = append(v1, raw)
		} else {
			v1a = append(v1a, raw)
		}
	}
	if !seen {
		return nil, nil, reject("no v1 or v1a signature in " + HeaderStandardSignature + " header")
	}
	return v1, v1a, nil
}

// verifyGitHub checks X-Hub-Signature-256; GitHub signs no timestamp, so
// replay protection rests on deduping X-GitHub-Delivery.
func verifyGitHub(h http.Header, body []byte, secrets []string) (Result, error) {
	sig := h.Get(HeaderGitHubSignature)
	if sig == "" {
		return Result{}, missing(HeaderGitHubSignature)
	}
	id := h.Get(HeaderGitHubDelivery)
	if id == "" {
		return Result{}, missing(HeaderGitHubDelivery)
	}
	hexMAC, ok := strings.CutPrefix(strings.TrimSpace(sig), "sha256=")
	if !ok {
		return Result{}, malformed(HeaderGitHubSignature)
	}
	mac, err := hex.DecodeString(hexMAC)
	if err != nil {
		return Result{}, malformed(HeaderGitHubSignature)
	}
	i := matchAny(secrets, [][]byte{mac}, func(s string) []byte { return macBody([]byte(s), body) })
	if i < 0 {
		return Result{}, reject(ReasonNoMatch)
	}
	return Result{EventID: id, SecretIndex: i}, nil
}

// envelopeID returns the id of a hookd envelope body, and false for any
// other body.
func envelopeID(body []byte) (string, bool) {
	var v struct {
		ID      *string          `json:"id"`
		Type    *string          `json:"type"`
		Created *string          `json:"created"`
		Data    *json.RawMessage `json:"data"`
	}
	if json.Unmarshal(body, &v) != nil || v.ID == nil || v.Type == nil || v.Created == nil || v.Data == nil {
		return "", false
	}
	return *v.ID, true
}
